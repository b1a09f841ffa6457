/// The exact rectangular assignment solver behind ``AssignmentSolver``.
///
/// The problem is seen as n *bidders* (the smaller side: DINO's targets) × m *objects* (queries),
/// n ≤ m; every bidder must get one object. Three stages:
///
/// 1. **Candidate lists** (``Candidates``). Each bidder keeps only its k cheapest finite costs (and,
///    from a selection, every cost tied with the k-th), found in one pass over the matrix that also
///    rejects NaN and −∞. With k ≥ n this is exact by itself: some optimal assignment gives every
///    bidder one of its own n cheapest objects (the other n − 1 bidders hold at most n − 1 objects,
///    so one of bidder i's n cheapest is free, and moving i there costs no more; doing this for each
///    bidder in turn leaves the others in place). Shorter lists — the first try uses k = 4 … 16 when
///    there are more objects than bidders (DINO: 900 queries, T targets), 32 for square-like
///    problems — record for each bidder its k-th cheapest cost b_i, a lower bound of every cost it
///    left out.
/// 2. **Auction** (``Auction``): Bertsekas's forward auction, bidders bidding for objects, with
///    ε-scaling where contention is heavy; it leaves prices and a partial assignment of tight pairs.
/// 3. **Exact completion** (``Augmentation``): the prices become column duals v = −price, the row
///    duals u_i = min_j (c_ij − v_j) are dual feasible by construction, pairs that are not exactly
///    tight are dissolved, the unused objects get the shared maximal dual the rectangular problem
///    needs, and every free bidder is added by a shortest augmenting path on reduced costs (Dijkstra,
///    as in Jonker–Volgenant). That keeps dual feasibility and complementary slackness, so the result
///    is an optimal assignment of the problem on the lists — not one within n·ε of it, as a plain
///    auction gives.
///
/// **Why short lists are safe.** Let φ = max_j v_j over the objects in the lists: every unused
/// object has it, every used one at most it. Give each object that appears in no list the dual φ
/// too. An edge (i, j) left out of bidder i's list costs at least b_i, and v_j ≤ φ, so its reduced
/// cost is c_ij − u_i − v_j ≥ b_i − u_i − φ. If u_i + φ ≤ b_i for every bidder, (u, v) is feasible for
/// the whole matrix with complementary slackness intact, and the assignment is optimal for the
/// whole matrix. Otherwise — or when a bidder would rather pay for a left-out object during the
/// auction, or the lists admit no complete assignment — the solver tries again with four times
/// longer lists, and finally with k = n (all objects once n ≥ m/2), which needs no check. A retry
/// starts from the duals and pairs the failed try left (no new auction): stage 3 accepts any duals.
///
/// Infeasibility is decided on those final lists, which have a complete assignment exactly when the
/// whole matrix has one (by the exchange argument above): the augmentation then finds no path to a
/// free object.
enum Solver {
    /// Solves the problem; pairs sorted by the caller's row. `firstList` overrides the list length of
    /// the first try (tests use it to exercise the verification and the retries).
    static func solve(_ o: Orientation, firstList: Int? = nil) throws -> Assignment {
        let n = o.bidders, m = o.objects
        if n == 0 { return Assignment(rows: [], cols: [], cost: 0) }
        if n == 1 { return try single(o) }
        let arena = Arena()
        var k = max(1, firstList ?? firstListLength(bidders: n, objects: m))
        var validated = false
        var warm: WarmStart?
        while k < n {
            let problem = try lists(o, k: k, truncated: true, validated: validated, arena: arena)
            validated = true
            switch attempt(problem, warm: warm, arena: arena, objects: m) {
            case .solved(let objectOf): return assignment(o, problem, objectOf)
            case .failed(let left): warm = left ?? warm
            }
            k *= 4
        }
        let problem = try lists(o, k: n, truncated: false, validated: validated, arena: arena)
        guard case .solved(let objectOf) = attempt(problem, warm: warm, arena: arena, objects: m) else {
            throw AssignmentError.infeasible
        }
        return assignment(o, problem, objectOf)
    }

    /// The list length of the first try: short where contention is rare (many more objects than
    /// bidders, as in DINO's 900 queries × T targets), longer for square-like problems; n (exact
    /// lists, no verification) for a few bidders.
    static func firstListLength(bidders n: Int, objects m: Int) -> Int {
        if n <= 4 { return n }
        if 16 * n <= m { return 4 }
        if 3 * n <= m { return 8 }
        if 3 * n <= 2 * m { return 16 }
        return 32
    }

    /// Each bidder's k cheapest costs: by one-pass insertion for short lists, by selection otherwise.
    static func lists(_ o: Orientation, k: Int, truncated: Bool, validated: Bool, arena: Arena) throws -> Problem {
        if k <= 16 && 2 * k < o.objects { return try Candidates.cheapest(o, k: k, truncated: truncated, arena: arena) }
        return try Candidates.selected(o, k: k, truncated: truncated, validated: validated, arena: arena)
    }

    /// How a try ended.
    enum Attempt {
        /// The object of each bidder, optimal for the whole matrix.
        case solved(UnsafeMutablePointer<Int32>)
        /// The lists admit no complete assignment, or (truncated lists) the result is not provably
        /// optimal; with what the try leaves for the next one.
        case failed(WarmStart?)
    }

    /// One try on `problem`: the auction (or, after a failed try, that try's duals and pairs), then
    /// the exact completion and, for truncated lists, the check that makes the result optimal for
    /// the whole matrix. A failed try leaves a warm start for the next one only when `retries` (it
    /// costs one dual per object of the whole matrix, `m`).
    ///
    /// The check needs of each bound only that it is at most every cost the bidder's list left out:
    /// the lists' own costs need not be the cheapest, nor below the bound. (A bidder whose list costs
    /// all exceed its bound never passes: u_i + φ is at least its cheapest list cost, as φ ≥ v_j.)
    static func attempt(_ problem: Problem, warm: WarmStart?, arena: Arena, objects m: Int, retries: Bool = true) -> Attempt {
        if problem.objects < problem.bidders { return .failed(nil) }
        func failed(_ completion: Augmentation) -> Attempt {
            .failed(retries ? completion.warmStart(objects: m, arena: arena) : nil)
        }
        var completion: Augmentation
        if let warm {
            completion = Augmentation(problem: problem, warm: warm, arena: arena)
        } else {
            var auction = Auction(problem: problem, arena: arena)
            let outcome = auction.run(schedule: Auction.schedule(for: problem))
            completion = Augmentation(auction: auction, arena: arena)
            if outcome == .needsLongerLists { return failed(completion) }
        }
        guard completion.run() else { return failed(completion) }
        if let bound = problem.outside {
            let phi = completion.outsideDual
            // Written so that a NaN (duals overflowing on extreme costs) fails the check.
            for i in 0..<problem.bidders where !(completion.u[i] + phi <= bound[i]) { return failed(completion) }
        }
        return .solved(completion.objectOf)
    }

    /// One bidder: its cheapest object (the first among equals).
    private static func single(_ o: Orientation) throws -> Assignment {
        var best = -1
        var low = Double.infinity
        for j in 0..<o.objects {
            let v = o.cost(0, j)
            if !(v > -.infinity) { throw o.invalid(0, j, v) }
            if v < low { low = v; best = j }
        }
        if best < 0 { throw AssignmentError.infeasible }
        return o.transposed ? Assignment(rows: [best], cols: [0], cost: low) : Assignment(rows: [0], cols: [best], cost: low)
    }

    /// The caller's pairs, sorted by row, and their total cost summed in that order.
    private static func assignment(_ o: Orientation, _ p: Problem, _ objectOf: UnsafeMutablePointer<Int32>) -> Assignment {
        let n = o.bidders
        @inline(__always) func caller(_ i: Int) -> Int {
            let j = Int(objectOf[i])
            return p.original.map { Int($0[j]) } ?? j
        }
        var rows = [Int](repeating: 0, count: n), cols = [Int](repeating: 0, count: n)
        if o.transposed && 16 * n < o.objects {
            // Few pairs: sort them by row.
            var pairs = (0..<n).map { (caller($0), $0) }
            pairs.sort { $0.0 < $1.0 }
            for (k, pair) in pairs.enumerated() { rows[k] = pair.0; cols[k] = pair.1 }
        } else if o.transposed {
            var bidderAt = [Int32](repeating: -1, count: o.objects)
            for i in 0..<n { bidderAt[caller(i)] = Int32(truncatingIfNeeded: i) }
            var k = 0
            for r in 0..<o.objects where bidderAt[r] >= 0 { rows[k] = r; cols[k] = Int(bidderAt[r]); k += 1 }
        } else {
            for i in 0..<n { rows[i] = i; cols[i] = caller(i) }
        }
        var total = 0.0
        for k in 0..<n { total += o.costs[rows[k] * o.cols + cols[k]] }
        return Assignment(rows: rows, cols: cols, cost: total)
    }
}

