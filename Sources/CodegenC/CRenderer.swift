import LossDSL

/// Renders a lowered ``Program`` as one C99 function.
///
/// One table maps each operation to C text (``CRenderer/expression(_:)``); one walk over the
/// program emits statements in dependency order, each in the outermost loop it depends on.
/// Values used once in the same loop are inlined into their user; the rest get SSA names.
struct CRenderer {
    let program: Program
    let outputs: [OutputValue]
    private var lines: [String] = []
    private var indent = 1
    private var prepared: Set<Int> = []
    private var emittedGroups: Set<Int> = []
    private var open: Set<Int> = [0]
    private var uses: [Int]
    private var userScope: [Int]
    private var reachable: Set<Int> = []
    private var declaredEnds: Set<String> = []
    private var emittedMaps: Set<Int> = []

    init(program: Program, outputs: [OutputValue]) {
        self.program = program
        self.outputs = outputs
        uses = Array(repeating: 0, count: program.ops.count)
        userScope = Array(repeating: -1, count: program.ops.count)
        countUses()
    }

    private var kernel: Kernel { program.kernel }
    private var isFloat: Bool { kernel.precision == .float32 }

    // MARK: - Uses and reachability

    private mutating func noteUse(_ id: Int, scope: Int) {
        uses[id] += 1
        userScope[id] = scope
    }

    /// Whether the operation is a comparison or a logical one: its value, 0 or 1, is kept in an `int`
    /// (32-bit lanes beside float ones, where an int64_t would cost conversions in vector loops).
    private func isPredicate(_ op: Op) -> Bool {
        switch op.kind {
        case .binary(let b): return b.isPredicate
        case .unary(.not): return true
        default: return false
        }
    }

    /// Whether `scope` is `loop` or a loop nested in it.
    private func isInside(_ scope: Int, _ loop: Int) -> Bool {
        var s = scope
        while s > 0 {
            if s == loop { return true }
            s = program.loops[s].parent
        }
        return false
    }

    private func innermostLoop(ofGroup g: Int) -> Int { program.groups[g].loops.last ?? program.groups[g].enclosing }

    private var roots: [Int] {
        outputs.flatMap { value -> [Int] in
            switch value {
            case .value(let id): return [id]
            case .map(let g, _): return program.groups[g].members
            case .values(let ids): return ids
            }
        }
    }

    private mutating func countUses() {
        var stack = roots
        for value in outputs {
            switch value {
            case .value(let id): noteUse(id, scope: 1)
            case .map(let g, _): for m in program.groups[g].members { noteUse(m, scope: innermostLoop(ofGroup: g)) }
            case .values(let ids): for id in ids { noteUse(id, scope: 1) }
            }
        }
        for g in program.groups.indices { for loop in program.groups[g].loops { stack.append(program.loops[loop].extent) } }
        for axis in program.rowAxes { stack.append(axis.extent) }
        while let id = stack.popLast() {
            if reachable.contains(id) { continue }
            reachable.insert(id)
            let op = program.ops[id]
            let scope: Int
            if case .reduce(_, let g) = op.kind { scope = innermostLoop(ofGroup: g) } else { scope = op.scope }
            for operand in op.operands {
                noteUse(operand, scope: scope)
                stack.append(operand)
            }
        }
        for g in program.groups.indices { for loop in program.groups[g].loops { uses[program.loops[loop].extent] += 1 } }
    }

    /// Whether `id` is written inside its single user instead of getting a name.
    private func isInlined(_ id: Int) -> Bool {
        let op = program.ops[id]
        switch op.kind {
        case .constant, .integer, .parameter, .size, .index: return true
        case .reduce: return false
        default: return uses[id] == 1 && userScope[id] == op.scope && program.labels[id] == nil
        }
    }

    // MARK: - Names and types

    func cType(_ t: ValueType) -> String {
        switch t {
        case .int: return "int64_t"
        case .real: return isFloat ? "float" : "double"
        case .double: return "double"
        }
    }

    private func cType(_ e: ElementType) -> String {
        switch e {
        case .float32: return "float"
        case .float64: return "double"
        case .int64: return "int64_t"
        case .int32: return "int32_t"
        case .uint8: return "uint8_t"
        }
    }

    private func name(_ id: Int) -> String {
        switch program.ops[id].kind {
        case .reduce(.sum, _): return "sum\(id)"
        case .reduce(.max, _): return "max\(id)"
        case .reduce(.any, _): return "any\(id)"
        case .reduce(.argmax, _): return "argmax\(id)"
        case .load(let tensor, _): return "\(tensor)\(id)"
        default: return "v\(id)"
        }
    }

    /// A real literal in the type of its context.
    private func literal(_ v: Double, as type: ValueType) -> String {
        if type == .int, v == v.rounded(), Swift.abs(v) < 1e15 { return String(Int(v)) }
        let single = isFloat && type == .real
        var text = single ? String(describing: Float(v)) : String(describing: v)
        if text == "inf" { text = single ? "INFINITY" : "(double)INFINITY" }
        if text == "-inf" { text = single ? "-INFINITY" : "-(double)INFINITY" }
        if !text.contains("INFINITY") && !text.contains(".") && !text.contains("e") { text += ".0" }
        if single && !text.contains("INFINITY") { text += "f" }
        return v < 0 ? "(\(text))" : text
    }

    /// The type a constant operand is written in: the type of the other operands.
    private func contextType(of user: Op) -> ValueType {
        var t: ValueType = .int
        for operand in user.operands {
            switch program.ops[operand].kind {
            case .constant: t = t == .double ? .double : .real
            case .integer: break
            default:
                let ot = program.ops[operand].type
                if ot == .double || (ot == .real && t != .double) { t = ot }
            }
        }
        if case .select = user.kind { return user.type }
        return t
    }

    private func function(_ base: String, _ type: ValueType) -> String {
        type == .real && isFloat ? base + "f" : base
    }

    // MARK: - The operation table

    /// The C text of value `id` where a value of type `type` is expected (an assignment, an index, a
    /// loop bound): `operand` with no operation of the program using it.
    private func cText(_ id: Int, as type: ValueType) -> String {
        operand(id, of: Op(kind: .select, operands: [], type: type, scope: 0))
    }

    /// C text of an operation, written as an operand.
    private func operand(_ id: Int, of user: Op) -> String {
        let op = program.ops[id]
        switch op.kind {
        case .constant(let v): return literal(v, as: contextType(of: user))
        case .integer(let n): return n < 0 ? "(\(n))" : String(n)
        default:
            guard isInlined(id) else { return name(id) }
            let text = expression(id)
            switch op.kind {
            case .parameter, .size, .index, .load(_, false): return text
            case .unary(.negate), .binary, .select, .load(_, true): return "(\(text))"
            default: return text
            }
        }
    }

    /// C text of an operation's value.
    func expression(_ id: Int) -> String {
        let op = program.ops[id]
        let a = op.operands.map { operand($0, of: op) }
        switch op.kind {
        case .constant(let v): return literal(v, as: op.type)
        case .integer(let n): return String(n)
        case .parameter(let p): return isFloat ? "(float)\(p)" : p
        case .size(let s): return s
        case .index(let v): return v
        case .load(let tensor, let guarded):
            let list = kernel.inputs.first { $0.name == tensor }?.isList == true
            let element = list ? "\(tensor)[\(a[a.count - 2])][\(a[a.count - 1])]" : "\(tensor)[\(a[a.count - 1])]"
            return guarded ? "\(a[0]) ? \(element) : 0" : element
        case .unary(let u):
            let t = program.ops[op.operands[0]].type
            switch u {
            case .negate: return "-\(a[0])"
            // float32 exp is the prelude's inline one (plain arithmetic that pipelines inside the loop), log
            // is libm's (libmvec's when vectorized), which measured faster than an inline one
            case .exp: return t == .real && isFloat ? "dg_expf(\(a[0]))" : "exp(\(a[0]))"
            case .expCoarse: return t == .real && isFloat ? "dg_expf_coarse(\(a[0]))" : "exp(\(a[0]))"
            case .log: return "\(function("log", t))(\(a[0]))"
            case .log1p: return "\(function("log1p", t))(\(a[0]))"
            case .log1pUnit: return t == .real && isFloat ? "dg_log1pf_unit(\(a[0]))" : "log1p(\(a[0]))"
            case .sqrt: return "\(function("sqrt", t))(\(a[0]))"
            case .floor: return "\(function("floor", t))(\(a[0]))"
            case .abs: return t == .int ? "llabs(\(a[0]))" : "\(function("fabs", t))(\(a[0]))"
            case .toIndex: return "(int64_t)\(a[0])"
            case .toReal: return "(\(cType(.real)))\(a[0])"
            case .not: return "!\(a[0])"
            }
        case .binary(let b):
            switch b {
            case .add: return "\(a[0]) + \(a[1])"
            case .subtract: return "\(a[0]) - \(a[1])"
            case .multiply: return "\(a[0]) * \(a[1])"
            case .divide: return "\(a[0]) / \(a[1])"
            case .minimum: return "\(helper("min", op.type))(\(a[0]), \(a[1]))"
            case .maximum: return "\(helper("max", op.type))(\(a[0]), \(a[1]))"
            case .pow: return "\(function("pow", op.type))(\(a[0]), \(a[1]))"
            case .less: return "\(a[0]) < \(a[1])"
            case .lessEqual: return "\(a[0]) <= \(a[1])"
            case .greater: return "\(a[0]) > \(a[1])"
            case .greaterEqual: return "\(a[0]) >= \(a[1])"
            case .equal: return "\(a[0]) == \(a[1])"
            case .notEqual: return "\(a[0]) != \(a[1])"
            case .and: return "\(a[0]) & \(a[1])"
            case .or: return "\(a[0]) | \(a[1])"
            }
        case .select: return "\(a[0]) ? \(a[1]) : \(a[2])"
        case .reduce: return name(id)
        }
    }

    private func helper(_ base: String, _ type: ValueType) -> String {
        switch type {
        case .int: return "dg_\(base)_i64"
        case .real: return isFloat ? "dg_\(base)_f32" : "dg_\(base)_f64"
        case .double: return "dg_\(base)_f64"
        }
    }

    // MARK: - Statements

    private mutating func line(_ text: String) {
        lines.append(String(repeating: "    ", count: indent) + text)
    }

    private mutating func comment(for id: Int) {
        if let label = program.labels[id] { line("/* \(label) */") }
    }

    /// Emits `id` (after its operands) unless it is inlined or already there.
    private mutating func prepare(_ id: Int) {
        if prepared.contains(id) { return }
        let op = program.ops[id]
        if case .reduce(_, let g) = op.kind {
            emitGroup(g)
            return
        }
        for operand in op.operands { prepare(operand) }
        prepared.insert(id)
        if isInlined(id) { return }
        comment(for: id)
        line("const \(isPredicate(op) ? "int" : cType(op.type)) \(name(id)) = \(expression(id));")
    }

    /// Emits, before a loop opens, everything the loop needs from the loops already open.
    private mutating func hoist(_ rootIds: [Int]) {
        var visited: Set<Int> = []
        var order: [Int] = []
        func visit(_ id: Int) {
            if visited.contains(id) || prepared.contains(id) { return }
            visited.insert(id)
            let op = program.ops[id]
            if open.contains(op.scope) {
                order.append(id)
                return
            }
            for operand in op.operands { visit(operand) }
        }
        for id in rootIds { visit(id) }
        for id in order.sorted() { prepare(id) }
    }

    private mutating func openLoop(_ loop: Int, pragma: String?, from start: String = "0", to end: String? = nil) {
        let l = program.loops[loop]
        prepare(l.extent)
        for pragmaLine in pragma?.split(separator: "\n") ?? [] { line(String(pragmaLine)) }
        let extent = end ?? cText(l.extent, as: .int)
        line("for (int64_t \(l.variable) = \(start); \(l.variable) < \(extent); \(l.variable)++) {")
        indent += 1
        open.insert(loop)
    }

    private mutating func closeLoop(_ loop: Int) {
        indent -= 1
        line("}")
        open.remove(loop)
    }

    /// Opens a group's loops (hoisting what each level needs), runs `body` innermost, closes them.
    ///
    /// A vectorized innermost loop runs in whole vectors up to the last multiple of the vector width,
    /// then once more over the last full vector that ends at the extent (overlapping the elements
    /// already done), instead of leaving a scalar remainder: with C = 91 classes that remainder would
    /// cost a quarter of the loop. `body` gets the condition that marks the new elements of that last
    /// vector (nil in the main loop): sums must add only those; maxima and stores are unaffected by
    /// doing an element twice.
    private mutating func emitLoops(_ loops: [Int], roots rootIds: [Int], innermostPragma: SimdPragma?,
                                    body: (inout CRenderer, _ newInTail: String?) -> Void) {
        for (k, loop) in loops.enumerated() {
            hoist(rootIds)
            if k < loops.count - 1 { openLoop(loop, pragma: nil) }
        }
        let inner = loops.last!
        hoist(rootIds)
        guard let innermostPragma else {
            openLoop(inner, pragma: nil)
            for id in rootIds { prepare(id) }
            body(&self, nil)
            for loop in loops.reversed() { closeLoop(loop) }
            return
        }
        let width = vectorWidth, interleave = kernel.schedule.interleave
        let variable = program.loops[inner].variable
        prepare(program.loops[inner].extent)
        let extent = cText(program.loops[inner].extent, as: .int)
        func name(_ base: String) -> String {
            var name = base, k = 2
            while declaredEnds.contains(name) { name = "\(base)\(k)"; k += 1 }
            declaredEnds.insert(name)
            return name
        }
        let end = name("\(variable)_end")
        line("const int64_t \(end) = \(extent) >= \(width) ? \(extent) - \(extent) % \(width) : \(extent);")
        // one vector at a time: the compiler runs a loop of `interleave` vectors per step only over whole
        // steps, and would leave what is left to scalar code
        let single = innermostPragma.text(interleave: 1)
        let before = prepared
        func reset() {
            prepared = prepared.filter { before.contains($0) || !isInside(program.ops[$0].scope, inner) }
            emittedGroups = emittedGroups.filter { !isInside(program.groups[$0].enclosing, inner) }
        }
        var start = "0"
        if interleave > 1 {
            let steps = name("\(variable)_steps")
            line("const int64_t \(steps) = \(end) - \(end) % \(width * interleave);")
            openLoop(inner, pragma: innermostPragma.text(interleave: interleave), to: steps)
            for id in rootIds { prepare(id) }
            body(&self, nil)
            closeLoop(inner)
            reset()
            line("/* the whole vectors left, one at a time */")
            start = steps
        }
        openLoop(inner, pragma: single, from: start, to: end)
        for id in rootIds { prepare(id) }
        body(&self, nil)
        closeLoop(inner)
        reset()
        line("/* the last \(width) as one vector ending at \(extent) */")
        openLoop(inner, pragma: single, from: "\(end) < \(extent) ? \(extent) - \(width) : \(extent)")
        for id in rootIds { prepare(id) }
        body(&self, "\(variable) >= \(end)")
        for loop in loops.reversed() { closeLoop(loop) }
    }

    /// `Schedule.prefetch`: before the loop over a group's items, one scalar pass that computes where each
    /// item's first element of each list tensor (each head's logits, boxes) is and prefetches it, so that
    /// the vector loop's gathers find them in cache rather than waiting on memory one vector at a time.
    private mutating func emitPrefetch(_ group: LoopGroup) {
        guard group.loops.count == 1, let loop = group.loops.first else { return }
        // the loads of list tensors inside the loop that the members need
        var loads: [Int] = [], seen: Set<Int> = []
        var stack = group.members
        while let id = stack.popLast() {
            if seen.contains(id) || !isInside(program.ops[id].scope, loop) { continue }
            seen.insert(id)
            let op = program.ops[id]
            if case .load(let tensor, false) = op.kind, kernel.inputs.first(where: { $0.name == tensor })?.isList == true { loads.append(id) }
            stack += op.operands
        }
        guard !loads.isEmpty else { return }
        // one element per tensor and item: the first (an item's elements of one tensor, such as a box's
        // four coordinates, share a cache line)
        loads.sort()
        var tensors: Set<String> = []
        loads = loads.filter { tensors.insert(tensorName(of: $0)).inserted }
        let indices = loads.flatMap { program.ops[$0].operands }
        let before = prepared
        line("/* prefetched: each item's \(Set(loads.map { tensorName(of: $0) }).sorted().joined(separator: ", ")) */")
        emitLoops([loop], roots: indices, innermostPragma: nil) { r, _ in
            for id in loads {
                let operands = r.program.ops[id].operands
                // into L2 (locality 2): a row's items touch more lines than L1 holds
                r.line("__builtin_prefetch(&\(r.tensorName(of: id))[\(r.cText(operands[operands.count - 2], as: .int))][\(r.cText(operands[operands.count - 1], as: .int))], 0, 2);")
            }
        }
        prepared = prepared.filter { before.contains($0) || !isInside(program.ops[$0].scope, loop) }
        emittedGroups = emittedGroups.filter { !isInside(program.groups[$0].enclosing, loop) }
    }

    private func tensorName(of load: Int) -> String {
        if case .load(let tensor, _) = program.ops[load].kind { return tensor }
        return ""
    }

    /// How a max reduction of values of type `t` is carried: the key's C type, the function turning a
    /// value into its order-preserving key (nil: the value is its own key) and the smallest key.
    func maxKey(_ t: ValueType) -> (type: String, key: String?, lowest: String) {
        switch t {
        case .int: return ("int64_t", nil, "INT64_MIN")
        case .real where isFloat: return ("int32_t", "dg_order_f32", "INT32_MIN")
        default: return ("int64_t", "dg_order_f64", "INT64_MIN")
        }
    }

    /// The pragmas of a vectorized inner loop: `omp simd` with its clause (reductions) and the vector
    /// width (the compiler's cost model otherwise often settles for half of it), and the vectors in
    /// flight per step.
    private struct SimdPragma {
        let width: Int, clause: String?
        func text(interleave: Int) -> String {
            "#pragma omp simd simdlen(\(width))" + (clause.map { " " + $0 } ?? "")
                + "\n#pragma clang loop interleave_count(\(interleave))"
        }
    }

    /// The pragmas of an inner loop with the current vector width, or nil when the schedule does not
    /// vectorize.
    private func simd(_ clause: String?) -> SimdPragma? {
        kernel.schedule.vectorize ? SimdPragma(width: vectorWidth, clause: clause) : nil
    }

    /// Lanes per vector: the output's (while one with its own lanes is emitted), the schedule's, or 16
    /// floats (8 doubles): one AVX-512 register, two AVX2 ones.
    private var vectorWidth: Int { outputLanes ?? kernel.schedule.vectorWidth ?? (isFloat ? 16 : 8) }
    private var outputLanes: Int? = nil

    /// Whether a scan that stops early (an `any`) runs inside one of `loops`: that keeps the loops from
    /// being vectorized.
    private func scans(inside loops: [Int]) -> Bool {
        program.groups.contains { g in g.reduction == .any && loops.contains { isInside(g.enclosing, $0) } }
    }

    private func groupTitle(_ g: Int) -> String {
        let group = program.groups[g]
        let axes = group.loops.map { program.loops[$0].variable }.joined(separator: ", ")
        let names = group.members.compactMap { program.labels[program.ops[$0].operands.first ?? $0] }
        let what = names.isEmpty ? "" : ": " + names.joined(separator: "; ")
        switch group.reduction {
        case .sum?, .max?:
            let kinds = Set(group.members.compactMap { id -> Reduction? in
                if case .reduce(let r, _) = program.ops[id].kind { return r } else { return nil } })
            let title = kinds == [.max] ? "max" : kinds == [.sum] ? "Σ" : "Σ and max"
            return "/* \(title) over \(axes)\(what) */"
        case .argmax?: return "/* argmax over \(axes)\(what) */"
        case .any?: return "/* any over \(axes)\(what) */"
        case nil: return "/* for each \(axes)\(what) */"
        }
    }

    private mutating func emitGroup(_ g: Int) {
        if emittedGroups.contains(g) { return }
        emittedGroups.insert(g)
        let group = program.groups[g]
        let bodies = group.members.map { program.ops[$0].operands[0] }
        hoist(bodies)
        line(groupTitle(g))
        switch group.reduction {
        case .sum?, .max?:
            // Sums accumulate in double; maxima of reals through order-preserving integer keys (integer
            // max reductions vectorize where float ones would need fast-math).
            var sums: [String] = [], keys: [String] = []
            for member in group.members {
                if case .reduce(.max, _) = program.ops[member].kind {
                    let (keyType, _, lowest) = maxKey(program.ops[member].type)
                    keys.append("\(name(member))_key")
                    line("\(keyType) \(name(member))_key = \(lowest);")
                } else {
                    sums.append(name(member))
                    line("double \(name(member)) = 0.0;")
                }
            }
            let clauses = (sums.isEmpty ? [] : ["reduction(+:\(sums.joined(separator: ",")))"])
                + (keys.isEmpty ? [] : ["reduction(max:\(keys.joined(separator: ",")))"])
            let pragma = scans(inside: group.loops) ? nil : simd(clauses.joined(separator: " "))
            emitLoops(group.loops, roots: bodies, innermostPragma: pragma) { r, newInTail in
                for (member, body) in zip(group.members, bodies) {
                    if case .reduce(.max, _) = r.program.ops[member].kind {
                        let (keyType, key, _) = r.maxKey(r.program.ops[member].type)
                        let value = r.cText(body, as: r.program.ops[member].type)
                        let k = "\(r.name(member))_key"
                        r.line("const \(keyType) candidate\(member) = \(key.map { "\($0)(\(value))" } ?? value);")
                        r.line("\(k) = candidate\(member) > \(k) ? candidate\(member) : \(k);")
                    } else {
                        let term = r.cText(body, as: .double)
                        r.line("\(r.name(member)) += \(newInTail.map { "\($0) ? \(term) : 0.0" } ?? term);")
                    }
                }
            }
            for member in group.members {
                if case .reduce(.max, _) = program.ops[member].kind {
                    let t = program.ops[member].type
                    let (_, key, _) = maxKey(t)
                    line("const \(cType(t)) \(name(member)) = \(key.map { "\($0)_value(\(name(member))_key)" } ?? "\(name(member))_key");")
                }
            }
        case .any?:
            // A scan that stops after the first block of a vector's width where the condition holds: a
            // whole block is a fixed-length loop the compiler turns into one vector test, and the branch
            // that ends the scan is taken once, not guessed at every index (an element-wise early exit
            // mispredicts about once per scan). The last block, when shorter, is a plain loop.
            let member = group.members[0]
            let body = bodies[0]
            let loop = group.loops[0]
            let variable = program.loops[loop].variable
            prepare(program.loops[loop].extent)
            let extent = cText(program.loops[loop].extent, as: .int)
            if let scan = atLeastScan(body, loop: loop) {
                // x[i] ≥ v over consecutive float32 elements: the prelude's scan (on AVX-512, one masked
                // compare per 16 elements)
                for id in scan.rowValues { prepare(id) }
                line("const int \(name(member)) = dg_any_at_least_f32(\(scan.pointer) + \(cText(scan.start, as: .int)), \(extent), "
                     + "\(cText(scan.bound, as: .real)));")
                break
            }
            let width = vectorWidth, block = "\(variable)_block"
            line("int \(name(member)) = 0;")
            line("for (int64_t \(block) = 0; \(block) < \(extent) && !\(name(member)); \(block) += \(width)) {")
            indent += 1
            let before = prepared
            for (k, (condition, end)) in [("if (\(block) + \(width) <= \(extent)) {", "\(block) + \(width)"), ("} else {", extent)].enumerated() {
                line(condition)
                indent += 1
                if k > 0 {
                    prepared = prepared.filter { before.contains($0) || !isInside(program.ops[$0].scope, loop) }
                    emittedGroups = emittedGroups.filter { !isInside(program.groups[$0].enclosing, loop) }
                }
                openLoop(loop, pragma: nil, from: block, to: end)
                for id in bodies { prepare(id) }
                line("\(name(member)) |= \(cText(body, as: .int));")
                closeLoop(loop)
                indent -= 1
            }
            line("}")
            indent -= 1
            line("}")
        case .argmax?:
            // Two vectorizable passes instead of one branchy loop: the largest value, then the first index
            // holding it (a min reduction). Real values are compared in the first pass through an
            // order-preserving integer key, because integer max reductions vectorize where float ones
            // would need fast-math; the second pass compares the values themselves (so −0 equals +0).
            // Inputs are finite, so some index always holds the largest value.
            let member = group.members[0]
            let body = bodies[0]
            let t = program.ops[body].type
            let (keyType, key, lowest) = maxKey(t)
            let best = "best\(member)", candidate = "candidate\(member)"
            let loop = group.loops[0]
            let variable = program.loops[loop].variable
            let extent = cText(program.loops[loop].extent, as: .int)
            func value(_ r: CRenderer) -> String { r.cText(body, as: t) }
            line("\(keyType) \(best)_key = \(lowest);")
            let unprepared = prepared
            emitLoops(group.loops, roots: bodies, innermostPragma: simd("reduction(max:\(best)_key)")) { r, _ in
                r.line("const \(keyType) \(candidate) = \(key.map { "\($0)(\(value(r)))" } ?? value(r));")
                r.line("\(best)_key = \(candidate) > \(best)_key ? \(candidate) : \(best)_key;")
            }
            // The body's operations inside the loop are written again in the second loop.
            prepared = prepared.filter { unprepared.contains($0) || !isInside(program.ops[$0].scope, loop) }
            if let key {
                line("const \(cType(t)) \(best) = \(key)_value(\(best)_key);")
            } else {
                line("const int64_t \(best) = \(best)_key;")
            }
            line("int64_t \(name(member)) = \(extent);")
            emitLoops(group.loops, roots: bodies, innermostPragma: simd("reduction(min:\(name(member)))")) { r, _ in
                r.line("const int64_t \(candidate) = \(value(r)) == \(best) ? \(variable) : \(extent);")
                r.line("\(r.name(member)) = \(candidate) < \(r.name(member)) ? \(candidate) : \(r.name(member));")
            }
            line("if (\(name(member)) == \(extent)) \(name(member)) = 0;")
        case nil:
            preconditionFailure("map groups are emitted as outputs")
        }
        for m in group.members { prepared.insert(m) }
    }

    /// A scan `x[start + i] ≥ bound` for i along `loop`, over a float32 tensor, with `start` and `bound`
    /// (and a list tensor's element) outside the loop: what `dg_any_at_least_f32` computes.
    private func atLeastScan(_ body: Int, loop: Int) -> (pointer: String, start: Int, bound: Int, rowValues: [Int])? {
        let op = program.ops[body]
        guard isFloat, case .binary(.greaterEqual) = op.kind else { return nil }
        let (lhs, bound) = (program.ops[op.operands[0]], op.operands[1])
        guard case .load(let tensorName, false) = lhs.kind,
              let tensor = kernel.inputs.first(where: { $0.name == tensorName }), tensor.type == .float32,
              !isInside(program.ops[bound].scope, loop) else { return nil }
        // the flat index: the loop variable, plus a value from outside the loop
        let index = lhs.operands[lhs.operands.count - 1]
        let loopIndex = { (id: Int) -> Bool in
            if case .index(let v) = self.program.ops[id].kind { return v == self.program.loops[loop].variable }
            return false
        }
        var start: Int
        if case .binary(.add) = program.ops[index].kind {
            let (a, b) = (program.ops[index].operands[0], program.ops[index].operands[1])
            if loopIndex(b), !isInside(program.ops[a].scope, loop) { start = a } else if loopIndex(a), !isInside(program.ops[b].scope, loop) { start = b } else { return nil }
        } else {
            return nil
        }
        var pointer = tensorName, rowValues = [start, bound]
        if tensor.isList {
            let element = lhs.operands[lhs.operands.count - 2]
            guard !isInside(program.ops[element].scope, loop) else { return nil }
            rowValues.append(element)
            pointer = "\(tensorName)[\(cText(element, as: .int))]"
        }
        return (pointer, start, bound, rowValues)
    }

    // MARK: - The function

    /// The C type, name and dimension text of each argument, in order.
    func arguments() -> [(declaration: String, doc: String)] {
        var sizeNames: [String] = []
        func addSizes(_ e: Extent) {
            switch e {
            case .size(let s): if !sizeNames.contains(s) { sizeNames.append(s) }
            case .fixed, .expression: break
            case .product(let a, let b): addSizes(a); addSizes(b)
            }
        }
        var usedSizes: Set<String> = []
        for id in reachable { if case .size(let s) = program.ops[id].kind { usedSizes.insert(s) } }
        for axis in kernel.rows { addSizes(axis.extent) }
        for tensor in kernel.inputs { tensor.shape.forEach(addSizes) }
        for output in kernel.outputs {
            switch output {
            case .map(_, _, let axes, _, _), .store(_, _, let axes, _, _, _): axes.forEach { addSizes($0.extent) }
            case .smallest(_, _, let axis, _, _): addSizes(axis.extent)
            default: break
            }
        }
        for id in reachable.sorted() { if case .size(let s) = program.ops[id].kind, !sizeNames.contains(s) { sizeNames.append(s) } }
        func strideArguments(_ t: Tensor) -> [String] {
            t.strides.compactMap { if case .size(let s) = $0, s.hasPrefix("\(t.name)_s") { return s } else { return nil } }
        }
        let strideNames = Set(kernel.inputs.flatMap(strideArguments))
        var args: [(String, String)] = []
        for s in sizeNames where usedSizes.contains(s) && !strideNames.contains(s) {
            args.append(("const int64_t \(s)", "size"))
        }
        for tensor in kernel.inputs {
            let dims = tensor.shape.map(describe).joined(separator: " × ")
            let pointer = tensor.isList ? "const \(cType(tensor.type)) *const *restrict" : "const \(cType(tensor.type)) *restrict"
            let what = tensor.isList ? "[\(describe(tensor.shape[0]))] pointers, each to [\(tensor.shape.dropFirst().map(describe).joined(separator: " × "))]"
                : "[\(dims)]"
            args.append(("\(pointer) \(tensor.name)", "\(what) \(tensor.type.rawValue)" + (tensor.doc.isEmpty ? "" : ": \(tensor.doc)")))
            for s in strideArguments(tensor) where usedSizes.contains(s) {
                args.append(("const int64_t \(s)", "stride of \(tensor.name), in elements"))
            }
        }
        for p in kernel.parameters { args.append(("const double \(p)", "parameter")) }
        let rowDims = kernel.rows.map { describe($0.extent) }
        for output in kernel.outputs {
            switch output {
            case .total(let n, _, let doc): args.append(("double *restrict \(n)", "[1] total" + (doc.isEmpty ? "" : ": \(doc)")))
            case .perRow(let n, let t, _, let doc):
                args.append(("\(cType(t)) *restrict \(n)", "[\(rowDims.joined(separator: " × "))] \(t.rawValue)" + (doc.isEmpty ? "" : ": \(doc)")))
            case .map(let n, let t, let axes, _, let doc):
                let dims = (rowDims + axes.map { describe($0.extent) }).joined(separator: " × ")
                args.append(("\(cType(t)) *restrict \(n)", "[\(dims)] \(t.rawValue)" + (doc.isEmpty ? "" : ": \(doc)")))
            case .store(let n, let t, _, _, _, let doc):
                args.append(("\(cType(t)) *restrict \(n)", "[…] \(t.rawValue), written where the kernel says" + (doc.isEmpty ? "" : ": \(doc)")))
            case .gather(let n, _, let doc):
                args.append(("float *restrict \(n)", "[…] float32, written where the kernel says" + (doc.isEmpty ? "" : ": \(doc)")))
            case .smallest(let n, let count, let axis, _, let doc):
                let dims = (rowDims + [String(count)]).joined(separator: " × ")
                args.append(("float *restrict \(n)_value", "[\(dims)] float32: the \(count) smallest over \(axis.name), ascending" + (doc.isEmpty ? "" : ": \(doc)")))
                args.append(("int32_t *restrict \(n)_index", "[\(dims)] int32: where they are (−1 past the end)"))
            }
        }
        return args
    }

    private func describe(_ e: Extent) -> String {
        switch e {
        case .size(let s): return s
        case .fixed(let n): return String(n)
        case .product(let a, let b): return "\(describe(a))·\(describe(b))"
        case .expression: return "…"
        }
    }

    /// The C prototype (without the semicolon or body).
    func prototype() -> String {
        let args = arguments().map { "    " + $0.declaration }.joined(separator: ",\n")
        return "void dino_\(kernel.name)(\n\(args))"
    }

    /// The name an argument declaration declares.
    private static func argumentName(_ declaration: String) -> String {
        let last = declaration.split(separator: " ").last.map(String.init) ?? declaration
        return last.hasPrefix("*") ? String(last.dropFirst()) : last
    }

    /// The arguments the rows function takes: the kernel's, but for the totals (a block's go to
    /// `block_totals`) and the sizes its body does not use (those only the row count needs).
    private var rowsArguments: [String] = []

    private var totalNames: [String] {
        kernel.outputs.compactMap { o -> String? in if case .total(let n, _, _) = o { return n } else { return nil } }
    }

    /// The name of the function that computes one block of rows, with the ISA suffix the including
    /// file chooses (`DG_VARIANT`: `_avx2` or `_avx512`).
    var rowsFunction: String { "dino_\(kernel.name)_rows" }

    /// The prototype of the rows function: the kernel's arguments, the block and its totals.
    func rowsPrototype(name: String) -> String {
        var args = rowsArguments.map { "    " + $0 }
        args.append("    const int64_t block")
        if !totalNames.isEmpty { args.append("    double *restrict block_totals") }
        return "void \(name)(\n\(args.joined(separator: ",\n")))"
    }

    /// The function computing the rows of one block (`blockRows` consecutive rows): the kernel's math,
    /// written once and compiled once per instruction set.
    mutating func renderRows() -> String {
        lines = []
        indent = 1
        let totals = totalNames
        let block = kernel.schedule.blockRows
        if block != 1 {
            let rowText = program.rowAxes.map { cText($0.extent, as: .int) }
            line("const int64_t rows = \(rowText.joined(separator: " * "));")
        }
        hoist(roots)
        for t in totals { line("double block_\(t) = 0.0;") }
        if block == 1 {
            line("const int64_t row = block;")
            line("{")
        } else {
            line("const int64_t row_end = block * \(block) + \(block) < rows ? block * \(block) + \(block) : rows;")
            line("for (int64_t row = block * \(block); row < row_end; row++) {")
        }
        indent += 1
        open.insert(1)
        emitRowAxes()
        for (output, value) in zip(kernel.outputs, outputs) {
            switch (output, value) {
            case (.total(let n, _, let doc), .value(let id)):
                prepare(id)
                if !doc.isEmpty { line("/* \(doc) */") }
                line("block_\(n) += \(cText(id, as: .double));")
            case (.perRow(let n, let t, _, let doc), .value(let id)):
                prepare(id)
                if !doc.isEmpty { line("/* \(doc) */") }
                line("\(n)[row] = (\(cType(t)))\(cText(id, as: .double));")
            case (.map(let n, _, _, _, let doc), .map(let g, _)):
                // the loop of every map over these axes, written with the first of them
                if emittedMaps.contains(g) { continue }
                emittedMaps.insert(g)
                let group = program.groups[g]
                let stores = zip(kernel.outputs, outputs).compactMap { o, v -> (String, ElementType, Int)? in
                    if case .map(let name, let type, _, _, _) = o, case .map(g, let value) = v { return (name, type, value) }
                    return nil
                }
                line(groupTitle(g) + (stores.count == 1 ? (doc.isEmpty ? "" : " /* \(doc) */") : " /* " + stores.map(\.0).joined(separator: ", ") + " */"))
                var index = "row"
                for loop in group.loops {
                    let l = program.loops[loop]
                    index = "(\(index)) * \(cText(l.extent, as: .int)) + \(l.variable)"
                }
                index = index.replacingOccurrences(of: "(row)", with: "row")
                outputLanes = kernel.schedule.outputLanes[n]
                emitLoops(group.loops, roots: group.members, innermostPragma: scans(inside: group.loops) ? nil : simd(nil)) { r, _ in
                    for (name, type, value) in stores {
                        r.line("\(name)[\(index)] = (\(r.cType(type)))\(r.cText(value, as: .double));")
                    }
                }
                outputLanes = nil
            case (.store(let n, _, _, _, _, let doc), .map(let g, _)):
                // the loop of every store over these axes, written with the first of them: the k-th store of
                // the group has members 2k (its value) and 2k + 1 (its position)
                if emittedMaps.contains(g) { continue }
                emittedMaps.insert(g)
                let group = program.groups[g]
                let stores = zip(kernel.outputs, outputs).compactMap { o, v -> (String, ElementType)? in
                    if case .store(let name, let type, _, _, _, _) = o, case .map(g, _) = v { return (name, type) }
                    return nil
                }
                line(groupTitle(g) + (stores.count == 1 ? (doc.isEmpty ? "" : " /* \(doc) */") : " /* " + stores.map(\.0).joined(separator: ", ") + " */"))
                if kernel.schedule.prefetch { emitPrefetch(group) }
                outputLanes = kernel.schedule.outputLanes[n]
                emitLoops(group.loops, roots: group.members, innermostPragma: scans(inside: group.loops) ? nil : simd(nil)) { r, _ in
                    for (k, (name, type)) in stores.enumerated() {
                        let (value, position) = (group.members[2 * k], group.members[2 * k + 1])
                        r.line("\(name)[\(r.cText(position, as: .int))] = (\(r.cType(type)))\(r.cText(value, as: .double));")
                    }
                }
                outputLanes = nil
            case (.smallest(let n, let count, _, _, let doc), .map(let g, _)):
                // every value into a row buffer (one vector pass), then the selection (dg_smallest_f32)
                let group = program.groups[g]
                let member = group.members[0]
                let loop = group.loops[0]
                prepare(program.loops[loop].extent)
                let extent = cText(program.loops[loop].extent, as: .int)
                let variable = program.loops[loop].variable
                line("/* the \(count) smallest over \(variable)\(doc.isEmpty ? "" : ": \(doc)") */")
                line("float \(n)_row[(\(extent) + 15) / 16 * 16 + 16];")
                outputLanes = kernel.schedule.outputLanes[n]
                emitLoops(group.loops, roots: [member], innermostPragma: scans(inside: group.loops) ? nil : simd(nil)) { r, _ in
                    r.line("\(n)_row[\(variable)] = (float)\(r.cText(member, as: .double));")
                }
                outputLanes = nil
                line("dg_smallest_f32(\(n)_row, \(extent), \(count), \(n)_value + row * \(count), \(n)_index + row * \(count));")
            case (.gather(let n, let gather, let doc), .values(let ids)):
                for id in ids { prepare(id) }
                let a = ids.map { cText($0, as: .int) }
                let source = gather.list == nil ? gather.source.name : "\(gather.source.name)[\(a[7])]"
                if !doc.isEmpty { line("/* \(doc) */") }
                line("dg_gather_columns_f32(\(source) + \(a[0]), \(a[1]), \(a[2]), \(gather.columns.name) + \(a[3]), \(a[4]), \(n) + \(a[5]), \(a[6]));")
            default:
                preconditionFailure("output and value kinds disagree")
            }
        }
        open.remove(1)
        indent -= 1
        line("}")
        for (k, t) in totals.enumerated() { line("block_totals[\(k)] = block_\(t);") }
        let text = lines.joined(separator: "\n")
        let code = text.replacingOccurrences(of: "/\\*.*?\\*/", with: "", options: .regularExpression)
        let totalSet = Set(totals)
        rowsArguments = arguments().map(\.declaration).filter { declaration in
            let name = Self.argumentName(declaration)
            if totalSet.contains(name) { return false }
            guard declaration.hasPrefix("const int64_t ") else { return true }
            return code.range(of: "\\b\(name)\\b", options: .regularExpression) != nil
        }
        return rowsPrototype(name: "DG_VARIANT(\(rowsFunction))") + "\n{\n" + text + "\n}\n"
    }

    /// The public function: splits the rows into blocks, runs them on the OpenMP threads with the
    /// rows function of the widest instruction set the CPU has, and adds the blocks' totals in block
    /// order.
    mutating func renderDriver() -> String {
        lines = []
        indent = 1
        prepared = []
        emittedGroups = []
        open = [0]
        let totals = totalNames
        let block = kernel.schedule.blockRows
        let rowIds = program.rowAxes.map(\.extent)
        hoist(rowIds)
        let rowText = program.rowAxes.map { cText($0.extent, as: .int) }
        line("const int64_t rows = \(rowText.joined(separator: " * "));")
        line(block == 1 ? "const int64_t blocks = rows;" : "const int64_t blocks = (rows + \(block - 1)) / \(block);")
        if !totals.isEmpty { line("double partial[(blocks > 0 ? blocks : 1) * \(totals.count)];") }
        line("const int wide = dg_use_avx512();")
        if kernel.schedule.parallel { line("#pragma omp parallel for schedule(static)") }
        line("for (int64_t block = 0; block < blocks; block++) {")
        indent += 1
        let args = (rowsArguments.map(Self.argumentName) + ["block"] + (totals.isEmpty ? [] : ["partial + block * \(totals.count)"])).joined(separator: ", ")
        line("if (wide) \(rowsFunction)_avx512(\(args));")
        line("else \(rowsFunction)_avx2(\(args));")
        indent -= 1
        line("}")
        if !totals.isEmpty {
            line("/* block sums added in block order: the result does not depend on the thread count */")
            for (k, t) in totals.enumerated() {
                line("double sum_\(t) = 0.0;")
                line("for (int64_t block = 0; block < blocks; block++) sum_\(t) += partial[block * \(totals.count) + \(k)];")
                line("*\(t) = sum_\(t);")
            }
        }
        return prototype() + "\n{\n" + lines.joined(separator: "\n") + "\n}\n"
    }

    private mutating func emitRowAxes() {
        let used = Set(reachable.compactMap { id -> String? in
            if case .index(let v) = program.ops[id].kind, program.ops[id].scope == 1 { return v } else { return nil }
        })
        let axes = program.rowAxes
        var rest = "row"
        for k in stride(from: axes.count - 1, through: 0, by: -1) {
            let (axisName, extent) = axes[k]
            let e = cText(extent, as: .int)
            if k == 0 {
                if used.contains(axisName) { line("const int64_t \(axisName) = \(rest);") }
            } else {
                if used.contains(axisName) { line("const int64_t \(axisName) = \(rest) % \(e);") }
                rest = rest == "row" ? "row / \(e)" : "(\(rest)) / \(e)"
            }
        }
    }
}
