/// Turns the auction's prices and partial assignment into an exactly optimal assignment of the
/// ``Problem``, by shortest augmenting paths on reduced costs (Jonker–Volgenant).
///
/// Dual variables: u (bidders) and v (objects); the reduced cost of an edge is `c − u_i − v_j`.
/// The augmentation keeps three invariants (established in this order when it starts):
/// 1. *Feasibility*: every reduced cost of an assigned bidder is ≥ 0.
/// 2. *Tightness*: an assigned bidder's own edge has reduced cost exactly 0.
/// 3. *Free objects*: all unassigned objects share one value of v, and no assigned object has a
///    larger v (the rectangular problem's condition: the unused columns are interchangeable). Only
///    needed with more objects than bidders; otherwise every object ends up assigned.
///
/// Start: v = −price (or the duals a failed try on shorter lists left), and every free object gets
/// V = the largest v, so that 3 holds. Then u_i = min_j (c_ij − v_j) for every bidder, so 1 holds by
/// construction, and bidders whose edge does not attain that minimum exactly lose their object (2);
/// such an object gets V too, and the sweep repeats until no pair is dissolved. Each free bidder s
/// is then added along a shortest path in reduced costs from s to a free object (Dijkstra: the
/// reduced costs are ≥ 0 by 1), and the duals move by the path lengths as in JV, which keeps 1–3.
/// When no bidder is free, 1–3 are the complementary slackness conditions of the assignment LP, so
/// the assignment is optimal.
struct Augmentation {
    /// The problem.
    let problem: Problem
    /// Bidder duals.
    let u: UnsafeMutablePointer<Double>
    /// Object duals.
    let v: UnsafeMutablePointer<Double>
    /// The object of each bidder, or −1.
    let objectOf: UnsafeMutablePointer<Int32>
    /// The bidder of each object, or −1.
    let owner: UnsafeMutablePointer<Int32>
    /// The edge each bidder held after the auction, or −1.
    private let held: UnsafeMutablePointer<Int>
    private let arena: Arena
    /// Bidders that went through a shortest-path search (for tuning and tests).
    private(set) var searches = 0

    /// Takes over the auction's prices and assignment.
    init(auction: Auction, arena: Arena) {
        let p = auction.problem
        problem = p
        self.arena = arena
        u = arena.uninitialized(p.bidders, of: Double.self)
        v = arena.uninitialized(p.objects, of: Double.self)
        objectOf = arena.make(p.bidders, Int32(-1))
        owner = auction.owner
        held = auction.held
        for j in 0..<p.objects { v[j] = -auction.price[j] }
        for i in 0..<p.bidders {
            let e = auction.held[i]
            if e >= 0 { objectOf[i] = Int32(truncatingIfNeeded: p.objectOf(edge: e, first: p.edges(i).first)) }
        }
    }

    /// Starts from what an earlier try on shorter lists left: its object duals and its pairs (those
    /// whose edge the lists still hold). Any duals will do; ``run()`` restores the invariants.
    init(problem p: Problem, warm: WarmStart, arena: Arena) {
        problem = p
        self.arena = arena
        u = arena.uninitialized(p.bidders, of: Double.self)
        v = arena.uninitialized(p.objects, of: Double.self)
        objectOf = arena.make(p.bidders, Int32(-1))
        owner = arena.make(p.objects, Int32(-1))
        held = arena.make(p.bidders, -1)
        for j in 0..<p.objects { v[j] = warm.dual[p.callerIndex(ofObject: j)] }
        for i in 0..<p.bidders where warm.object[i] >= 0 {
            let target = Int(warm.object[i])
            let (first, count) = p.edges(i)
            for e in first..<(first + count) {
                let j = p.objectOf(edge: e, first: first)
                if p.callerIndex(ofObject: j) == target {
                    held[i] = e
                    objectOf[i] = Int32(truncatingIfNeeded: j)
                    owner[j] = Int32(truncatingIfNeeded: i)
                    break
                }
            }
        }
    }

    /// The duals and pairs in the caller's object indices, for a try on longer lists; objects outside
    /// this problem get the largest dual (see ``Solver``).
    func warmStart(objects m: Int, arena: Arena) -> WarmStart {
        let p = problem
        let dual = arena.make(m, outsideDual)
        for j in 0..<p.objects { dual[p.callerIndex(ofObject: j)] = v[j] }
        let object = arena.make(p.bidders, Int32(-1))
        for i in 0..<p.bidders where objectOf[i] >= 0 {
            object[i] = Int32(truncatingIfNeeded: p.callerIndex(ofObject: Int(objectOf[i])))
        }
        return WarmStart(dual: dual, object: object)
    }

    /// Completes the assignment. False when the problem has no complete assignment.
    mutating func run() -> Bool {
        let p = problem
        let n = p.bidders, objects = p.objects
        let cost = p.cost
        // 3 (with more objects than bidders): the free objects get the largest dual V. That may
        // break 1 for bidders who now find one of them cheaper; the sweeps below recompute every u
        // and free such bidders, whose objects get V in turn, until nothing changes.
        let rectangular = objects > n
        var top = -Double.infinity
        if rectangular {
            for j in 0..<objects where v[j] > top { top = v[j] }
            for j in 0..<objects where owner[j] < 0 { v[j] = top }
        }
        // 1 and 2: row duals by construction; pairs not exactly tight are dissolved.
        var sweep = true
        while sweep {
            sweep = false
            for i in 0..<n {
                let (first, count) = p.edges(i)
                var low = Double.infinity
                if let object = p.object {
                    for e in first..<(first &+ count) {
                        let r = cost[e] - v[Int(object[e])]
                        if r < low { low = r }
                    }
                } else {
                    let row = cost + first
                    for j in 0..<count {
                        let r = row[j] - v[j]
                        if r < low { low = r }
                    }
                }
                if low == .infinity { return false }
                u[i] = low
                let j = Int(objectOf[i])
                if j >= 0 && !(cost[held[i]] - v[j] == low) {
                    owner[j] = -1
                    objectOf[i] = -1
                    if rectangular && v[j] != top {
                        v[j] = top
                        sweep = true
                    }
                }
            }
        }
        // Shortest augmenting paths for the free bidders (an augmentation never frees an assigned one); the
        // search's buffers only when some bidder is free.
        guard let firstFree = (0..<n).first(where: { objectOf[$0] < 0 }) else { return true }
        let search = PathSearch(problem: p, arena: arena)
        for s in firstFree..<n where objectOf[s] < 0 {
            searches += 1
            if !search.augment(from: s, u: u, v: v, objectOf: objectOf, owner: owner) { return false }
        }
        return true
    }

    /// The largest object dual: the value every object outside the problem may take (see ``Solver``).
    var outsideDual: Double {
        var high = -Double.infinity
        for j in 0..<problem.objects where v[j] > high { high = v[j] }
        return high > -.infinity ? high : 0
    }
}

/// What a try on shorter lists leaves for the next one: duals and pairs, by the caller's indices.
struct WarmStart {
    /// The dual of every object of the caller's matrix.
    let dual: UnsafeMutablePointer<Double>
    /// The caller's object of each bidder, or −1.
    let object: UnsafeMutablePointer<Int32>
}

/// Dijkstra over objects from one free bidder, in reduced costs. Sparse lists use a binary heap
/// keyed by distance; dense lists the JV scan over the unreached objects, which relaxes and selects
/// in one pass. Among objects at equal distance a free one comes first, then the lower index. The
/// buffers are reused between searches and reset only where a search touched them.
struct PathSearch {
    let problem: Problem
    /// Tentative distance of each object (+∞: not reached yet).
    private let distance: UnsafeMutablePointer<Double>
    /// The bidder through which each object was reached.
    private let via: UnsafeMutablePointer<Int32>
    /// True once an object's distance is final.
    private let done: UnsafeMutablePointer<Bool>
    /// Objects with a final distance, in order.
    private let closed: UnsafeMutablePointer<Int32>
    /// Bidders scanned, in order.
    private let scanned: UnsafeMutablePointer<Int32>
    /// Sparse: objects reached (to reset); dense: the objects not final yet.
    private let pending: UnsafeMutablePointer<Int32>
    /// Sparse: the heap of open objects and each object's place in it (−1: not in it).
    private let heap: UnsafeMutablePointer<Int32>
    private let place: UnsafeMutablePointer<Int32>

    init(problem: Problem, arena: Arena) {
        self.problem = problem
        let k = problem.objects
        distance = arena.make(k, Double.infinity)
        via = arena.uninitialized(k, of: Int32.self)
        done = arena.make(k, false)
        closed = arena.uninitialized(k, of: Int32.self)
        scanned = arena.uninitialized(problem.bidders, of: Int32.self)
        pending = arena.uninitialized(k, of: Int32.self)
        if problem.object != nil {
            heap = arena.uninitialized(k, of: Int32.self)
            place = arena.make(k, Int32(-1))
        } else {
            heap = arena.uninitialized(0, of: Int32.self)
            place = heap
        }
    }

    /// Assigns free bidder `s` along a shortest augmenting path and updates the duals. False when no
    /// free object can be reached (no complete assignment exists).
    func augment(from s: Int, u: UnsafeMutablePointer<Double>, v: UnsafeMutablePointer<Double>,
                 objectOf: UnsafeMutablePointer<Int32>, owner: UnsafeMutablePointer<Int32>) -> Bool {
        var scannedCount = 0, closedCount = 0, reachedCount = 0
        let sink = problem.object == nil
            ? denseSearch(from: s, u: u, v: v, owner: owner, scannedCount: &scannedCount, closedCount: &closedCount)
            : sparseSearch(from: s, u: u, v: v, owner: owner, scannedCount: &scannedCount, closedCount: &closedCount,
                           reachedCount: &reachedCount)
        if sink >= 0 {
            // Duals: as in JV, by how much shorter than the whole path each part was.
            let reach = distance[sink]
            u[s] += reach
            for k in 1..<scannedCount {
                let r = Int(scanned[k])
                u[r] += reach - distance[Int(objectOf[r])]
            }
            for k in 0..<closedCount {
                let j = Int(closed[k])
                v[j] -= reach - distance[j]
            }
            // Flip the path.
            var j = sink
            while true {
                let r = Int(via[j])
                owner[j] = Int32(truncatingIfNeeded: r)
                let previous = Int(objectOf[r])
                objectOf[r] = Int32(truncatingIfNeeded: j)
                if r == s { break }
                j = previous
            }
        }
        if problem.object == nil {
            for j in 0..<problem.objects { distance[j] = .infinity; done[j] = false }
        } else {
            for k in 0..<reachedCount {
                let j = Int(pending[k])
                distance[j] = .infinity
                done[j] = false
            }
        }
        return sink >= 0
    }

    /// True when object a comes before object b: nearer, or as near and free while b is not, or
    /// equally free and of lower index.
    @inline(__always) private func before(_ a: Int, _ b: Int, _ owner: UnsafeMutablePointer<Int32>) -> Bool {
        let da = distance[a], db = distance[b]
        if da != db { return da < db }
        let fa = owner[a] < 0, fb = owner[b] < 0
        if fa != fb { return fa }
        return a < b
    }

    /// Dense lists: the JV scan. Returns the free object reached, or −1.
    private func denseSearch(from s: Int, u: UnsafeMutablePointer<Double>, v: UnsafeMutablePointer<Double>,
                             owner: UnsafeMutablePointer<Int32>, scannedCount: inout Int, closedCount: inout Int) -> Int {
        let p = problem
        let objects = p.objects
        for j in 0..<objects { pending[j] = Int32(truncatingIfNeeded: j) }
        var left = objects
        var i = s
        var reach = 0.0
        while true {
            scanned[scannedCount] = Int32(truncatingIfNeeded: i)
            scannedCount &+= 1
            let row = p.cost + i &* p.stride
            let base = reach - u[i]
            var bestAt = -1
            var low = Double.infinity
            var t = 0
            while t < left {
                let j = Int(pending[t])
                let d = base + row[j] - v[j]
                if d < distance[j] { distance[j] = d; via[j] = Int32(truncatingIfNeeded: i) }
                let dj = distance[j]
                if dj < low || (dj == low && bestAt >= 0 && before(j, Int(pending[bestAt]), owner)) {
                    low = dj
                    bestAt = t
                }
                t &+= 1
            }
            if bestAt < 0 || low == .infinity { return -1 }
            let j = Int(pending[bestAt])
            left &-= 1
            pending[bestAt] = pending[left]
            done[j] = true
            closed[closedCount] = Int32(truncatingIfNeeded: j)
            closedCount &+= 1
            reach = low
            if owner[j] < 0 { return j }
            i = Int(owner[j])
        }
    }

    /// Sparse lists: Dijkstra with a binary heap. Returns the free object reached, or −1.
    private func sparseSearch(from s: Int, u: UnsafeMutablePointer<Double>, v: UnsafeMutablePointer<Double>,
                              owner: UnsafeMutablePointer<Int32>, scannedCount: inout Int, closedCount: inout Int,
                              reachedCount: inout Int) -> Int {
        let p = problem
        let object = p.object!
        var size = 0
        var i = s
        var reach = 0.0
        var sink = -1

        @inline(__always) func siftUp(_ start: Int) {
            var k = start
            let j = Int(heap[k])
            while k > 0 {
                let parent = (k &- 1) >> 1
                let q = Int(heap[parent])
                if !before(j, q, owner) { break }
                heap[k] = Int32(truncatingIfNeeded: q)
                place[q] = Int32(truncatingIfNeeded: k)
                k = parent
            }
            heap[k] = Int32(truncatingIfNeeded: j)
            place[j] = Int32(truncatingIfNeeded: k)
        }
        @inline(__always) func popFirst() -> Int {
            let first = Int(heap[0])
            place[first] = -1
            size &-= 1
            if size > 0 {
                let j = Int(heap[size])
                var k = 0
                while true {
                    let l = 2 &* k &+ 1
                    if l >= size { break }
                    var c = l
                    if l &+ 1 < size && before(Int(heap[l &+ 1]), Int(heap[l]), owner) { c = l &+ 1 }
                    let q = Int(heap[c])
                    if !before(q, j, owner) { break }
                    heap[k] = Int32(truncatingIfNeeded: q)
                    place[q] = Int32(truncatingIfNeeded: k)
                    k = c
                }
                heap[k] = Int32(truncatingIfNeeded: j)
                place[j] = Int32(truncatingIfNeeded: k)
            }
            return first
        }

        while true {
            scanned[scannedCount] = Int32(truncatingIfNeeded: i)
            scannedCount &+= 1
            let (first, count) = p.edges(i)
            let base = reach - u[i]
            for e in first..<(first &+ count) {
                let j = Int(object[e])
                if done[j] { continue }
                let d = base + p.cost[e] - v[j]
                if d < distance[j] {
                    if distance[j] == .infinity {
                        pending[reachedCount] = Int32(truncatingIfNeeded: j)
                        reachedCount &+= 1
                    }
                    distance[j] = d
                    via[j] = Int32(truncatingIfNeeded: i)
                    if place[j] < 0 {
                        heap[size] = Int32(truncatingIfNeeded: j)
                        size &+= 1
                        siftUp(size &- 1)
                    } else {
                        siftUp(Int(place[j]))
                    }
                }
            }
            if size == 0 { break }
            let j = popFirst()
            done[j] = true
            closed[closedCount] = Int32(truncatingIfNeeded: j)
            closedCount &+= 1
            reach = distance[j]
            if owner[j] < 0 { sink = j; break }
            i = Int(owner[j])
        }
        for k in 0..<size { place[Int(heap[k])] = -1 }
        return sink
    }
}
