import Foundation
import Assignment
import DINOKernelsC

/// HungarianMatcher (and SimpleMinsumMatcher): the cost matrices of a head by the generated
/// `match_cost` kernel, then the assignment problems of every head solved at once, in parallel.
struct Matcher {
    let options: CriterionOptions
    let targets: TargetTable

    /// The cost matrices of one head: each target's row C[t, q] over its image's queries, image after
    /// image (image b's matrix is T_b × Q, row-major, at `offset(b)`), from one kernel call that runs
    /// in parallel over all the batch's targets.
    struct HeadCosts {
        /// Σ T_b × Q costs.
        let values: [Double]
        /// Q.
        let queries: Int

        /// Image b's matrix (T_b × Q).
        func matrix(_ b: Int, _ targets: TargetTable) -> CostMatrix {
            let start = targets.first[b] * queries
            return CostMatrix(rows: targets.counts[b], cols: queries,
                              values: Array(values[start..<(start + targets.counts[b] * queries)]))
        }
    }

    /// The cost matrices of one head (the generated `match_cost` kernel).
    func costs(_ head: Head) -> HeadCosts {
        let queries = head.logits.queries, batch = head.logits.batch, count = targets.total
        guard count > 0, queries > 0 else { return HeadCosts(values: [], queries: queries) }
        let o = options
        // the predicted boxes image by image, coordinate by coordinate (cx[Q], cy[Q], w[Q], h[Q])
        let source = head.boxes
        let columns = [Float](unsafeUninitializedCapacity: batch * 4 * queries) { out, initialized in
            for b in 0..<batch {
                let box = source.base + b * source.imageStride, column = out.baseAddress! + b * 4 * queries
                for q in 0..<queries { for k in 0..<4 { column[k * queries + q] = box[q * source.rowStride + k] } }
            }
            initialized = batch * 4 * queries
        }
        let l = head.logits
        // every entry is written by the kernel
        let values = [Double](unsafeUninitializedCapacity: queries * count) { cost, initialized in
            if o.focalGamma == 2 {
                dino_match_cost(Int64(count), Int64(queries), l.base, Int64(l.imageStride), Int64(l.rowStride), columns,
                                targets.image, targets.labels, targets.boxes,
                                o.focalAlpha, o.costClass, o.costBbox, o.costGiou, cost.baseAddress!)
            } else {
                dino_match_cost_gamma(Int64(count), Int64(queries), l.base, Int64(l.imageStride), Int64(l.rowStride), columns,
                                      targets.image, targets.labels, targets.boxes,
                                      o.focalAlpha, o.focalGamma, o.costClass, o.costBbox, o.costGiou, cost.baseAddress!)
            }
            initialized = queries * count
        }
        return HeadCosts(values: values, queries: queries)
    }

    /// Solves every image's problem of every head in `costs` (one per head of `heads`) in parallel on
    /// the kernels' threads; per head and image the (queries, targets) pairs.
    func solve(_ costs: [HeadCosts], heads: [Head]) throws -> [[(queries: [Int], targets: [Int])]] {
        let batch = targets.counts.count
        let count = costs.count * batch
        var solved = [(queries: [Int], targets: [Int])](repeating: ([], []), count: count)
        switch options.matcher {
        case .hungarian:
            var failures = [AssignmentError?](repeating: nil, count: count)
            solved.withUnsafeMutableBufferPointer { out in
                failures.withUnsafeMutableBufferPointer { failed in
                    let (slots, errors) = (out.baseAddress!, failed.baseAddress!)
                    parallelFor(count) { k in
                        let (h, b) = (k / batch, k % batch)
                        let (rows, cols) = (targets.counts[b], costs[h].queries)
                        costs[h].values.withUnsafeBufferPointer { all in
                            do {
                                let start = targets.first[b] * cols
                                let a = try AssignmentSolver.solve(rows: rows, cols: cols,
                                                                   costs: UnsafeBufferPointer(rebasing: all[start..<(start + rows * cols)]))
                                // rows are targets, columns queries: pairs by query, as upstream returns them
                                let pairs = zip(a.cols, a.rows).sorted { $0.0 < $1.0 }
                                slots[k] = (pairs.map(\.0), pairs.map(\.1))
                            } catch {
                                errors[k] = (error as? AssignmentError) ?? .infeasible
                            }
                        }
                    }
                }
            }
            if let k = failures.firstIndex(where: { $0 != nil }) {
                // the costs of finite, validated inputs are finite unless their values overflow float32 arithmetic
                throw CriterionError("the matching costs of \(heads[k / batch].label), image \(k % batch) are not all finite "
                                     + "(\(failures[k]!)): the predictions' values are too large for float32 arithmetic")
            }
        case .minsum:
            solved = costs.flatMap { c in (0..<batch).map { Self.minsum(c.matrix($0, targets)) } }
        }
        return (0..<costs.count).map { h in Array(solved[h * batch..<(h + 1) * batch]) }
    }

    /// SimpleMinsumMatcher: for each target, the first query of least cost; pairs in target order.
    static func minsum(_ m: CostMatrix) -> (queries: [Int], targets: [Int]) {
        guard m.cols > 0 else { return ([], []) }
        var queries: [Int] = []
        for t in 0..<m.rows {
            let row = m.values[(t * m.cols)..<((t + 1) * m.cols)]
            var best = row.startIndex
            for q in row.indices where row[q] < row[best] { best = q }
            queries.append(best - row.startIndex)
        }
        return (queries, Array(0..<m.rows))
    }
}

/// A failure inside the criterion that is not the input's fault.
public struct CriterionError: Error, CustomStringConvertible {
    /// What went wrong.
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Wall-clock seconds per stage.
struct StageTimer {
    private(set) var stages: [(stage: String, seconds: Double)] = []
    private var last = StageTimer.now()

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// Adds the time since the last lap to `stage`.
    mutating func lap(_ stage: String) {
        let t = Self.now()
        if let k = stages.firstIndex(where: { $0.stage == stage }) { stages[k].seconds += t - last } else { stages.append((stage, t - last)) }
        last = t
    }
}
