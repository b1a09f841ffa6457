/// A scalar expression of the loss DSL.
///
/// Expressions are plain values built with operators and functions; they say *what* is computed,
/// never how it is looped over or parallelized (that is the ``Schedule``'s business).
///
/// ```swift
/// let p = sigmoid(x)
/// let focal = alpha * (1 - p).pow(2) * -log(p + 1e-8)
/// ```
public struct Expr: Hashable, Sendable {
    /// The node this expression is made of.
    public let node: Node

    /// Wraps a node.
    public init(_ node: Node) { self.node = node }

    /// A real constant.
    public static func constant(_ value: Double) -> Expr { Expr(.constant(value)) }
}

/// The nodes of an expression graph. Each case is one operation of the lowered program.
public indirect enum Node: Hashable, Sendable {
    /// A real constant.
    case constant(Double)
    /// An integer constant (indices and sizes).
    case integer(Int)
    /// A named real scalar passed at run time (a weight, α).
    case parameter(String)
    /// A named integer size passed at run time (Q, T, C), used as a value.
    case size(String)
    /// The current index of a loop axis.
    case index(String)
    /// An element of an input tensor; `guarded` elements read 0 where the guard is false.
    case load(tensor: String, indices: [Expr], guarded: Expr?)
    /// A one-argument function.
    case unary(UnaryOp, Expr)
    /// A two-argument operator or function.
    case binary(BinaryOp, Expr, Expr)
    /// `condition ? a : b`.
    case select(Expr, Expr, Expr)
    /// A power with a constant integer exponent (lowered to multiplications).
    case power(Expr, Int)
    /// A reduction of `body` over the given axes.
    case reduce(Reduction, axes: [Axis], body: Expr)
    /// A named subexpression (the name becomes a comment in the C).
    case label(String, Expr)
}

/// One-argument operations.
public enum UnaryOp: String, Hashable, Sendable, CaseIterable {
    case negate, exp, log, log1p, abs, floor, sqrt
    /// log(1 + x) for 0 ≤ x ≤ 1 only (see ``log1pUnit(_:)``).
    case log1pUnit
    /// e^x to about three digits, for |x| ≤ 87 only (see ``expCoarse(_:)``).
    case expCoarse
    /// Converts a real to an integer index (truncation; use on non-negative values).
    case toIndex
    /// Converts an integer to a real.
    case toReal
    /// Logical not.
    case not
}

/// Two-argument operations.
public enum BinaryOp: String, Hashable, Sendable, CaseIterable {
    case add, subtract, multiply, divide, minimum, maximum, pow
    case less, lessEqual, greater, greaterEqual, equal, notEqual, and, or
    /// True for the comparison and logic operations, whose value is 0 or 1.
    public var isPredicate: Bool {
        switch self {
        case .less, .lessEqual, .greater, .greaterEqual, .equal, .notEqual, .and, .or: return true
        default: return false
        }
    }
}

/// Reductions over axes.
public enum Reduction: String, Hashable, Sendable {
    /// The sum (accumulated in double).
    case sum
    /// The largest value (of finite values).
    case max
    /// The index along the (single) axis of the first maximum.
    case argmax
    /// 1 if the body (a condition) holds anywhere along the (single) axis, else 0; the scan stops at
    /// the first hit.
    case any
}

// MARK: - Literals

extension Expr: ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral {
    /// A real constant from a float literal.
    public init(floatLiteral value: Double) { self.init(.constant(value)) }
    /// A real constant from an integer literal.
    public init(integerLiteral value: Int) { self.init(.constant(Double(value))) }
}

/// A named real scalar passed to the kernel at run time.
public func parameter(_ name: String) -> Expr { Expr(.parameter(name)) }

// MARK: - Arithmetic

/// Sum.
public func + (a: Expr, b: Expr) -> Expr { Expr(.binary(.add, a, b)) }
/// Difference.
public func - (a: Expr, b: Expr) -> Expr { Expr(.binary(.subtract, a, b)) }
/// Product.
public func * (a: Expr, b: Expr) -> Expr { Expr(.binary(.multiply, a, b)) }
/// Quotient.
public func / (a: Expr, b: Expr) -> Expr { Expr(.binary(.divide, a, b)) }
/// Negation.
public prefix func - (a: Expr) -> Expr { Expr(.unary(.negate, a)) }

/// Less than (1 or 0).
public func < (a: Expr, b: Expr) -> Expr { Expr(.binary(.less, a, b)) }
/// Less than or equal (1 or 0).
public func <= (a: Expr, b: Expr) -> Expr { Expr(.binary(.lessEqual, a, b)) }
/// Greater than (1 or 0).
public func > (a: Expr, b: Expr) -> Expr { Expr(.binary(.greater, a, b)) }
/// Greater than or equal (1 or 0).
public func >= (a: Expr, b: Expr) -> Expr { Expr(.binary(.greaterEqual, a, b)) }
/// Logical and.
public func && (a: Expr, b: Expr) -> Expr { Expr(.binary(.and, a, b)) }
/// Logical or.
public func || (a: Expr, b: Expr) -> Expr { Expr(.binary(.or, a, b)) }

extension Expr {
    /// Equality as an expression (1 or 0); `==` itself stays structural equality.
    public func equals(_ other: Expr) -> Expr { Expr(.binary(.equal, self, other)) }
    /// Inequality as an expression (1 or 0).
    public func notEquals(_ other: Expr) -> Expr { Expr(.binary(.notEqual, self, other)) }
    /// `self` raised to a constant integer power, lowered to multiplications.
    public func pow(_ exponent: Int) -> Expr { Expr(.power(self, exponent)) }
    /// `self` raised to a run-time power (a call to `pow`).
    public func pow(_ exponent: Expr) -> Expr {
        if case .constant(let c) = exponent.node, c == c.rounded(), abs(c) <= 64 { return pow(Int(c)) }
        return Expr(.binary(.pow, self, exponent))
    }
    /// The real value of an integer expression (an index or size).
    public var real: Expr { Expr(.unary(.toReal, self)) }
    /// The integer index of a non-negative real (truncating).
    public var index: Expr { Expr(.unary(.toIndex, self)) }
}

/// e^x.
public func exp(_ x: Expr) -> Expr { Expr(.unary(.exp, x)) }
/// Natural logarithm.
public func log(_ x: Expr) -> Expr { Expr(.unary(.log, x)) }
/// log(1 + x).
public func log1p(_ x: Expr) -> Expr { Expr(.unary(.log1p, x)) }
/// log(1 + x) for x in [0, 1] only — the form softplus needs, with x = e^−|y|. On that interval it
/// is a short polynomial (relative error below 2e-7 in float32), with no range reduction.
public func log1pUnit(_ x: Expr) -> Expr { Expr(.unary(.log1pUnit, x)) }
/// e^x to a relative error below 1.8e-3 (1.73e-3 at most over every float32 in range), for |x| ≤ 87
/// only (outside, the result is meaningless): x·log₂e = n + f with n an integer and |f| ≤ 1/2, a
/// degree-2 polynomial for 2^f and 2^n from the bits — seven vector operations where ``exp(_:)``
/// takes eighteen. For estimates and bounds that need few digits (a bound must allow for the error).
/// Constants fold to the exact e^x; float64 kernels use libm's exp.
public func expCoarse(_ x: Expr) -> Expr { Expr(.unary(.expCoarse, x)) }
/// |x|.
public func abs(_ x: Expr) -> Expr { Expr(.unary(.abs, x)) }
/// ⌊x⌋.
public func floor(_ x: Expr) -> Expr { Expr(.unary(.floor, x)) }
/// √x.
public func sqrt(_ x: Expr) -> Expr { Expr(.unary(.sqrt, x)) }
/// The smaller of two values.
public func min(_ a: Expr, _ b: Expr) -> Expr { Expr(.binary(.minimum, a, b)) }
/// The larger of two values.
public func max(_ a: Expr, _ b: Expr) -> Expr { Expr(.binary(.maximum, a, b)) }
/// `x` limited to `[lo, hi]`.
public func clamp(_ x: Expr, _ lo: Expr, _ hi: Expr) -> Expr { min(max(x, lo), hi) }
/// `condition ? a : b` (both sides may be evaluated; loads that need protection take a guard).
public func select(_ condition: Expr, _ a: Expr, _ b: Expr) -> Expr { Expr(.select(condition, a, b)) }
/// Alias of ``select(_:_:_:)`` in NumPy's spelling.
public func `where`(_ condition: Expr, _ a: Expr, _ b: Expr) -> Expr { select(condition, a, b) }

/// The logistic sigmoid σ(x) = 1 / (1 + e^−x), in the stable form that shares e^−|x| with
/// ``softplus(_:)``: 1/(1 + e) for x ≥ 0, e/(1 + e) below, with e = e^−|x| (one division).
public func sigmoid(_ x: Expr) -> Expr {
    let e = exp(-abs(x))
    let r = 1 / (1 + e)
    return select(x >= 0, r, e * r)
}

/// softplus(x) = log(1 + e^x) = max(x, 0) + log(1 + e^−|x|), stable for any x.
public func softplus(_ x: Expr) -> Expr { max(x, 0) + log1pUnit(exp(-abs(x))) }

// MARK: - Reductions

/// Σ of `body` over the given axes.
public func sum(over axes: Axis..., of body: Expr) -> Expr { Expr(.reduce(.sum, axes: axes, body: body)) }
/// Σ of `body` over the given axes.
public func sum(over axes: [Axis], of body: Expr) -> Expr { Expr(.reduce(.sum, axes: axes, body: body)) }
/// The largest value of `body` over the given axes (its values must be finite, or −∞).
public func max(over axes: Axis..., of body: Expr) -> Expr { Expr(.reduce(.max, axes: axes, body: body)) }
/// 1 if `condition` holds for some index along `axis`, else 0 (∃). The scan stops at the first
/// index where it holds, so a condition that usually holds early costs a few steps, not a pass.
public func exists(over axis: Axis, _ condition: Expr) -> Expr { Expr(.reduce(.any, axes: [axis], body: condition)) }
/// The first index along `axis` where `body` is largest.
public func argmax(over axis: Axis, of body: Expr) -> Expr { Expr(.reduce(.argmax, axes: [axis], body: body)) }
