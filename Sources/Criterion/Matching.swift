import Foundation
import Assignment
import DINOKernelsC

/// HungarianMatcher (and SimpleMinsumMatcher) for many heads at once: all cost matrices by the
/// generated `match_cost` kernel, then all assignment problems solved in parallel.
struct Matcher {
    let options: CriterionOptions
    let targets: TargetTable

    /// The cost matrix of one head and image, target by target: C[t, q] (T_b × Q, row-major; each
    /// target's row is what it bids from in the assignment).
    func costMatrix(_ head: Head, image b: Int) -> CostMatrix {
        let queries = head.logits.queries, count = targets.counts[b]
        guard count > 0, queries > 0 else { return CostMatrix(rows: count, cols: queries, values: []) }
        let first = targets.first[b]
        let o = options
        // the image's predicted boxes coordinate by coordinate (cx[Q], cy[Q], w[Q], h[Q])
        let source = head.boxes.base + b * head.boxes.imageStride, stride = head.boxes.rowStride
        let columns = [Float](unsafeUninitializedCapacity: 4 * queries) { out, initialized in
            for q in 0..<queries { for k in 0..<4 { out[k * queries + q] = source[q * stride + k] } }
            initialized = 4 * queries
        }
        // every entry is written by the kernel
        let values = [Double](unsafeUninitializedCapacity: queries * count) { cost, initialized in
            let logits = head.logits.base + b * head.logits.imageStride
            targets.labels.withUnsafeBufferPointer { labels in
                targets.boxes.withUnsafeBufferPointer { boxes in
                    let label = labels.baseAddress! + first
                    let target = boxes.baseAddress! + 4 * first
                    if o.focalGamma == 2 {
                        dino_match_cost(Int64(count), Int64(queries), logits, Int64(head.logits.rowStride), columns, label, target,
                                        o.focalAlpha, o.costClass, o.costBbox, o.costGiou, cost.baseAddress!)
                    } else {
                        dino_match_cost_gamma(Int64(count), Int64(queries), logits, Int64(head.logits.rowStride), columns, label, target,
                                              o.focalAlpha, o.focalGamma, o.costClass, o.costBbox, o.costGiou, cost.baseAddress!)
                    }
                }
            }
            initialized = queries * count
        }
        return CostMatrix(rows: count, cols: queries, values: values)
    }

    /// Matches every head; per head and image the (queries, targets) pairs. The cost matrices, then the
    /// assignment problems, run as independent tasks on the kernels' threads (`parallelFor`).
    func match(_ heads: [Head], timer: inout StageTimer) throws -> [[(queries: [Int], targets: [Int])]] {
        let batch = targets.counts.count
        let count = heads.count * batch
        var problems = [CostMatrix](repeating: CostMatrix(rows: 0, cols: 0, values: []), count: count)
        problems.withUnsafeMutableBufferPointer { out in
            let slots = out.baseAddress!
            parallelFor(count) { k in slots[k] = costMatrix(heads[k / batch], image: k % batch) }
        }
        timer.lap("cost matrices")
        var solved = [(queries: [Int], targets: [Int])](repeating: ([], []), count: count)
        switch options.matcher {
        case .hungarian:
            var failures = [AssignmentError?](repeating: nil, count: count)
            solved.withUnsafeMutableBufferPointer { out in
                failures.withUnsafeMutableBufferPointer { failed in
                    let (slots, errors) = (out.baseAddress!, failed.baseAddress!)
                    parallelFor(count) { k in
                        do {
                            let a = try AssignmentSolver.solve(problems[k])
                            // rows are targets, columns queries: pairs by query, as upstream returns them
                            let pairs = zip(a.cols, a.rows).sorted { $0.0 < $1.0 }
                            slots[k] = (pairs.map(\.0), pairs.map(\.1))
                        } catch {
                            errors[k] = (error as? AssignmentError) ?? .infeasible
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
            solved = problems.map(Self.minsum)
        }
        timer.lap("assignment")
        return (0..<heads.count).map { h in Array(solved[h * batch..<(h + 1) * batch]) }
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
