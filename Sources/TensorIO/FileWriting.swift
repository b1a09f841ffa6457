#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes `parts` one after another to a new file at `path`, replacing an existing one. The bytes go
/// to a temporary file beside `path` that is renamed over it once complete, so a failure (a full
/// disk, a size limit) leaves no half-written file: an existing file stays as it was, and the
/// temporary file is removed. A `path` that exists and is not a regular file (`/dev/stdout`, a FIFO)
/// is written directly; a symbolic link to a file keeps pointing to it.
func writeFile(_ given: String, parts: [[UInt8]]) throws {
    let fail = ErrorContext(path: given)
    // A symbolic link is replaced by what it points to, as opening it for writing would.
    var path = given
    var link = stat()
    if lstat(given, &link) == 0 && (link.st_mode & S_IFMT) == S_IFLNK, let resolved = realpath(given, nil) {
        path = String(cString: resolved)
        free(resolved)
    }
    var info = stat()
    if stat(path, &info) == 0 && (info.st_mode & S_IFMT) != S_IFREG && (info.st_mode & S_IFMT) != S_IFDIR {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        if fd < 0 { throw fail("cannot open the file for writing: \(systemMessage(errno))") }
        try writeAll(fd, parts, fail: fail, cleanup: {})
        return
    }
    let slash = path.lastIndex(of: "/")
    let folder = slash.map { String(path[...$0]) } ?? ""
    let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
    var temporary = ""
    var fd: Int32 = -1
    for attempt in 0..<100 {
        temporary = folder + "." + name + ".partial-\(getpid())-\(attempt)"
        fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd >= 0 || errno != EEXIST { break }
    }
    if fd < 0 { throw fail("cannot create the file: \(systemMessage(errno))") }
    let target = temporary
    try writeAll(fd, parts, fail: fail, cleanup: { _ = unlink(target) })
    if rename(temporary, path) != 0 {
        let code = errno
        _ = unlink(temporary)
        throw fail("cannot create the file: \(systemMessage(code))")
    }
}

/// Writes every part to `fd` and closes it; on an error runs `cleanup` and throws.
private func writeAll(_ fd: Int32, _ parts: [[UInt8]], fail: ErrorContext, cleanup: () -> Void) throws {
    for part in parts {
        var failure: Int32 = 0
        part.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                done += n
            }
        }
        if failure != 0 {
            close(fd)
            cleanup()
            throw fail("cannot write the file: \(systemMessage(failure))")
        }
    }
    if close(fd) != 0 {
        let code = errno
        cleanup()
        throw fail("cannot finish writing the file: \(systemMessage(code))")
    }
}

/// Little-endian byte encodings of arrays, for the writers.
public enum LittleEndianBytes {
    /// The bytes of `values` as F32.
    public static func of(_ values: [Float]) -> [UInt8] { encode(values.map { $0.bitPattern }) }
    /// The bytes of `values` as F64.
    public static func of(_ values: [Double]) -> [UInt8] { encode(values.map { $0.bitPattern }) }
    /// The bytes of `values` as I64.
    public static func of(_ values: [Int64]) -> [UInt8] { encode(values) }
    /// The bytes of `values` as I32.
    public static func of(_ values: [Int32]) -> [UInt8] { encode(values) }
    /// The bytes of `values` as 16-bit patterns (I16, or the bits of F16 / BF16 values).
    public static func of(_ values: [UInt16]) -> [UInt8] { encode(values) }

    private static func encode<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: values.count * MemoryLayout<T>.size)
        out.withUnsafeMutableBytes { raw in
            for (i, v) in values.enumerated() {
                raw.storeBytes(of: v.littleEndian, toByteOffset: i * MemoryLayout<T>.size, as: T.self)
            }
        }
        return out
    }
}
