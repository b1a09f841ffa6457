import LossDSL

/// What an output of the kernel is computed from.
public enum OutputValue: Sendable {
    /// A row-level operation (for `.total` and `.perRow`).
    case value(Int)
    /// A map output: the loop group that writes it (maps over the same axes share one), and its value.
    case map(group: Int, value: Int)
    /// Row-level operations passed to a helper (for `.gather`: ``ColumnGather/operands``).
    case values([Int])
}

/// Lowers a kernel's expression graph to a ``Program``.
///
/// On the way it folds constants, applies algebraic identities (x·1, x·0, x+0, −(−x)), turns integer
/// powers into multiplications by repeated squaring, shares common subexpressions (each distinct
/// operation exists once), and places each operation in the outermost loop it depends on
/// (loop-invariant code motion). Sums and maxima over the same axes in the same loop share one loop nest.
public struct Lowering {
    private var program: Program
    private var table: [Op: Int] = [:]
    private var sumGroups: [String: Int] = [:]
    private var mapGroups: [[Axis]: Int] = [:]
    private var storeGroups: [[Axis]: Int] = [:]
    private var usedVariables: Set<String> = ["row", "block", "row_end", "rows", "blocks"]
    /// Output values, in kernel output order.
    public private(set) var outputs: [OutputValue] = []

    /// Lowers `kernel`.
    public static func lower(_ kernel: Kernel) -> (program: Program, outputs: [OutputValue]) {
        var lowering = Lowering(kernel: kernel)
        lowering.lowerOutputs()
        return (lowering.program, lowering.outputs)
    }

    private init(kernel: Kernel) {
        program = Program(kernel: kernel)
        program.loops = [Loop(variable: "", extent: -1, parent: -1, depth: 0),
                         Loop(variable: "row", extent: -1, parent: 0, depth: 1)]
        for axis in kernel.rows { usedVariables.insert(axis.name) }
    }

    private struct Context {
        var loops: [String: Int]
        var enclosing: Int
    }

    private mutating func lowerOutputs() {
        let kernel = program.kernel
        var context = Context(loops: [:], enclosing: 1)
        for axis in kernel.rows {
            context.loops[axis.name] = 1
            program.rowAxes.append((axis.name, lower(axis.extent.expr, context)))
        }
        for output in kernel.outputs {
            switch output {
            case .total(_, let e, _), .perRow(_, _, let e, _):
                outputs.append(.value(lower(e, context)))
            case .map(_, _, let axes, let e, _):
                // maps over the same axes are written in one loop nest
                if let g = mapGroups[axes] {
                    let value = lower(e, loopContext(g, axes, context))
                    program.groups[g].members.append(value)
                    outputs.append(.map(group: g, value: value))
                } else {
                    let g = mapGroup(axes, [e], context)
                    mapGroups[axes] = g
                    outputs.append(.map(group: g, value: program.groups[g].members[0]))
                }
            case .store(_, _, let axes, let index, let e, _):
                // members: each store's value, then the position it goes to; stores over the same axes are
                // written in one loop nest (what they gather is loaded once)
                if let g = storeGroups[axes] {
                    let inner = loopContext(g, axes, context)
                    let value = lower(e, inner), position = lower(index, inner)
                    program.groups[g].members += [value, position]
                    outputs.append(.map(group: g, value: value))
                } else {
                    let g = mapGroup(axes, [e, index], context)
                    storeGroups[axes] = g
                    outputs.append(.map(group: g, value: program.groups[g].members[0]))
                }
            case .smallest(_, _, let axis, let e, _):
                let g = mapGroup([axis], [e], context)
                outputs.append(.map(group: g, value: program.groups[g].members[0]))
            case .gather(_, let gather, _):
                outputs.append(.values(gather.operands.map { lower($0, context) }))
            }
        }
    }

    /// A loop nest over `axes` computing `values` at each element (a map-like output).
    private mutating func mapGroup(_ axes: [Axis], _ values: [Expr], _ context: Context) -> Int {
        let group = newGroup(nil, axes: axes, context: context)
        let inner = loopContext(group, axes, context)
        program.groups[group].members = values.map { lower($0, inner) }
        return group
    }

    /// `context` inside group `g`'s loops over `axes`.
    private func loopContext(_ g: Int, _ axes: [Axis], _ context: Context) -> Context {
        var inner = context
        for (axis, loop) in zip(axes, program.groups[g].loops) { inner.loops[axis.name] = loop }
        inner.enclosing = program.groups[g].loops.last ?? context.enclosing
        return inner
    }

    // MARK: - Operations

    private func depth(_ scope: Int) -> Int { program.loops[scope].depth }

    private mutating func add(_ kind: OpKind, _ operands: [Int], _ type: ValueType, scope fixed: Int? = nil) -> Int {
        var op = Op(kind: kind, operands: operands, type: type, scope: 0)
        if let existing = table[op] { return existing }
        var scope = fixed ?? 0
        if fixed == nil {
            for operand in operands where depth(program.ops[operand].scope) > depth(scope) {
                scope = program.ops[operand].scope
            }
        }
        let key = op
        op.scope = scope
        program.ops.append(op)
        table[key] = program.ops.count - 1
        return program.ops.count - 1
    }

    private func constantValue(_ id: Int) -> Double? {
        switch program.ops[id].kind {
        case .constant(let v): return v
        case .integer(let n): return Double(n)
        default: return nil
        }
    }

    private func isInteger(_ id: Int) -> Bool {
        if case .integer = program.ops[id].kind { return true }
        return false
    }

    private mutating func constant(_ value: Double, integer: Bool) -> Int {
        integer ? add(.integer(Int(value)), [], .int) : add(.constant(value), [], .real)
    }

    private static func join(_ a: ValueType, _ b: ValueType) -> ValueType {
        if a == .double || b == .double { return .double }
        if a == .real || b == .real { return .real }
        return .int
    }

    private mutating func unary(_ op: UnaryOp, _ a0: Int) -> Int {
        var a = a0
        let type = program.ops[a].type
        switch op {
        case .exp, .expCoarse, .log, .log1p, .log1pUnit, .sqrt, .floor:
            if type == .int { a = unary(.toReal, a) }
        default: break
        }
        if let c = constantValue(a) {
            switch op {
            case .negate: return constant(-c, integer: isInteger(a))
            case .exp, .expCoarse: return constant(foldExp(c), integer: false)
            case .log: return constant(foldLog(c), integer: false)
            case .log1p, .log1pUnit: return constant(foldLog1p(c), integer: false)
            case .abs: return constant(Swift.abs(c), integer: isInteger(a))
            case .floor: return constant(c.rounded(.down), integer: false)
            case .sqrt: return constant(c.squareRoot(), integer: false)
            case .toIndex: return constant(c.rounded(.towardZero), integer: true)
            case .toReal: return constant(c, integer: false)
            case .not: return constant(c == 0 ? 1 : 0, integer: true)
            }
        }
        if op == .negate, case .unary(.negate) = program.ops[a].kind { return program.ops[a].operands[0] }
        if op == .toReal, program.ops[a].type != .int { return a }
        if op == .toIndex, program.ops[a].type == .int { return a }
        let result: ValueType
        switch op {
        case .toIndex, .not: result = .int
        case .toReal: result = .real
        default: result = program.ops[a].type
        }
        return add(.unary(op), [a], result)
    }

    private mutating func binary(_ op: BinaryOp, _ a0: Int, _ b0: Int) -> Int {
        var a = a0, b = b0
        // An integral real literal next to an integer takes the integer type (index arithmetic).
        if program.ops[a].type == .int, case .constant(let c) = program.ops[b].kind, c == c.rounded() {
            b = constant(c, integer: true)
        }
        if program.ops[b].type == .int, case .constant(let c) = program.ops[a].kind, c == c.rounded() {
            a = constant(c, integer: true)
        }
        let bothInteger = program.ops[a].type == .int && program.ops[b].type == .int
        if let x = constantValue(a), let y = constantValue(b) {
            let integer = isInteger(a) && isInteger(b)
            switch op {
            case .add: return constant(x + y, integer: integer)
            case .subtract: return constant(x - y, integer: integer)
            case .multiply: return constant(x * y, integer: integer)
            case .divide: return constant(integer ? (x / y).rounded(.towardZero) : x / y, integer: integer)
            case .minimum: return constant(Swift.min(x, y), integer: integer)
            case .maximum: return constant(Swift.max(x, y), integer: integer)
            case .pow: return constant(foldPow(x, y), integer: false)
            case .less: return constant(x < y ? 1 : 0, integer: true)
            case .lessEqual: return constant(x <= y ? 1 : 0, integer: true)
            case .greater: return constant(x > y ? 1 : 0, integer: true)
            case .greaterEqual: return constant(x >= y ? 1 : 0, integer: true)
            case .equal: return constant(x == y ? 1 : 0, integer: true)
            case .notEqual: return constant(x != y ? 1 : 0, integer: true)
            case .and: return constant(x != 0 && y != 0 ? 1 : 0, integer: true)
            case .or: return constant(x != 0 || y != 0 ? 1 : 0, integer: true)
            }
        }
        let ca = constantValue(a), cb = constantValue(b)
        switch op {
        case .add:
            if ca == 0 { return b }
            if cb == 0 { return a }
        case .subtract:
            if cb == 0 { return a }
            if ca == 0 { return unary(.negate, b) }
        case .multiply:
            if ca == 1 { return b }
            if cb == 1 { return a }
            // 0·x = 0 for every x the kernels see (inputs are validated finite before any kernel runs).
            if ca == 0 || cb == 0 { return constant(0, integer: bothInteger) }
        case .divide:
            if cb == 1 { return a }
        default: break
        }
        let type: ValueType = op.isPredicate ? .int : (op == .pow ? .real : Self.join(program.ops[a].type, program.ops[b].type))
        return add(.binary(op), [a, b], type)
    }

    private mutating func power(_ a: Int, _ n: Int) -> Int {
        if n == 0 { return constant(1, integer: program.ops[a].type == .int) }
        if n < 0 { return binary(.divide, constant(1, integer: false), power(a, -n)) }
        var result: Int? = nil
        var base = a, e = n
        while e > 0 {
            if e & 1 == 1 { result = result.map { binary(.multiply, $0, base) } ?? base }
            e >>= 1
            if e > 0 { base = binary(.multiply, base, base) }
        }
        return result!
    }

    private mutating func variableName(_ wanted: String) -> String {
        var name = wanted, k = 2
        while usedVariables.contains(name) { name = "\(wanted)\(k)"; k += 1 }
        usedVariables.insert(name)
        return name
    }

    private mutating func newGroup(_ reduction: Reduction?, axes: [Axis], context: Context) -> Int {
        var loops: [Int] = []
        var parent = context.enclosing
        for axis in axes {
            let extent = lower(axis.extent.expr, context)
            program.loops.append(Loop(variable: variableName(axis.name), extent: extent, parent: parent,
                                      depth: program.loops[parent].depth + 1))
            parent = program.loops.count - 1
            loops.append(parent)
        }
        program.groups.append(LoopGroup(reduction: reduction, loops: loops, enclosing: context.enclosing, members: []))
        return program.groups.count - 1
    }

    // MARK: - Expressions

    private mutating func lower(_ e: Expr, _ context: Context) -> Int {
        switch e.node {
        case .constant(let v): return constant(v, integer: false)
        case .integer(let n): return constant(Double(n), integer: true)
        case .parameter(let name): return add(.parameter(name), [], .real)
        case .size(let name): return add(.size(name), [], .int)
        case .index(let name):
            guard let loop = context.loops[name] else {
                preconditionFailure("kernel \(program.kernel.name): axis \(name) is used outside its loop")
            }
            let variable = loop == 1 ? name : program.loops[loop].variable
            return add(.index(variable), [], .int, scope: loop)
        case .label(let name, let inner):
            let id = lower(inner, context)
            if program.labels[id] == nil, constantValue(id) == nil { program.labels[id] = name }
            return id
        case .load(let name, let indices, let guarded):
            guard let tensor = program.kernel.inputs.first(where: { $0.name == name }) else {
                preconditionFailure("kernel \(program.kernel.name): tensor \(name) is not among its inputs")
            }
            // a list tensor's first index picks the tensor, the others address it
            let first = tensor.isList ? 1 : 0
            var flat = constant(0, integer: true)
            for (index, stride) in zip(indices.dropFirst(first), tensor.strides.dropFirst(first)) {
                flat = binary(.add, flat, binary(.multiply, lower(index, context), lower(stride.expr, context)))
            }
            let address = (tensor.isList ? [lower(indices[0], context)] : []) + [flat]
            let type: ValueType = tensor.type.isReal ? .real : .int
            if let guarded {
                return add(.load(tensor: name, guarded: true), [lower(guarded, context)] + address, type)
            }
            return add(.load(tensor: name, guarded: false), address, type)
        case .unary(let op, let a):
            return unary(op, lower(a, context))
        case .binary(let op, let a, let b):
            return binary(op, lower(a, context), lower(b, context))
        case .select(let c, let a, let b):
            let cid = lower(c, context), aid = lower(a, context), bid = lower(b, context)
            if let cv = constantValue(cid) { return cv != 0 ? aid : bid }
            if aid == bid { return aid }
            return add(.select, [cid, aid, bid], Self.join(program.ops[aid].type, program.ops[bid].type))
        case .power(let a, let n):
            return power(lower(a, context), n)
        case .reduce(let reduction, let axes, let body):
            precondition((reduction != .argmax && reduction != .any) || axes.count == 1, "argmax and any run over one axis")
            let key = "\(context.enclosing)|" + axes.map { "\($0.name):\($0.extent)" }.joined(separator: ",")
            let group: Int
            // Sums and maxima over the same axes share one loop; an argmax (two passes) and an any (a
            // scan that stops early) have loops of their own.
            let shares = reduction == .sum || reduction == .max
            if shares, let existing = sumGroups[key] {
                group = existing
            } else {
                group = newGroup(reduction, axes: axes, context: context)
                if shares { sumGroups[key] = group }
            }
            let bodyId = lower(body, loopContext(group, axes, context))
            let type: ValueType
            switch reduction {
            case .sum: type = .double
            case .max: type = program.ops[bodyId].type
            case .argmax, .any: type = .int
            }
            let id = add(.reduce(reduction, group: group), [bodyId], type, scope: context.enclosing)
            if !program.groups[group].members.contains(id) { program.groups[group].members.append(id) }
            return id
        }
    }
}
