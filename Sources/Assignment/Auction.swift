/// Bertsekas's forward auction with ε-scaling on a ``Problem``: the bidders (the smaller side, DINO's
/// targets) bid for objects (queries). Costs are minimized: bidder i values object j at
/// `cost(i, j) + price(j)` and wants the lowest.
///
/// A bid of a free bidder: its best object j1 (value b1) and second best value b2 (for truncated
/// lists at most the lower bound of the costs left out, whose objects cost ≥ 0 in price). If j1 is
/// free the bidder takes it at its price; otherwise it raises j1's price to `b2 − cost(i, j1) + ε`
/// and the previous owner becomes free. Each phase starts with every bidder free and the prices of the
/// phase before; ε shrinks from phase to phase, and the last phase runs with ε = 0 (Jonker and
/// Volgenant's *augmenting row reduction*): then every pair it forms is *tight* — its object is among
/// the bidder's cheapest at the current prices — and stays tight while other prices rise.
///
/// The auction only prepares: prices (column duals) and a partial, tight assignment. ``Augmentation``
/// makes the result exact. Every phase has a bid budget, so ties (ε = 0) and infeasible problems
/// (prices rising forever) end; bidders left free are assigned by the augmentation.
struct Auction {
    /// The problem.
    let problem: Problem
    /// The price of each object.
    let price: UnsafeMutablePointer<Double>
    /// The bidder holding each object, or −1.
    let owner: UnsafeMutablePointer<Int32>
    /// The edge (index into `problem.cost`) each bidder holds, or −1.
    let held: UnsafeMutablePointer<Int>
    /// Free bidders waiting to bid.
    private let waiting: UnsafeMutablePointer<Int32>
    /// Bids made so far (for tuning and tests).
    private(set) var bids = 0

    /// How a run ended.
    enum Outcome {
        /// The phases ran; some bidders may still be free.
        case finished
        /// A bidder prefers a cost left out of its truncated list: the lists are too short.
        case needsLongerLists
    }

    init(problem: Problem, arena: Arena) {
        self.problem = problem
        price = arena.make(problem.objects, 0.0)
        owner = arena.make(problem.objects, Int32(-1))
        held = arena.make(problem.bidders, -1)
        waiting = arena.uninitialized(problem.bidders, of: Int32.self)
    }

    /// The ε of each phase before the final ε = 0 phase, largest first: none for small or sparse
    /// problems, where contention is rare and scaling would only inflate prices.
    static func schedule(for p: Problem) -> [Double] {
        let n = p.bidders
        guard n >= 64, p.objects == n, p.span > 0, p.span.isFinite else { return [] }
        let ratio = 6.0
        var eps: [Double] = []
        var e = p.span / ratio
        let last = p.span / Double(n)
        while e > last && eps.count < 12 {
            eps.append(e)
            e /= ratio
        }
        return eps
    }

    /// Runs the ε phases of `schedule`, then the final ε = 0 phase.
    mutating func run(schedule: [Double]) -> Outcome {
        let n = problem.bidders
        for eps in schedule {
            if phase(eps: eps, budget: 24 * n + 64) == .needsLongerLists { return .needsLongerLists }
        }
        return phase(eps: 0, budget: 8 * n + 64)
    }

    /// One phase: every bidder starts free; bids until none is free or the budget is spent.
    private mutating func phase(eps: Double, budget: Int) -> Outcome {
        let p = problem
        let n = p.bidders
        for j in 0..<p.objects { owner[j] = -1 }
        for i in 0..<n { held[i] = -1; waiting[i] = Int32(truncatingIfNeeded: n - 1 - i) }
        var top = n
        var made = 0
        // The raise a bidder with a single finite cost makes: large but on the problem's scale.
        let lone = p.span > 0 ? p.span : Swift.max(Swift.abs(p.cost[0]), Double.leastNormalMagnitude)
        let cost = p.cost
        // Objects left out of a bidder's list cost at least its bound plus the lowest price (prices
        // only rise): the value of its outside option.
        var lowest = Double.infinity
        for j in 0..<p.objects where price[j] < lowest { lowest = price[j] }
        if lowest == .infinity { lowest = 0 }
        while top > 0 && made < budget {
            top -= 1
            let i = Int(waiting[top])
            let (first, count) = p.edges(i)
            var b1 = Double.infinity, b2 = Double.infinity
            var e1 = -1, e2 = -1
            if let object = p.object {
                for e in first..<(first &+ count) {
                    let w = cost[e] + price[Int(object[e])]
                    if w < b2 {
                        if w < b1 { b2 = b1; e2 = e1; b1 = w; e1 = e } else { b2 = w; e2 = e }
                    }
                }
            } else {
                let row = cost + first
                for j in 0..<count {
                    let w = row[j] + price[j]
                    if w < b2 {
                        if w < b1 { b2 = b1; e2 = e1; b1 = w; e1 = j } else { b2 = w; e2 = j }
                    }
                }
                if e1 >= 0 { e1 &+= first }
                if e2 >= 0 { e2 &+= first }
            }
            if e1 < 0 { continue }  // no finite cost at these prices: left to the augmentation
            if let outside = p.outside {
                let bound = outside[i] + lowest
                if b1 > bound {
                    // In an ε phase the prices are rough: the bidder just waits for the next phase.
                    if eps > 0 { continue }
                    return .needsLongerLists
                }
                if bound < b2 { b2 = bound; e2 = -1 }
            }
            var e = e1
            var j = p.objectOf(edge: e1, first: first)
            let previous = owner[j]
            if previous >= 0 {
                if b2 == .infinity {
                    price[j] += lone + eps
                } else if eps == 0 && b2 == b1 && e2 >= 0 && owner[p.objectOf(edge: e2, first: first)] < 0 {
                    // A tie with a free object: take that one instead of displacing anybody.
                    e = e2
                    j = p.objectOf(edge: e2, first: first)
                } else {
                    price[j] = (b2 - cost[e1]) + eps
                }
            }
            let displaced = owner[j]
            owner[j] = Int32(truncatingIfNeeded: i)
            held[i] = e
            if displaced >= 0 {
                held[Int(displaced)] = -1
                waiting[top] = displaced
                top += 1
            }
            made += 1
        }
        bids += made
        return .finished
    }
}
