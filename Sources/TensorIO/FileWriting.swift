#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes `parts` one after another to a new file at `path` (replacing an existing one).
func writeFile(_ path: String, parts: [[UInt8]]) throws {
    let fail = ErrorContext(path: path)
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    if fd < 0 { throw fail("cannot create the file: \(systemMessage(errno))") }
    var closed = false
    defer { if !closed { close(fd) } }
    for part in parts {
        try part.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw fail("cannot write the file: \(systemMessage(errno))")
                }
                done += n
            }
        }
    }
    closed = true
    if close(fd) != 0 { throw fail("cannot finish writing the file: \(systemMessage(errno))") }
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
