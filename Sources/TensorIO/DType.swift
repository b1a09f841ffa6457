/// The element types the readers understand, named as in the safetensors header.
public enum DType: String, CaseIterable, Sendable {
    /// IEEE 754 binary64.
    case f64 = "F64"
    /// IEEE 754 binary32.
    case f32 = "F32"
    /// IEEE 754 binary16 (half precision).
    case f16 = "F16"
    /// bfloat16: the upper 16 bits of a binary32.
    case bf16 = "BF16"
    /// Signed 64-bit integer.
    case i64 = "I64"
    /// Signed 32-bit integer.
    case i32 = "I32"
    /// Signed 16-bit integer.
    case i16 = "I16"
    /// Signed 8-bit integer.
    case i8 = "I8"
    /// Unsigned 8-bit integer.
    case u8 = "U8"
    /// Boolean stored as one byte holding 0 or 1.
    case bool = "BOOL"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }

    /// True for the floating-point types (F64, F32, F16, BF16).
    public var isFloat: Bool {
        switch self {
        case .f64, .f32, .f16, .bf16: return true
        default: return false
        }
    }

    /// True for the integer types (I64, I32, I16, I8, U8); BOOL is not an integer type.
    public var isInteger: Bool {
        switch self {
        case .i64, .i32, .i16, .i8, .u8: return true
        default: return false
        }
    }

    /// The NumPy `descr` string for this type in a little-endian `.npy` file, or nil (BF16 has none).
    public var npyDescr: String? {
        switch self {
        case .f64: return "<f8"
        case .f32: return "<f4"
        case .f16: return "<f2"
        case .bf16: return nil
        case .i64: return "<i8"
        case .i32: return "<i4"
        case .i16: return "<i2"
        case .i8: return "|i1"
        case .u8: return "|u1"
        case .bool: return "|b1"
        }
    }

    /// The supported type names, for error messages.
    static var supportedList: String { allCases.map(\.rawValue).joined(separator: ", ") }
}
