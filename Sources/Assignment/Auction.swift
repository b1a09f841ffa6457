/// Bertsekas's forward auction with ε-scaling on a ``Problem``: the bidders (the smaller side, DINO's
/// targets) bid for objects (queries). Costs are minimized: bidder i values object j at
/// `cost(i, j) + price(j)` and wants the lowest.
///
/// A bid of a free bidder i: its best value b1 (object j1) and second best b2 — for a truncated list
/// at most its *outside option*, the list's bound plus the lowest price, which no object it left out
/// can beat. If j1 is free, or another object of value b1 is, the bidder takes that object at its
/// price; otherwise it raises j1's price to `b2 − cost(i, j1) + ε` and the holder becomes free.
///
/// Square problems of 256 or more bidders run phases with ε shrinking sixfold from span/6 to
/// span/(10 n), each starting with every bidder free and the prices of the phase before. Then the
/// price of every held object is lowered until its holder's pair is *tight* (the object attains the
/// holder's least value at the prices before lowering); a holder for which another lowered object now
/// costs less loses tightness and is freed by ``Augmentation``. All other problems — DINO's few
/// targets among many queries, where contention is rare, scaling gains nothing and would leave unused
/// objects with raised prices — run one phase with ε = 0 (Jonker and Volgenant's *augmenting row
/// reduction*): every pair it forms is tight, and stays tight while other prices rise.
///
/// The auction only prepares: prices (column duals) and a partial assignment. ``Augmentation`` makes
/// the result exact. Every phase has a bid budget, so that ties (ε = 0) and infeasible problems
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

    /// The ε of each phase, largest first; empty for problems that run one phase with ε = 0.
    static func schedule(for p: Problem) -> [Double] {
        let n = p.bidders
        guard n >= 256, p.objects == n, p.span > 0, p.span.isFinite else { return [] }
        let ratio = 6.0
        var eps: [Double] = []
        var e = p.span / ratio
        let last = p.span / (10 * Double(n))
        while e > last && eps.count < 12 {
            eps.append(e)
            e /= ratio
        }
        return eps
    }

    /// Runs the phases of `schedule` and makes the held pairs tight, or (empty schedule) one phase
    /// with ε = 0.
    mutating func run(schedule: [Double]) -> Outcome {
        let n = problem.bidders
        for eps in schedule {
            if phase(eps: eps, budget: 24 * n + 64) == .needsLongerLists { return .needsLongerLists }
        }
        if schedule.isEmpty { return phase(eps: 0, budget: 8 * n + 64) }
        tighten()
        return .finished
    }

    /// Lowers the price of every held object until its holder's pair is tight: to the holder's best
    /// value (over all its edges, at the prices before any lowering) minus the pair's cost.
    private mutating func tighten() {
        let p = problem
        let n = p.bidders
        let best = UnsafeMutablePointer<Double>.allocate(capacity: n)
        defer { best.deallocate() }
        for i in 0..<n where held[i] >= 0 {
            let (first, count) = p.edges(i)
            var low = Double.infinity
            if let object = p.object {
                for e in first..<(first &+ count) {
                    let w = p.cost[e] + price[Int(object[e])]
                    if w < low { low = w }
                }
            } else {
                let row = p.cost + first
                for j in 0..<count {
                    let w = row[j] + price[j]
                    if w < low { low = w }
                }
            }
            best[i] = low
        }
        for i in 0..<n where held[i] >= 0 {
            let e = held[i]
            price[p.objectOf(edge: e, first: p.edges(i).first)] = best[i] - p.cost[e]
        }
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
            // Best value b1 (edge e1), second best b2, and the first edge of value b1 to a free object.
            var b1 = Double.infinity, b2 = Double.infinity
            var e1 = -1, open = -1
            if let object = p.object {
                for e in first..<(first &+ count) {
                    let o = Int(object[e])
                    let w = cost[e] + price[o]
                    if w <= b1 {
                        if w < b1 { b2 = b1; b1 = w; e1 = e; open = -1 } else { b2 = w }
                        if open < 0 && owner[o] < 0 { open = e }
                    } else if w < b2 {
                        b2 = w
                    }
                }
            } else {
                let row = cost + first
                for j in 0..<count {
                    let w = row[j] + price[j]
                    if w <= b1 {
                        if w < b1 { b2 = b1; b1 = w; e1 = j; open = -1 } else { b2 = w }
                        if open < 0 && owner[j] < 0 { open = j }
                    } else if w < b2 {
                        b2 = w
                    }
                }
                if e1 >= 0 { e1 &+= first }
                if open >= 0 { open &+= first }
            }
            if e1 < 0 { continue }  // no finite cost at these prices: left to the augmentation
            if let outside = p.outside {
                let bound = outside[i] + lowest
                if b1 > bound {
                    // In an ε phase the prices are rough: the bidder just waits for the next phase.
                    if eps > 0 { continue }
                    return .needsLongerLists
                }
                if bound < b2 { b2 = bound }
            }
            var e = e1
            var j = p.objectOf(edge: e1, first: first)
            if owner[j] >= 0 {
                if open >= 0 {
                    // A free object is as good: take it instead of displacing anybody.
                    e = open
                    j = p.objectOf(edge: open, first: first)
                } else if b2 == .infinity {
                    price[j] += lone + eps
                } else if eps == 0 {
                    // Raise the price to where the pair is worth b2, but not (by rounding) beyond:
                    // the pair must stay exactly tight.
                    var raised = b2 - cost[e1]
                    while cost[e1] + raised > b2 { raised = raised.nextDown }
                    price[j] = Swift.max(raised, price[j])
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
