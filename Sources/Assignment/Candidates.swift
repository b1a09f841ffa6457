/// Builds the restricted problems of ``Solver`` from the caller's matrix: which edges each bidder keeps.
enum Candidates {
    /// Checks every entry (NaN and −∞ are errors, reported at the first one in memory order) and
    /// returns max − min over the finite entries (0 when there are none).
    static func validate(_ o: Orientation) throws -> Double {
        let total = o.rows * o.cols
        let a = o.costs
        var low = Double.infinity, high = -Double.infinity
        var k = 0
        while k < total {
            let v = a[k]
            if !(v > -.infinity) {
                throw AssignmentError.invalidEntry(row: k / o.cols, col: k % o.cols, value: v)
            }
            if v < low { low = v }
            if v > high && v < .infinity { high = v }
            k &+= 1
        }
        return high >= low ? high - low : 0
    }

    /// Validates every entry and keeps each bidder's `k` cheapest finite costs (the lower object
    /// first among equal costs) in one pass over the matrix in memory order. When `truncated`, the
    /// problem records for each bidder a lower bound of the costs it left out (its k-th cheapest; +∞
    /// when it kept all its finite costs). Throws `infeasible` when a bidder has no finite cost.
    static func cheapest(_ o: Orientation, k: Int, truncated: Bool, arena: Arena) throws -> Problem {
        let n = o.bidders, m = o.objects
        let slotCost = arena.uninitialized(n * k, of: Double.self)
        let slotObject = arena.uninitialized(n * k, of: Int32.self)
        let filled = arena.make(n, Int32(0))
        let bound = arena.make(n, Double.infinity)
        let a = o.costs

        /// Inserts (v, j) into bidder i's sorted slots; v is below the bidder's bound.
        @inline(__always) func insert(_ i: Int, _ v: Double, _ j: Int) {
            let base = i &* k
            var position: Int
            let c = Int(filled[i])
            if c < k {
                position = c
                filled[i] = Int32(c + 1)
            } else {
                position = k - 1
            }
            let slots = slotCost + base, objects = slotObject + base
            while position > 0 && slots[position &- 1] > v {
                slots[position] = slots[position &- 1]
                objects[position] = objects[position &- 1]
                position &-= 1
            }
            slots[position] = v
            objects[position] = Int32(truncatingIfNeeded: j)
            if Int(filled[i]) == k { bound[i] = slots[k &- 1] }
        }

        if o.transposed && n >= 32 {
            // Memory rows are objects, each with one cost per bidder in bidder order, like the bounds:
            // eight costs at a time against eight bounds, a hit going to the slow path.
            for j in 0..<m {
                let row = a + j &* n
                var i = 0
                while i &+ 8 <= n {
                    if !Self.allAtLeast(row + i, bound + i) {
                        for t in i..<(i &+ 8) {
                            let x = row[t]
                            if !(x >= bound[t]) {
                                if !(x > -.infinity) { throw o.invalid(t, j, x) }
                                insert(t, x, j)
                            }
                        }
                    }
                    i &+= 8
                }
                while i < n {
                    let x = row[i]
                    if !(x >= bound[i]) {
                        if !(x > -.infinity) { throw o.invalid(i, j, x) }
                        insert(i, x, j)
                    }
                    i &+= 1
                }
            }
        } else if o.transposed {
            // Few bidders: blocks of eight memory rows are compared eight costs at a time with eight
            // copies of the bounds laid end to end (`tiled`), so that one test covers eight costs
            // whatever n is; a hit goes to the slow path.
            let copies = 8
            let tiled = arena.make(copies * n, Double.infinity)
            @inline(__always) func slow(_ j: Int, _ i: Int, _ v: Double) throws {
                if !(v > -.infinity) { throw o.invalid(i, j, v) }
                insert(i, v, j)
                let b = bound[i]
                var t = i
                for _ in 0..<copies { tiled[t] = b; t &+= n }
            }
            let width = copies * n
            var j = 0
            while j &+ copies <= m {
                let block = a + j &* n
                var c = 0
                while c < width {
                    if !Self.allAtLeast(block + c, tiled + c) {
                        for t in c..<(c &+ 8) {
                            let x = block[t]
                            if !(x >= tiled[t]) { try slow(j &+ t / n, t % n, x) }
                        }
                    }
                    c &+= 8
                }
                j &+= copies
            }
            while j < m {
                let row = a + j &* n
                for i in 0..<n where !(row[i] >= bound[i]) { try slow(j, i, row[i]) }
                j &+= 1
            }
        } else {
            for i in 0..<n {
                let row = a + i &* o.cols
                var limit = Double.infinity
                var j = 0
                while j &+ 8 <= m {
                    if !Self.allAtLeast(row + j, limit) {
                        for t in j..<(j &+ 8) {
                            let x = row[t]
                            if !(x >= limit) {
                                if !(x > -.infinity) { throw o.invalid(i, t, x) }
                                insert(i, x, t)
                                limit = bound[i]
                            }
                        }
                    }
                    j &+= 8
                }
                while j < m {
                    let x = row[j]
                    if !(x >= limit) {
                        if !(x > -.infinity) { throw o.invalid(i, j, x) }
                        insert(i, x, j)
                        limit = bound[i]
                    }
                    j &+= 1
                }
            }
        }

        var low = Double.infinity, high = -Double.infinity
        let start = arena.uninitialized(n, of: Int.self)
        for i in 0..<n {
            let c = Int(filled[i])
            if c == 0 { throw AssignmentError.infeasible }
            start[i] = i &* k
            if slotCost[i &* k] < low { low = slotCost[i &* k] }
            if slotCost[i &* k + c - 1] > high { high = slotCost[i &* k + c - 1] }
            if c < k { bound[i] = .infinity }
        }
        let (objects, original) = compact(slotObject, start: start, count: filled, bidders: n, objects: m, arena: arena)
        return Problem(bidders: n, objects: objects, cost: slotCost, start: start, count: filled, object: slotObject,
                       original: original, outside: truncated ? UnsafePointer(bound) : nil, span: high - low)
    }

    /// True when each of the eight values at `v` is ≥ its counterpart at `bound` (false for NaN).
    @inline(__always) static func allAtLeast(_ v: UnsafePointer<Double>, _ bound: UnsafePointer<Double>) -> Bool {
        let x = UnsafeRawPointer(v), y = UnsafeRawPointer(bound)
        let m0 = x.loadUnaligned(as: SIMD2<Double>.self) .>= y.loadUnaligned(as: SIMD2<Double>.self)
        let m1 = x.loadUnaligned(fromByteOffset: 16, as: SIMD2<Double>.self) .>= y.loadUnaligned(fromByteOffset: 16, as: SIMD2<Double>.self)
        let m2 = x.loadUnaligned(fromByteOffset: 32, as: SIMD2<Double>.self) .>= y.loadUnaligned(fromByteOffset: 32, as: SIMD2<Double>.self)
        let m3 = x.loadUnaligned(fromByteOffset: 48, as: SIMD2<Double>.self) .>= y.loadUnaligned(fromByteOffset: 48, as: SIMD2<Double>.self)
        return all((m0 .& m1) .& (m2 .& m3))
    }

    /// True when each of the eight values at `v` is ≥ `bound` (false for NaN).
    @inline(__always) static func allAtLeast(_ v: UnsafePointer<Double>, _ bound: Double) -> Bool {
        let x = UnsafeRawPointer(v), y = SIMD2(repeating: bound)
        let m0 = x.loadUnaligned(as: SIMD2<Double>.self) .>= y
        let m1 = x.loadUnaligned(fromByteOffset: 16, as: SIMD2<Double>.self) .>= y
        let m2 = x.loadUnaligned(fromByteOffset: 32, as: SIMD2<Double>.self) .>= y
        let m3 = x.loadUnaligned(fromByteOffset: 48, as: SIMD2<Double>.self) .>= y
        return all((m0 .& m1) .& (m2 .& m3))
    }

    /// Each bidder keeps its `k` cheapest finite costs and every cost tied with the k-th, found by
    /// selection (for long lists, where the one-pass insertion of ``cheapest`` gets slow). With
    /// `truncated` the problem records the k-th cheapest cost as each bidder's bound of what it left
    /// out. When `k` reaches half the objects the lists are dense: every object, no copy unless the
    /// matrix is transposed. Unless `validated`, the entries are checked first (see ``validate``).
    static func selected(_ o: Orientation, k: Int, truncated: Bool, validated: Bool, arena: Arena) throws -> Problem {
        let n = o.bidders, m = o.objects
        if 2 * k >= m {
            let span = try validate(o)
            let cost: UnsafePointer<Double>, stride: Int
            if o.transposed {
                let copy = arena.uninitialized(n * m, of: Double.self)
                transpose(o, into: copy)
                cost = UnsafePointer(copy)
                stride = m
            } else {
                cost = o.costs
                stride = o.cols
            }
            for i in 0..<n {
                let row = cost + i * stride
                var finite = false
                for j in 0..<m where row[j] < .infinity { finite = true; break }
                if !finite { throw AssignmentError.infeasible }
            }
            return Problem(dense: cost, bidders: n, objects: m, stride: stride, span: span)
        }
        let values = arena.uninitialized(m, of: Double.self)
        let scratch = arena.uninitialized(m, of: Double.self)
        var edges = EdgeBuffer(capacity: n * k + n, arena: arena)
        let start = arena.uninitialized(n, of: Int.self)
        let count = arena.uninitialized(n, of: Int32.self)
        let bound = arena.make(n, Double.infinity)
        var low = Double.infinity, high = -Double.infinity
        for i in 0..<n {
            // The bidder's costs (gathered when transposed) and, in `scratch`, its finite ones.
            // (Branch-free: write every cost to `scratch`, advance past the finite ones.)
            var finite = 0
            var smallest = Double.infinity
            var nan = false
            let costs: UnsafePointer<Double>
            if o.transposed {
                var at = o.costs + i
                for j in 0..<m {
                    let v = at.pointee
                    values[j] = v
                    scratch[finite] = v
                    finite &+= v < .infinity ? 1 : 0
                    smallest = Swift.min(smallest, v)
                    nan = nan || v.isNaN
                    at += o.cols
                }
                costs = UnsafePointer(values)
            } else {
                let row = o.costs + i &* o.cols
                for j in 0..<m {
                    let v = row[j]
                    scratch[finite] = v
                    finite &+= v < .infinity ? 1 : 0
                    smallest = Swift.min(smallest, v)
                    nan = nan || v.isNaN
                }
                costs = row
            }
            if !validated && (nan || smallest == -.infinity) { _ = try validate(o) }
            if finite == 0 { throw AssignmentError.infeasible }
            let limit = finite <= k ? Double.infinity : kthSmallest(scratch, count: finite, k: k)
            if limit < .infinity { bound[i] = limit }
            start[i] = edges.count
            edges.reserve(m)
            for j in 0..<m {
                let v = costs[j]
                if v <= limit && v < .infinity {
                    edges.append(v, Int32(truncatingIfNeeded: j))
                    if v < low { low = v }
                    if v > high { high = v }
                }
            }
            count[i] = Int32(edges.count - start[i])
        }
        let (objects, original) = compact(edges.object, start: start, count: count, bidders: n, objects: m, arena: arena)
        return Problem(bidders: n, objects: objects, cost: edges.cost, start: start, count: count, object: edges.object,
                       original: original, outside: truncated ? UnsafePointer(bound) : nil, span: high - low)
    }

    /// Writes the bidders' rows (the caller's columns) contiguously, in blocks for the cache.
    private static func transpose(_ o: Orientation, into out: UnsafeMutablePointer<Double>) {
        let n = o.bidders, m = o.objects, block = 32
        var j0 = 0
        while j0 < m {
            let j1 = min(j0 + block, m)
            var i0 = 0
            while i0 < n {
                let i1 = min(i0 + block, n)
                for j in j0..<j1 {
                    let row = o.costs + j &* o.cols
                    for i in i0..<i1 { out[i &* m &+ j] = row[i] }
                }
                i0 = i1
            }
            j0 = j1
        }
    }

    /// Renumbers the objects that appear in some list as 0 ..< K in ascending caller order, in place;
    /// returns K and each new object's caller index.
    private static func compact(_ object: UnsafeMutablePointer<Int32>, start: UnsafePointer<Int>, count: UnsafePointer<Int32>,
                                bidders n: Int, objects m: Int, arena: Arena) -> (Int, UnsafeMutablePointer<Int32>) {
        var edges = 0
        for i in 0..<n { edges += Int(count[i]) }
        if edges * 8 <= m {
            // Few edges (few bidders): sort the objects they name rather than scan all m.
            let sorted = arena.uninitialized(edges, of: Int32.self)
            var t = 0
            for i in 0..<n {
                let s = start[i]
                for e in s..<(s + Int(count[i])) { sorted[t] = object[e]; t += 1 }
            }
            var buffer = UnsafeMutableBufferPointer(start: sorted, count: edges)
            buffer.sort()
            var objects = 0
            for t in 0..<edges where t == 0 || sorted[t] != sorted[t - 1] { sorted[objects] = sorted[t]; objects += 1 }
            for i in 0..<n {
                let s = start[i]
                for e in s..<(s + Int(count[i])) {
                    // Binary search of the object among the distinct ones.
                    let target = object[e]
                    var lo = 0, hi = objects - 1
                    while lo < hi {
                        let mid = (lo + hi) >> 1
                        if sorted[mid] < target { lo = mid + 1 } else { hi = mid }
                    }
                    object[e] = Int32(truncatingIfNeeded: lo)
                }
            }
            return (objects, sorted)
        }
        let index = arena.make(m, Int32(-1))
        for i in 0..<n {
            let s = start[i]
            for e in s..<(s + Int(count[i])) { index[Int(object[e])] = 0 }
        }
        var objects = 0
        for j in 0..<m where index[j] == 0 { index[j] = Int32(objects); objects += 1 }
        let original = arena.uninitialized(objects, of: Int32.self)
        for j in 0..<m where index[j] >= 0 { original[Int(index[j])] = Int32(truncatingIfNeeded: j) }
        for i in 0..<n {
            let s = start[i]
            for e in s..<(s + Int(count[i])) { object[e] = index[Int(object[e])] }
        }
        return (objects, original)
    }

    /// The k-th smallest of `values[0 ..< count]` (1 ≤ k ≤ count), reordering them. A branch-free
    /// pass first takes the minimum of each of k interleaved groups: their maximum τ has at least k
    /// values at or below it, so the k-th smallest is among the values ≤ τ — usually a few times k of
    /// them, which quickselect then handles (or none at all when τ is the minimum: heavy ties).
    static func kthSmallest(_ values: UnsafeMutablePointer<Double>, count: Int, k: Int) -> Double {
        if count > 4 * k {
            let group = UnsafeMutablePointer<Double>.allocate(capacity: k)
            defer { group.deallocate() }
            group.initialize(repeating: .infinity, count: k)
            var base = 0
            while base &+ k <= count {
                let block = values + base
                for g in 0..<k { group[g] = Swift.min(group[g], block[g]) }
                base &+= k
            }
            for g in 0..<(count &- base) { group[g] = Swift.min(group[g], values[base &+ g]) }
            var tau = -Double.infinity, lowest = Double.infinity
            for g in 0..<k { tau = Swift.max(tau, group[g]); lowest = Swift.min(lowest, group[g]) }
            // Every group's minimum is the overall one: it occurs at least k times.
            if lowest == tau { return tau }
            var kept = 0
            for t in 0..<count {
                let v = values[t]
                values[kept] = v
                kept &+= v <= tau ? 1 : 0
            }
            return select(values, count: kept, rank: k - 1)
        }
        return select(values, count: count, rank: k - 1)
    }

    /// The value of rank `rank` (0-based) among `values[0 ..< count]`, reordering them (quickselect).
    static func select(_ values: UnsafeMutablePointer<Double>, count: Int, rank: Int) -> Double {
        var lo = 0, hi = count &- 1
        while lo < hi {
            let pivot = values[lo &+ (hi &- lo) / 2]
            var i = lo, j = hi
            while i <= j {
                while values[i] < pivot { i &+= 1 }
                while values[j] > pivot { j &-= 1 }
                if i <= j { values.swapAt(i, j); i &+= 1; j &-= 1 }
            }
            if rank <= j { hi = j } else if rank >= i { lo = i } else { return values[rank] }
        }
        return values[rank]
    }
}

extension UnsafeMutablePointer where Pointee == Double {
    /// Swaps two elements.
    @inline(__always) func swapAt(_ a: Int, _ b: Int) {
        let t = self[a]; self[a] = self[b]; self[b] = t
    }
}

/// Edge lists that grow by doubling, in arena memory.
struct EdgeBuffer {
    private(set) var cost: UnsafeMutablePointer<Double>
    private(set) var object: UnsafeMutablePointer<Int32>
    private(set) var count = 0
    private var capacity: Int
    private let arena: Arena

    init(capacity: Int, arena: Arena) {
        self.capacity = max(capacity, 16)
        self.arena = arena
        cost = arena.uninitialized(self.capacity, of: Double.self)
        object = arena.uninitialized(self.capacity, of: Int32.self)
    }

    /// Makes room for `more` edges.
    mutating func reserve(_ more: Int) {
        guard count + more > capacity else { return }
        capacity = max(2 * capacity, count + more)
        let newCost = arena.uninitialized(capacity, of: Double.self)
        let newObject = arena.uninitialized(capacity, of: Int32.self)
        newCost.update(from: cost, count: count)
        newObject.update(from: object, count: count)
        cost = newCost
        object = newObject
    }

    /// Adds an edge; room must have been reserved.
    @inline(__always) mutating func append(_ c: Double, _ o: Int32) {
        cost[count] = c
        object[count] = o
        count &+= 1
    }
}
