/// Scratch memory for one solve: typed buffers carved from a few large blocks (a bump allocator),
/// all freed when the arena goes away. Only trivial element types (numbers, Bool) are stored, so
/// nothing needs deinitializing.
final class Arena {
    private var blocks: [UnsafeMutableRawPointer] = []
    private var cursor: UnsafeMutableRawPointer?
    private var left = 0
    private var nextBlock: Int

    /// An arena whose first block holds `bytes` (more blocks follow as needed).
    init(bytes: Int = 1 << 15) { nextBlock = max(bytes, 4096) }

    /// `count` elements, each set to `value`.
    func make<T>(_ count: Int, _ value: T) -> UnsafeMutablePointer<T> {
        let p = uninitialized(count, of: T.self)
        p.initialize(repeating: value, count: count)
        return p
    }

    /// `count` elements whose values the caller writes before reading.
    func uninitialized<T>(_ count: Int, of type: T.Type) -> UnsafeMutablePointer<T> {
        let size = (max(count, 1) * MemoryLayout<T>.stride + 63) & ~63
        if size > left {
            let bytes = max(size, nextBlock)
            let block = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            blocks.append(block)
            cursor = block
            left = bytes
            nextBlock = min(bytes * 2, 1 << 24)
        }
        let p = cursor!
        cursor = p + size
        left -= size
        return p.bindMemory(to: T.self, capacity: max(count, 1))
    }

    deinit { for b in blocks { b.deallocate() } }
}
