/// Float32 data that stays valid while this object lives: either a view into a file's memory map
/// (which the buffer keeps alive) or memory the buffer owns and frees.
public final class FloatBuffer {
    /// The first element. Valid for `count` elements (and non-null even when `count` is 0).
    public let pointer: UnsafePointer<Float>
    /// The number of elements.
    public let count: Int
    /// True when `pointer` points into a file's memory map (no copy was made).
    public let isView: Bool
    private let owner: AnyObject?
    private let allocation: UnsafeMutablePointer<Float>?

    /// Copies `values` into memory this buffer owns.
    public init(copying values: [Float]) {
        let memory = UnsafeMutablePointer<Float>.allocate(capacity: max(values.count, 1))
        if !values.isEmpty {
            values.withUnsafeBufferPointer { memory.initialize(from: $0.baseAddress!, count: values.count) }
        }
        self.pointer = UnsafePointer(memory)
        self.count = values.count
        self.isView = false
        self.owner = nil
        self.allocation = memory
    }

    /// Takes ownership of `pointer`, which must come from `UnsafeMutablePointer<Float>.allocate`
    /// with a capacity of at least `count` (and at least 1); it is deallocated with the buffer.
    public init(owning pointer: UnsafeMutablePointer<Float>, count: Int) {
        self.pointer = UnsafePointer(pointer)
        self.count = max(count, 0)
        self.isView = false
        self.owner = nil
        self.allocation = pointer
    }

    /// Views `count` floats at `pointer`, which stay valid as long as `owner` lives;
    /// the buffer keeps `owner` alive.
    public init(viewing pointer: UnsafePointer<Float>, count: Int, keepingAlive owner: AnyObject) {
        self.pointer = pointer
        self.count = max(count, 0)
        self.isView = true
        self.owner = owner
        self.allocation = nil
    }

    deinit {
        allocation?.deallocate()
    }

    /// The elements as a buffer pointer (valid while this object lives).
    public var buffer: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: pointer, count: count) }

    /// The element at `index` (which must be in `0..<count`).
    public subscript(index: Int) -> Float {
        precondition(index >= 0 && index < count, "FloatBuffer index \(index) out of range 0..<\(count)")
        return pointer[index]
    }

    /// A copy of the elements as an array.
    public func toArray() -> [Float] { Array(buffer) }
}
