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

    /// Equal cases with equal positions and values; two NaN values count as equal.
    public static func == (a: AssignmentError, b: AssignmentError) -> Bool {
        switch (a, b) {
        case (.infeasible, .infeasible): return true
        case let (.invalidEntry(r1, c1, v1), .invalidEntry(r2, c2, v2)):
            return r1 == r2 && c1 == c2 && (v1 == v2 || (v1.isNaN && v2.isNaN))
        default: return false
        }
    }

    /// A sentence for people.
    public var description: String {
        switch self {
        case .infeasible: return "no complete assignment exists (forbidden entries block every one)"
        case .invalidEntry(let r, let c, let v): return "cost [\(r), \(c)] is \(v); only finite values and +inf (forbidden) are allowed"
        }
    }
}

/// Exact minimum-cost assignment for rectangular matrices (the problem scipy's
/// `linear_sum_assignment` solves): an auction with ε-scaling, made exact by shortest augmenting
/// paths (see ``Solver`` for the design and why the result is optimal).
public enum AssignmentSolver {
    /// Solves one problem exactly: min(rows, cols) pairs of least total cost, sorted by row.
    /// Throws ``AssignmentError/invalidEntry(row:col:value:)`` for NaN or −∞ (the first in
    /// row-major order) and ``AssignmentError/infeasible`` when forbidden (+∞) entries leave no
    /// complete assignment of the smaller side.
    public static func solve(_ m: CostMatrix) throws -> Assignment {
        try m.values.withUnsafeBufferPointer { try solve(rows: m.rows, cols: m.cols, costs: $0) }
    }

    /// Solves one problem held in `costs` (row-major, rows × cols) without copying it.
    public static func solve(rows: Int, cols: Int, costs: UnsafeBufferPointer<Double>) throws -> Assignment {
        precondition(rows >= 0 && cols >= 0 && costs.count == rows * cols, "a \(rows)×\(cols) matrix needs \(rows * cols) values")
        if rows == 0 || cols == 0 { return Assignment(rows: [], cols: [], cost: 0) }
        return try Solver.solve(Orientation(costs: costs.baseAddress!, rows: rows, cols: cols))
    }

    /// Solves independent problems on at most `threads` workers; the results equal solving them one by one.
    ///
    /// For callers without a thread pool of their own. The criterion does not use it: it solves its
    /// problems (heads × images) as tasks on the generated kernels' OpenMP threads, so that the solver
    /// and the kernels share the cores instead of oversubscribing them.
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
