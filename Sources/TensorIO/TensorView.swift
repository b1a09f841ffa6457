/// One tensor in a file. Its bytes live in the file's memory map (or in memory inflated from an
/// `.npz`); the view keeps that memory alive, so it stays valid even after its `TensorFile` is gone.
public struct TensorView {
    /// The file the tensor came from (used in error messages).
    public let path: String
    /// The tensor's name.
    public let name: String
    /// The element type.
    public let dtype: DType
    /// The dimensions; `[]` for a 0-d scalar.
    public let shape: [Int]
    /// The number of elements (the product of `shape`; 1 for a scalar).
    public let count: Int
    let storage: ByteStorage
    let offset: Int

    /// Makes a view of `count * dtype.size` bytes at `offset` in `storage`; the caller has checked
    /// the shape and that the bytes are in range.
    init(path: String, name: String, dtype: DType, shape: [Int], count: Int, storage: ByteStorage, offset: Int) {
        self.path = path
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.count = count
        self.storage = storage
        self.offset = offset
    }

    /// The number of bytes of data (`count * dtype.size`).
    public var byteCount: Int { count * dtype.size }

    /// The raw little-endian bytes (valid while this view, or another view or buffer of the same file, lives).
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage.base + offset, count: byteCount)
    }

    /// True when the data's address is a multiple of the element size.
    public var isAligned: Bool { Int(bitPattern: storage.base + offset) % dtype.size == 0 }

    private func fail(_ reason: String) -> TensorFileError {
        TensorFileError(path: path, tensor: name, reason: reason)
    }

    /// The values as float32. An aligned F32 tensor is returned without a copy (a view into the
    /// file's memory that keeps it alive); F16 and BF16 convert exactly, F64 rounds to nearest
    /// (a finite value beyond the float32 range is an error), integers and BOOL convert to their value.
    public func float32() throws -> FloatBuffer {
        let n = count
        let raw = bytes
        if dtype == .f32 && isAligned && hostIsLittleEndian {
            let typed = raw.baseAddress!.assumingMemoryBound(to: Float.self)
            return FloatBuffer(viewing: typed, count: n, keepingAlive: storage)
        }
        let out = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
        do {
            try convertToFloat32(raw, into: out, count: n)
        } catch {
            out.deallocate()
            throw error
        }
        return FloatBuffer(owning: out, count: n)
    }

    private func convertToFloat32(_ raw: UnsafeRawBufferPointer, into out: UnsafeMutablePointer<Float>, count n: Int) throws {
        switch dtype {
        case .f32:
            for i in 0..<n { out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
        case .f64:
            for i in 0..<n {
                let d = Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
                let f = Float(d)
                if f.isInfinite && d.isFinite {
                    throw fail("F64 value \(d) at flat index \(i) is outside the float32 range")
                }
                out[i] = f
            }
        case .f16:
            for i in 0..<n { out[i] = floatFromHalfBits(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        case .bf16:
            for i in 0..<n { out[i] = floatFromBFloat16Bits(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        case .i64:
            for i in 0..<n { out[i] = Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))) }
        case .i32:
            for i in 0..<n { out[i] = Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) }
        case .i16:
            for i in 0..<n { out[i] = Float(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) }
        case .i8:
            for i in 0..<n { out[i] = Float(Int8(bitPattern: raw[i])) }
        case .u8:
            for i in 0..<n { out[i] = Float(raw[i]) }
        case .bool:
            for i in 0..<n { out[i] = Float(try boolValue(raw[i], at: i)) }
        }
    }

    /// The values as float64 (exact for every dtype except I64 beyond 2^53, which rounds to nearest).
    public func float64Array() throws -> [Double] {
        let n = count
        let raw = bytes
        var result = [Double](repeating: 0, count: n)
        try result.withUnsafeMutableBufferPointer { out in
            switch dtype {
            case .f64:
                for i in 0..<n { out[i] = Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))) }
            case .f32:
                for i in 0..<n { out[i] = Double(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))) }
            case .f16:
                for i in 0..<n { out[i] = Double(floatFromHalfBits(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
            case .bf16:
                for i in 0..<n { out[i] = Double(floatFromBFloat16Bits(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
            case .i64:
                for i in 0..<n { out[i] = Double(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))) }
            case .i32:
                for i in 0..<n { out[i] = Double(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) }
            case .i16:
                for i in 0..<n { out[i] = Double(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) }
            case .i8:
                for i in 0..<n { out[i] = Double(Int8(bitPattern: raw[i])) }
            case .u8:
                for i in 0..<n { out[i] = Double(raw[i]) }
            case .bool:
                for i in 0..<n { out[i] = Double(try boolValue(raw[i], at: i)) }
            }
        }
        return result
    }

    /// The values as Int64, from I64, I32, I16, I8, U8 or BOOL (0 or 1). A float dtype is an error.
    public func int64Array() throws -> [Int64] {
        let n = count
        let raw = bytes
        if dtype.isFloat {
            throw fail("holds \(dtype.rawValue) values where integers (I64, I32, I16, I8, U8 or BOOL) are needed")
        }
        var result = [Int64](repeating: 0, count: n)
        try result.withUnsafeMutableBufferPointer { out in
            switch dtype {
            case .i64:
                for i in 0..<n { out[i] = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)) }
            case .i32:
                for i in 0..<n { out[i] = Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) }
            case .i16:
                for i in 0..<n { out[i] = Int64(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) }
            case .i8:
                for i in 0..<n { out[i] = Int64(Int8(bitPattern: raw[i])) }
            case .u8:
                for i in 0..<n { out[i] = Int64(raw[i]) }
            case .bool:
                for i in 0..<n { out[i] = Int64(try boolValue(raw[i], at: i)) }
            case .f64, .f32, .f16, .bf16:
                break
            }
        }
        return result
    }

    /// The single value of a tensor with one element (a 0-d scalar or shape `[1]`), as Int64.
    public func int64Scalar() throws -> Int64 {
        guard count == 1 else {
            throw fail("must hold exactly one value, found shape \(shapeText(shape))")
        }
        return try int64Array()[0]
    }

    private func boolValue(_ byte: UInt8, at index: Int) throws -> UInt8 {
        guard byte <= 1 else { throw fail("BOOL byte at flat index \(index) is \(byte), not 0 or 1") }
        return byte
    }
}

/// True on little-endian machines, where file bytes can be used in place.
let hostIsLittleEndian: Bool = 1.littleEndian == 1

/// The exact float32 value of an IEEE binary16 bit pattern (NaN payloads are kept).
@inline(__always)
func floatFromHalfBits(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = UInt32(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x3FF)
    if exponent == 0x1F {
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    }
    if exponent == 0 {
        // Zero or subnormal: mantissa × 2^-24, exact in float32.
        let magnitude = Float(mantissa) * 0x1p-24
        return sign != 0 ? -magnitude : magnitude
    }
    return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
}

/// The exact float32 value of a bfloat16 bit pattern.
@inline(__always)
func floatFromBFloat16Bits(_ b: UInt16) -> Float {
    Float(bitPattern: UInt32(b) << 16)
}
