import Dispatch

/// A dense row-major cost matrix. `+∞` marks a forbidden pair.
public struct CostMatrix: Sendable {
    /// Number of rows.
    public let rows: Int
    /// Number of columns.
    public let cols: Int
    /// rows × cols costs, row-major.
    public var values: [Double]

    /// A matrix from its row-major values.
    public init(rows: Int, cols: Int, values: [Double]) {
        precondition(values.count == rows * cols, "a \(rows)×\(cols) matrix needs \(rows * cols) values")
        self.rows = rows
        self.cols = cols
        self.values = values
    }
}

/// A solution: min(rows, cols) pairs sorted by row, and their total cost.
public struct Assignment: Sendable, Equatable {
    /// Rows of the pairs, ascending.
    public let rows: [Int]
    /// Columns of the pairs.
    public let cols: [Int]
    /// Σ cost over the pairs.
    public let cost: Double
}

/// Why a problem has no solution.
public enum AssignmentError: Error, CustomStringConvertible, Equatable {
    /// Forbidden (+∞) entries leave no complete assignment of the smaller side.
    case infeasible
    /// NaN or −∞ at (row, col).
    case invalidEntry(row: Int, col: Int, value: Double)

    /// A sentence for people.
    public var description: String {
        switch self {
        case .infeasible: return "no complete assignment exists (forbidden entries block every one)"
        case .invalidEntry(let r, let c, let v): return "cost [\(r), \(c)] is \(v); only finite values and +inf (forbidden) are allowed"
        }
    }
}

/// Exact minimum-cost assignment for rectangular matrices.
public enum AssignmentSolver {
    /// Solves one problem exactly.
    public static func solve(_ m: CostMatrix) throws -> Assignment {
        try m.values.withUnsafeBufferPointer { try solve(rows: m.rows, cols: m.cols, costs: $0) }
    }

    /// Solves one problem held in `costs` (row-major, rows × cols) without copying it.
    public static func solve(rows: Int, cols: Int, costs: UnsafeBufferPointer<Double>) throws -> Assignment {
        for (k, v) in costs.enumerated() where v.isNaN || v == -.infinity {
            throw AssignmentError.invalidEntry(row: k / max(cols, 1), col: k % max(cols, 1), value: v)
        }
        if rows == 0 || cols == 0 { return Assignment(rows: [], cols: [], cost: 0) }
        let transposed = rows > cols
        let n = min(rows, cols), m = max(rows, cols)
        // The problem as n "bidders" × m "objects" (n ≤ m), row-major.
        var c = [Double](repeating: 0, count: n * m)
        for i in 0..<rows { for j in 0..<cols {
            if transposed { c[j * m + i] = costs[i * cols + j] } else { c[i * m + j] = costs[i * cols + j] }
        } }
        let objectOf = try ExactSolver(bidders: n, objects: m, costs: c).solve()
        var pairs: [(Int, Int)] = []
        for i in 0..<n { pairs.append(transposed ? (objectOf[i], i) : (i, objectOf[i])) }
        pairs.sort { $0.0 < $1.0 }
        var total = 0.0
        for (r, k) in pairs { total += costs[r * cols + k] }
        return Assignment(rows: pairs.map(\.0), cols: pairs.map(\.1), cost: total)
    }

    /// Solves independent problems on at most `threads` workers; the results equal solving them one by one.
    public static func solveBatch(_ problems: [CostMatrix], threads: Int) -> [Result<Assignment, AssignmentError>] {
        var results = [Result<Assignment, AssignmentError>](repeating: .failure(.infeasible), count: problems.count)
        let workers = max(1, min(threads, problems.count))
        results.withUnsafeMutableBufferPointer { out in
            let base = out.baseAddress!
            nonisolated(unsafe) let target = base
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var k = w
                while k < problems.count {
                    do { target[k] = .success(try solve(problems[k])) } catch let e as AssignmentError { target[k] = .failure(e) } catch {
                        target[k] = .failure(.infeasible)
                    }
                    k += workers
                }
            }
        }
        return results
    }
}
