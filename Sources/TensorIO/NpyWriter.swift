/// Writes `.npy` files (format 1.0, C order, little-endian), as `numpy.save` does.
public enum NpyWriter {
    /// Writes a 2-D float64 array of `rows × cols` values (row-major) to `path`.
    public static func write(doubles: [Double], rows: Int, cols: Int, to path: String) throws {
        try write(bytes: LittleEndianBytes.of(doubles), dtype: .f64, shape: [rows, cols], to: path)
    }

    /// Writes an array of any type that `.npy` can hold (not BF16) to `path`.
    public static func write(bytes: [UInt8], dtype: DType, shape: [Int], to path: String) throws {
        try writeFile(path, parts: [try encode(bytes: bytes, dtype: dtype, shape: shape, path: path)])
    }

    /// The bytes of a `.npy` file holding the array.
    public static func encode(bytes: [UInt8], dtype: DType, shape: [Int], path: String = "<memory>") throws -> [UInt8] {
        let fail = ErrorContext(path: path)
        guard let descr = dtype.npyDescr else { throw fail("\(dtype.rawValue) cannot be stored in a .npy file") }
        guard shape.allSatisfy({ $0 >= 0 }), let count = checkedCount(shape),
              let byteCount = checkedByteCount(count: count, size: dtype.size) else {
            throw fail("shape \(shapeText(shape)) is invalid")
        }
        guard bytes.count == byteCount else {
            throw fail("shape \(shapeText(shape)) of \(dtype.rawValue) needs \(byteCount) bytes, \(bytes.count) given")
        }
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = Array("{'descr': '\(descr)', 'fortran_order': False, 'shape': \(dims), }".utf8)
        // Pad with spaces so that magic + version + length + header (ending in '\n') is a multiple of 64.
        while (10 + header.count + 1) % 64 != 0 { header.append(0x20) }
        header.append(0x0A)
        guard header.count <= Int(UInt16.max) else { throw fail("shape \(shapeText(shape)) makes the .npy header too long") }
        var out: [UInt8] = NpyReader.magic + [1, 0]
        out += LittleEndianBytes.of([UInt16(header.count)])
        out += header
        out += bytes
        return out
    }
}
