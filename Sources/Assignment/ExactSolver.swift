/// The exact solver behind ``AssignmentSolver`` for n bidders (rows) × m objects (columns), n ≤ m.
///
/// 1. **Column reduction (exact).** Some optimal assignment gives every row one of its n cheapest
///    columns: the other n − 1 rows hold at most n − 1 columns, so one of row i's n cheapest is free,
///    and moving row i there costs no more. The problem is therefore solved on the union of each
///    row's n cheapest columns — for DINO's 900 × T matrices with small T a far smaller problem.
/// 2. **Shortest augmenting paths.** Each row in turn is added along a shortest path in reduced
///    costs (Dijkstra over columns with row and column potentials, as in Jonker–Volgenant); the
///    potentials stay dual-feasible and tight on the assignment, so the result is optimal, not just
///    within some ε. Ties prefer a free column, then the lower index.
struct ExactSolver {
    let bidders: Int
    let objects: Int
    let costs: [Double]

    init(bidders: Int, objects: Int, costs: [Double]) {
        self.bidders = bidders
        self.objects = objects
        self.costs = costs
    }

    /// The object of each bidder.
    func solve() throws -> [Int] {
        let n = bidders, m = objects
        // 1. The candidate columns.
        var keep = [Bool](repeating: false, count: m)
        if n * 2 < m {
            var order = [Int](repeating: 0, count: m)
            costs.withUnsafeBufferPointer { c in
                for i in 0..<n {
                    let row = c.baseAddress! + i * m
                    var finite = 0
                    for j in 0..<m where row[j] < .infinity { order[finite] = j; finite += 1 }
                    let take = min(n, finite)
                    if take == finite {
                        for k in 0..<finite { keep[order[k]] = true }
                    } else {
                        order.withUnsafeMutableBufferPointer { select(&$0, count: finite, smallest: take, by: row) }
                        for k in 0..<take { keep[order[k]] = true }
                        // columns tied with the take-th cheapest stay too, so ties resolve as on the full matrix
                        let bound = order[0..<take].map { row[$0] }.max() ?? .infinity
                        for j in 0..<m where row[j] == bound { keep[j] = true }
                    }
                }
            }
        } else {
            for j in 0..<m { keep[j] = true }
        }
        let columns = (0..<m).filter { keep[$0] }
        let k = columns.count
        if k < n { throw AssignmentError.infeasible }
        var reduced = [Double](repeating: 0, count: n * k)
        for i in 0..<n { for (c, j) in columns.enumerated() { reduced[i * k + c] = costs[i * m + j] } }
        let local = try Self.shortestAugmentingPaths(rows: n, cols: k, costs: reduced)
        return local.map { columns[$0] }
    }

    /// Moves the `smallest` lowest `by[order[·]]` to the front of `order[0..<count]` (quickselect).
    private func select(_ order: inout UnsafeMutableBufferPointer<Int>, count: Int, smallest: Int, by row: UnsafePointer<Double>) {
        var lo = 0, hi = count - 1
        let target = smallest - 1
        while lo < hi {
            let pivot = row[order[(lo + hi) / 2]]
            var i = lo, j = hi
            while i <= j {
                while row[order[i]] < pivot { i += 1 }
                while row[order[j]] > pivot { j -= 1 }
                if i <= j { order.swapAt(i, j); i += 1; j -= 1 }
            }
            if target <= j { hi = j } else if target >= i { lo = i } else { return }
        }
    }

    /// Exact rectangular assignment (rows ≤ cols) by shortest augmenting paths; returns the column of each row.
    static func shortestAugmentingPaths(rows n: Int, cols m: Int, costs: [Double]) throws -> [Int] {
        var u = [Double](repeating: 0, count: n), v = [Double](repeating: 0, count: m)
        var colOfRow = [Int](repeating: -1, count: n), rowOfCol = [Int](repeating: -1, count: m)
        var shortest = [Double](repeating: .infinity, count: m)
        var path = [Int](repeating: -1, count: m)
        var remaining = [Int](repeating: 0, count: m)
        var visitedRow = [Bool](repeating: false, count: n), visitedCol = [Bool](repeating: false, count: m)
        try costs.withUnsafeBufferPointer { c in
            for start in 0..<n {
                for j in 0..<m { shortest[j] = .infinity; path[j] = -1; remaining[j] = m - 1 - j; visitedCol[j] = false }
                for i in 0..<n { visitedRow[i] = false }
                var left = m, minimum = 0.0, i = start, sink = -1
                while sink < 0 {
                    visitedRow[i] = true
                    var bestIndex = -1, lowest = Double.infinity
                    let row = c.baseAddress! + i * m
                    let ui = u[i]
                    for it in 0..<left {
                        let j = remaining[it]
                        let r = minimum + row[j] - ui - v[j]
                        if r < shortest[j] { path[j] = i; shortest[j] = r }
                        if shortest[j] < lowest || (shortest[j] == lowest && rowOfCol[j] < 0 && (bestIndex < 0 || rowOfCol[remaining[bestIndex]] >= 0)) {
                            lowest = shortest[j]; bestIndex = it
                        }
                    }
                    minimum = lowest
                    if minimum == .infinity || bestIndex < 0 { throw AssignmentError.infeasible }
                    let j = remaining[bestIndex]
                    if rowOfCol[j] < 0 { sink = j } else { i = rowOfCol[j] }
                    visitedCol[j] = true
                    left -= 1
                    remaining[bestIndex] = remaining[left]
                }
                u[start] += minimum
                for r in 0..<n where visitedRow[r] && r != start { u[r] += minimum - shortest[colOfRow[r]] }
                for j in 0..<m where visitedCol[j] { v[j] -= minimum - shortest[j] }
                var j = sink
                while true {
                    let r = path[j]
                    rowOfCol[j] = r
                    let previous = colOfRow[r]
                    colOfRow[r] = j
                    if r == start { break }
                    j = previous
                }
            }
        }
        return colOfRow
    }
}
