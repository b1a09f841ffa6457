/// A problem with a tensor file: which file, which tensor (when one applies) and what is wrong.
public struct TensorFileError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file as it was given to the reader or writer.
    public let path: String
    /// The tensor concerned, or nil when the problem is with the file as a whole.
    public let tensor: String?
    /// What is wrong, in words.
    public let reason: String

    /// Makes an error for `path` (and `tensor`, if given).
    public init(path: String, tensor: String? = nil, reason: String) {
        self.path = path
        self.tensor = tensor
        self.reason = reason
    }

    /// `PATH: tensor 'NAME': reason`, or `PATH: reason` when no tensor applies.
    public var description: String {
        if let tensor = tensor { return "\(path): tensor '\(tensor)': \(reason)" }
        return "\(path): \(reason)"
    }
}

/// Builds errors for one file.
struct ErrorContext {
    let path: String

    func callAsFunction(_ reason: String, tensor: String? = nil) -> TensorFileError {
        TensorFileError(path: path, tensor: tensor, reason: reason)
    }
}

/// Text for a shape in messages: `[2, 3]`.
func shapeText(_ shape: [Int]) -> String {
    "[" + shape.map(String.init).joined(separator: ", ") + "]"
}

/// The element count of `shape`, or nil if a dimension is negative or the shape is absurd:
/// the product of its non-zero dimensions must stay below 2^60, so that any partial product of
/// the dimensions, times a dtype size, fits in an `Int` (even when a zero dimension makes the count 0).
func checkedCount(_ shape: [Int]) -> Int? {
    var product = 1
    var sawZero = false
    for d in shape {
        if d < 0 { return nil }
        if d == 0 { sawZero = true; continue }
        let (p, overflow) = product.multipliedReportingOverflow(by: d)
        if overflow || p > maxElementProduct { return nil }
        product = p
    }
    return sawZero ? 0 : product
}

/// The largest product of non-zero dimensions a shape may have (2^60).
let maxElementProduct = 1 << 60

/// `count * size`, or nil on overflow.
func checkedByteCount(count: Int, size: Int) -> Int? {
    let (p, overflow) = count.multipliedReportingOverflow(by: size)
    return overflow ? nil : p
}
