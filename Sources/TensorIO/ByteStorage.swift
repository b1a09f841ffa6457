#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Bytes that tensors point into: a read-only memory map of a file, or memory this object owns.
/// It unmaps or frees the memory when the last view, buffer or file referring to it goes away.
final class ByteStorage {
    /// The first byte.
    let base: UnsafeRawPointer
    /// The number of bytes.
    let count: Int
    private let mappedLength: Int
    private let allocation: UnsafeMutableRawPointer?

    /// All bytes as a buffer.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    private init(base: UnsafeRawPointer, count: Int, mappedLength: Int, allocation: UnsafeMutableRawPointer?) {
        self.base = base
        self.count = count
        self.mappedLength = mappedLength
        self.allocation = allocation
    }

    /// Takes over `pointer`, which must come from `malloc`/`realloc`; it is freed with `free`.
    convenience init(mallocated pointer: UnsafeMutableRawPointer, count: Int) {
        self.init(base: UnsafeRawPointer(pointer), count: count, mappedLength: 0, allocation: pointer)
    }

    /// Copies `bytes` into memory a new storage owns; `path` names the data in errors.
    static func copying(_ bytes: [UInt8], path: String) throws -> ByteStorage {
        guard let memory = malloc(max(bytes.count, 1)) else {
            throw TensorFileError(path: path, reason: "out of memory copying \(bytes.count) bytes")
        }
        bytes.withUnsafeBytes { raw in
            if let source = raw.baseAddress, raw.count > 0 { memory.copyMemory(from: source, byteCount: raw.count) }
        }
        return ByteStorage(mallocated: memory, count: bytes.count)
    }

    /// Maps the regular file at `path` read-only. Anything else (a directory, a FIFO, a device)
    /// is an error; it is opened non-blocking so that a FIFO without a writer cannot hang the reader.
    static func map(path: String) throws -> ByteStorage {
        let fail = ErrorContext(path: path)
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        if fd < 0 {
            throw fail("cannot open the file: \(systemMessage(errno))")
        }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) != 0 {
            throw fail("cannot read the file's status: \(systemMessage(errno))")
        }
        let kind = info.st_mode & S_IFMT
        if kind == S_IFDIR { throw fail("is a directory, not a tensor file") }
        if kind != S_IFREG { throw fail("is not a regular file (\(fileKind(kind)))") }
        let size = Int(info.st_size)
        if size == 0 { throw fail("file is empty") }
        // Every byte is read (validation checks each value), so the pages are mapped in one go rather
        // than faulted in one by one.
        #if os(Linux)
        let flags = MAP_PRIVATE | MAP_POPULATE
        #else
        let flags = MAP_PRIVATE
        #endif
        guard let pointer = mmap(nil, size, PROT_READ, flags, fd, 0),
              pointer != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw fail("cannot map the file into memory: \(systemMessage(errno))")
        }
        return ByteStorage(base: UnsafeRawPointer(pointer), count: size, mappedLength: size, allocation: nil)
    }

    deinit {
        if let allocation = allocation {
            free(allocation)
        } else if mappedLength > 0 {
            munmap(UnsafeMutableRawPointer(mutating: base), mappedLength)
        }
    }
}

/// A name for a file type from `st_mode & S_IFMT`.
private func fileKind(_ kind: mode_t) -> String {
    switch kind {
    case S_IFIFO: return "a FIFO"
    case S_IFCHR: return "a character device"
    case S_IFBLK: return "a block device"
    case S_IFSOCK: return "a socket"
    default: return "file type \(String(kind, radix: 8))"
    }
}

/// The C library's text for an `errno` value.
func systemMessage(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "error \(code)" }
    return String(cString: text)
}
