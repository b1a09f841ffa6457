/// Scratch memory for one solve: typed buffers that are all freed when the arena goes away.
/// Only trivial element types (numbers, Bool) are stored, so nothing needs deinitializing.
final class Arena {
    private var blocks: [UnsafeMutableRawPointer] = []

    init() { blocks.reserveCapacity(24) }

    /// `count` elements, each set to `value`.
    func make<T>(_ count: Int, _ value: T) -> UnsafeMutablePointer<T> {
        let p = UnsafeMutablePointer<T>.allocate(capacity: max(count, 1))
        p.initialize(repeating: value, count: count)
        blocks.append(UnsafeMutableRawPointer(p))
        return p
    }

    /// `count` elements whose values the caller writes before reading.
    func uninitialized<T>(_ count: Int, of type: T.Type) -> UnsafeMutablePointer<T> {
        let p = UnsafeMutablePointer<T>.allocate(capacity: max(count, 1))
        blocks.append(UnsafeMutableRawPointer(p))
        return p
    }

    deinit { for b in blocks { b.deallocate() } }
}
