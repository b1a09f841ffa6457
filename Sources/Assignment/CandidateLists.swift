/// A few candidate objects per bidder, with their exact costs and a lower bound of every cost left
/// out: the input of ``AssignmentSolver/solve(candidates:)``, for callers that never compute the
/// whole bidders × objects matrix.
///
/// Bidder i's list is entries `i * listLength ..< (i + 1) * listLength` of `candidates` (object
/// indices) and `costs` (their exact costs); `bounds[i]` is a lower bound of bidder i's exact cost
/// of every object *not* in its list (+∞ when nothing was left out). The lists may hold any objects
/// (not necessarily the cheapest ones) and their costs may exceed the bound.
///
/// Nothing is checked when the lists are made: ``AssignmentSolver/solve(candidates:)`` checks them
/// and answers nil for lists that break these rules.
public struct CandidateLists {
    /// Number of bidders (the smaller side: rows of the assignment).
    public let bidders: Int
    /// Number of objects (the larger side), at least `bidders`.
    public let objects: Int
    /// The length of every bidder's list, at most `objects`.
    public let listLength: Int
    private let storage: Storage

    private enum Storage {
        case borrowed(UnsafeBufferPointer<Int32>, UnsafeBufferPointer<Double>, UnsafeBufferPointer<Double>)
        case owned([Int32], [Double], [Double])
    }

    /// Lists held in the caller's memory, not copied: the buffers must stay valid and unchanged while
    /// these lists are used.
    /// - Parameters:
    ///   - candidates: bidders × listLength object indices in 0 ..< objects, bidder-major, distinct
    ///     within each bidder's list.
    ///   - costs: the exact cost of each candidate (finite), in the same order.
    ///   - bounds: per bidder, a lower bound of its cost of every object not in its list.
    public init(bidders: Int, objects: Int, listLength: Int, candidates: UnsafeBufferPointer<Int32>,
                costs: UnsafeBufferPointer<Double>, bounds: UnsafeBufferPointer<Double>) {
        self.bidders = bidders
        self.objects = objects
        self.listLength = listLength
        storage = .borrowed(candidates, costs, bounds)
    }

    /// Lists held in arrays (see the buffer initializer for what each holds).
    public init(bidders: Int, objects: Int, listLength: Int, candidates: [Int32], costs: [Double], bounds: [Double]) {
        self.bidders = bidders
        self.objects = objects
        self.listLength = listLength
        storage = .owned(candidates, costs, bounds)
    }

    /// The candidates, costs and bounds as buffers.
    func withBuffers<R>(_ body: (UnsafeBufferPointer<Int32>, UnsafeBufferPointer<Double>, UnsafeBufferPointer<Double>) -> R) -> R {
        switch storage {
        case let .borrowed(candidates, costs, bounds):
            return body(candidates, costs, bounds)
        case let .owned(candidates, costs, bounds):
            return candidates.withUnsafeBufferPointer { c in
                costs.withUnsafeBufferPointer { x in bounds.withUnsafeBufferPointer { b in body(c, x, b) } }
            }
        }
    }
}

extension AssignmentSolver {
    /// Solves the whole bidders × objects problem from candidate lists, or answers nil when the lists
    /// do not prove an assignment optimal.
    ///
    /// The answer, when there is one, is optimal for *every* matrix that agrees with the lists' costs
    /// and whose other entries are at least their bidder's bound: bidders 0 ..< n (the rows, in
    /// order), each with a distinct object (the columns), and the sum of their list costs. Nil means
    /// only that the lists are not enough — they admit no complete assignment, some bidder might do
    /// better outside its list, or they break the rules of ``CandidateLists`` (shapes, indices out of
    /// range or repeated in a list, costs that are not finite, NaN bounds) — then solve the whole
    /// matrix with ``solve(rows:cols:costs:)``. No input traps.
    ///
    /// One exact try (auction, shortest augmenting paths, then the check `u_i + φ ≤ bounds[i]` of
    /// ``Solver``) on the restricted problem; no retries.
    ///
    /// ```swift
    /// // 2 bidders × 5 objects, lists of 2; every cost left out is at least 1.0 (bidder 0) or 2.0 (bidder 1).
    /// let lists = CandidateLists(bidders: 2, objects: 5, listLength: 2,
    ///                            candidates: [3, 0, 3, 4], costs: [0.2, 0.5, 0.1, 0.7], bounds: [1.0, 2.0])
    /// if let a = AssignmentSolver.solve(candidates: lists) {
    ///     // a.rows == [0, 1], a.cols == [0, 3], a.cost == 0.6
    /// } else {
    ///     // compute the whole matrix and call solve(rows:cols:costs:)
    /// }
    /// ```
    public static func solve(candidates lists: CandidateLists) -> Assignment? {
        lists.withBuffers { candidates, costs, bounds in
            ListSolver.solve(bidders: lists.bidders, objects: lists.objects, k: lists.listLength,
                             candidates: candidates, costs: costs, bounds: bounds)
        }
    }
}

/// ``AssignmentSolver/solve(candidates:)``: checks the lists, builds the sparse ``Problem`` (the
/// costs and bounds read in place, the objects renumbered 0 ..< K in the order they first appear),
/// and makes one try of ``Solver``.
///
/// Why the proof of ``Solver`` holds for such lists: it needs the list entries to be exact costs
/// (they are) and each bound to be at most every cost left out of that bidder's list (the caller's
/// promise); it never assumes that a list holds the cheapest costs or that its costs stay below the
/// bound. Neither does the auction: it stops (nil) when a bidder's best value in its list exceeds
/// its outside option, and otherwise caps its second-best value there.
enum ListSolver {
    static func solve(bidders n: Int, objects m: Int, k: Int, candidates: UnsafeBufferPointer<Int32>,
                      costs: UnsafeBufferPointer<Double>, bounds: UnsafeBufferPointer<Double>) -> Assignment? {
        // Shapes.
        guard n >= 0, k >= 0, n <= m, k <= m, bounds.count == n else { return nil }
        let (edges, overflow) = n.multipliedReportingOverflow(by: k)
        guard !overflow, edges <= Int(Int32.max) / 2, candidates.count == edges, costs.count == edges else { return nil }
        if n == 0 { return Assignment(rows: [], cols: [], cost: 0) }
        if k == 0 { return nil }
        guard let object = candidates.baseAddress, let cost = costs.baseAddress, let bound = bounds.baseAddress else { return nil }

        // Values: finite costs (and their span finite, so that prices stay finite), no NaN bound,
        // objects in range.
        var low = Double.infinity, high = -Double.infinity
        var valid = true
        for e in 0..<edges {
            let c = cost[e], j = object[e]
            valid = valid && c.isFinite && j >= 0 && Int(j) < m
            low = Swift.min(low, c)
            high = Swift.max(high, c)
        }
        let span = high - low
        guard valid, span.isFinite else { return nil }
        for i in 0..<n where bound[i].isNaN { return nil }

        let arena = Arena(bytes: 4096 + edges * 96 + n * 64)
        let local = arena.uninitialized(edges, of: Int32.self)
        guard let (count, original) = compact(object, into: local, bidders: n, k: k, objects: m, arena: arena) else { return nil }
        let start = arena.uninitialized(n, of: Int.self)
        let length = arena.uninitialized(n, of: Int32.self)
        for i in 0..<n {
            start[i] = i &* k
            length[i] = Int32(truncatingIfNeeded: k)
        }
        let problem = Problem(bidders: n, objects: count, cost: cost, start: start, count: length, object: local,
                              original: original, outside: bound, span: span)
        guard case .solved(let objectOf) = Solver.attempt(problem, warm: nil, arena: arena, objects: m, retries: false) else {
            return nil
        }

        // The pairs in bidder order, and their list costs summed in that order.
        var total = 0.0
        var complete = true
        let cols = [Int](unsafeUninitializedCapacity: n) { out, initialized in
            for i in 0..<n {
                let j = objectOf[i]
                var e = i &* k
                let end = e &+ k
                while e < end && local[e] != j { e &+= 1 }
                // (Always found: the solver assigns along list edges.)
                complete = complete && e < end
                out[i] = Int(original[Int(j)])
                total += e < end ? cost[e] : .nan
            }
            initialized = n
        }
        guard complete else { return nil }
        let rows = [Int](unsafeUninitializedCapacity: n) { out, initialized in
            for i in 0..<n { out[i] = i }
            initialized = n
        }
        return Assignment(rows: rows, cols: cols, cost: total)
    }

    /// Renumbers the n·k caller objects as 0 ..< K into `local`, in the order they first appear;
    /// returns K and each new object's caller index, or nil when an object repeats within a bidder's
    /// list. Few edges for many objects (DINO: 4 per target, 900 queries) go through a small hash
    /// table, so that nothing of size m is touched; otherwise a table over the m objects is cheaper.
    static func compact(_ object: UnsafePointer<Int32>, into local: UnsafeMutablePointer<Int32>, bidders n: Int, k: Int,
                        objects m: Int, arena: Arena) -> (Int, UnsafeMutablePointer<Int32>)? {
        let edges = n &* k
        let original = arena.uninitialized(edges, of: Int32.self)
        var count = 0
        var shift = 28  // a table of 2^(32 − shift) ≥ 2 · edges slots: at most half full
        while shift > 0 && (1 << (32 - shift)) < 2 * edges { shift -= 1 }
        let size = 1 << (32 - shift)
        if size < m {
            // Open addressing (linear probing) on a multiplicative hash; per slot the object (−1:
            // empty), its new number and the last bidder naming it.
            let key = arena.make(size, Int32(-1))
            let number = arena.uninitialized(size, of: Int32.self)
            let bidder = arena.uninitialized(size, of: Int32.self)
            let mask = size - 1
            for i in 0..<n {
                let mark = Int32(truncatingIfNeeded: i)
                for e in (i &* k)..<(i &* k &+ k) {
                    let j = object[e]
                    var h = Int((UInt32(bitPattern: j) &* 0x9E37_79B1) >> UInt32(shift))
                    while key[h] >= 0 && key[h] != j { h = (h &+ 1) & mask }
                    if key[h] < 0 {
                        key[h] = j
                        number[h] = Int32(truncatingIfNeeded: count)
                        original[count] = j
                        count &+= 1
                    } else if bidder[h] == mark {
                        return nil
                    }
                    bidder[h] = mark
                    local[e] = number[h]
                }
            }
            return (count, original)
        }
        // index[j]: first the last bidder naming object j (−1: none), then j's new number.
        let index = arena.make(m, Int32(-1))
        for i in 0..<n {
            let mark = Int32(truncatingIfNeeded: i)
            for e in (i &* k)..<(i &* k &+ k) {
                let j = Int(object[e])
                if index[j] == mark { return nil }
                index[j] = mark
            }
        }
        for e in 0..<edges {
            let j = Int(object[e])
            if index[j] >= Int32(n) {
                local[e] = index[j] &- Int32(n)
            } else {
                local[e] = Int32(truncatingIfNeeded: count)
                original[count] = Int32(truncatingIfNeeded: j)
                index[j] = Int32(truncatingIfNeeded: count &+ n)
                count &+= 1
            }
        }
        return (count, original)
    }
}
