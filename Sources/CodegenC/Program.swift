import LossDSL

/// The value types of the lowered program.
public enum ValueType: Hashable, Sendable {
    /// `int64_t` (indices, sizes, predicates).
    case int
    /// The kernel's real type (`float` or `double`).
    case real
    /// `double` (sums and what is computed from them).
    case double
}

/// One operation of the lowered program: the unit of common-subexpression elimination.
public enum OpKind: Hashable, Sendable {
    case constant(Double)
    case integer(Int)
    case parameter(String)
    case size(String)
    /// A loop variable (row axes and inner loops alike).
    case index(String)
    /// `tensor[operands.last]`, guarded by `operands[0]` when `guarded`; for a list tensor
    /// `tensor[list][operands.last]`, the list index just before the last operand.
    case load(tensor: String, guarded: Bool)
    case unary(UnaryOp)
    case binary(BinaryOp)
    case select
    /// The result of a reduction loop group; the operand is the body.
    case reduce(Reduction, group: Int)
}

/// A lowered operation with its operands (indices of earlier operations).
public struct Op: Hashable, Sendable {
    /// What it computes.
    public var kind: OpKind
    /// Its arguments.
    public var operands: [Int]
    /// Its C type.
    public var type: ValueType
    /// The loop it lives in (0: function, 1: rows, 2…: inner loops).
    public var scope: Int
}

/// A loop of the lowered program.
public struct Loop: Sendable {
    /// The C loop variable.
    public var variable: String
    /// The operation giving its extent.
    public var extent: Int
    /// The enclosing loop (0: function, 1: rows).
    public var parent: Int
    /// Nesting depth (rows are 1).
    public var depth: Int
}

/// A group of reductions (or one map output) that share one loop nest.
public struct LoopGroup: Sendable {
    /// The reduction that opened the group (sums and maxima share groups; each member's own kind
    /// says which it is); nil for a map output.
    public var reduction: Reduction?
    /// The loops, outermost first.
    public var loops: [Int]
    /// The loop that encloses the group.
    public var enclosing: Int
    /// The reduce operations (or the map's value) computed in it.
    public var members: [Int]
}

/// A kernel lowered to a linear SSA program: operations in dependency order, loops, outputs.
public struct Program: Sendable {
    /// The kernel it comes from.
    public let kernel: Kernel
    /// Operations; operands always precede their users.
    public internal(set) var ops: [Op] = []
    /// Comments naming DSL terms, by operation.
    public internal(set) var labels: [Int: String] = [:]
    /// Loops; 0 and 1 are the function and the row loop.
    public internal(set) var loops: [Loop] = []
    /// Loop groups.
    public internal(set) var groups: [LoopGroup] = []
    /// Row-level output values (for `.total` and `.perRow`) or map groups, in output order.
    public internal(set) var outputValues: [Int] = []
    /// Row axis variables.
    public internal(set) var rowAxes: [(name: String, extent: Int)] = []
}
