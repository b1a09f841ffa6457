import Assignment
import DINOKernels
import DINOKernelsC
import Foundation

/// HungarianMatcher (and SimpleMinsumMatcher).
///
/// **Bounded** (the Hungarian matcher with γ = 2, α in [0, 1] and non-negative cost weights, DINO's
/// settings): `label_pass` has gathered the logit of every head, image label and query; `match_bound`
/// bounds every matching cost from below with them (``focalMatchingCostLowerBound(logit:alpha:)`` for
/// the class term, the box terms exact, from the query boxes `query_boxes` has laid out part by part)
/// and keeps, per target, the queries of the five smallest; `match_cost_entries` computes the exact
/// costs of the first four. Each image's problem is then solved on those lists
/// (``AssignmentSolver/solve(candidates:)``), with the fifth bound as a lower bound of every cost left
/// out: where the solver proves the assignment optimal for the whole matrix, no whole matrix is computed;
/// elsewhere the image's matrix is (`match_cost`) and solved whole.
///
/// **Exact** (any other setting): every head's whole cost matrices, then the solver.
struct Matcher {
    let options: CriterionOptions
    let targets: TargetTable

    /// Whether the bounded matching applies (its class-cost bound assumes γ = 2 and α in [0, 1], and
    /// bounding the cost by its class term's bound needs non-negative weights).
    var bounded: Bool {
        let o = options
        return o.matcher == .hungarian && o.focalGamma == 2 && o.focalAlpha >= 0 && o.focalAlpha <= 1
            && [o.costClass, o.costBbox, o.costGiou].allSatisfy { $0 >= 0 && $0.isFinite }
    }

    /// Queries per target whose exact costs the solver starts from; one more bound comes with them.
    static let listLength = DINOKernels.boundedCandidates - 1

    /// Per head and image, the paired (queries, targets), by bounds and candidate lists where they
    /// settle the matching (see the type's documentation). `classLogits` is `label_pass`'s table; the
    /// problems solved on their whole matrices are added to `wholeMatrices`.
    func matchBounded(_ list: HeadList, _ labels: ImageLabels, classLogits: UnsafePointer<Float>,
                      timer: inout StageTimer, wholeMatrices: inout Int) throws -> [[(queries: [Int], targets: [Int])]] {
        let H = list.count, T = targets.total, Q = list.queries, B = list.batch, o = options
        let width = DINOKernels.boundedCandidates, k = Self.listLength
        guard T > 0, Q > 0 else { return (0..<H).map { _ in Array(repeating: ([], []), count: B) } }
        // the smallest bounds of every (head, target) row, and the exact costs of the first k
        var value = [Float](repeating: 0, count: H * T * width), index = [Int32](repeating: -1, count: H * T * width)
        // each query's box, part by part (cx, cy, w, h, x0, y0, x1, y1, area), then the bounds
        let n = H * B * Q
        let parts = [Float](unsafeUninitializedCapacity: 9 * n) { p, initialized in
            let b = p.baseAddress!
            dino_query_boxes(Int64(H), Int64(B), Int64(Q), list.boxes, list.boxesStride, b, b + n, b + 2 * n, b + 3 * n, b + 4 * n,
                             b + 5 * n, b + 6 * n, b + 7 * n, b + 8 * n)
            initialized = 9 * n
        }
        parts.withUnsafeBufferPointer { p in
            let b = p.baseAddress!
            dino_match_bound(Int64(H), Int64(T), Int64(labels.total), Int64(Q), Int64(B), classLogits, b, b + n, b + 2 * n, b + 3 * n,
                             b + 4 * n, b + 5 * n, b + 6 * n, b + 7 * n, b + 8 * n, targets.image, labels.targetLabel, targets.boxes,
                             o.focalAlpha, o.costClass, o.costBbox, o.costGiou, &value, &index)
        }
        let listed = Q > width   // with Q ≤ 5 queries every image's matrix is small: solve it whole
        // the lists (row h·T + t's first k queries, in order), per row the fifth bound, less a margin that
        // covers float32 rounding differences between the bounds' and the exact costs' kernels, and the
        // exact costs of the lists
        let entries = listed ? H * T * k : 0
        var objects = [Int32](repeating: 0, count: entries), bounds = [Double](repeating: 0, count: listed ? H * T : 0)
        var exact = [Double](repeating: 0, count: entries)
        if listed {
            for row in 0..<(H * T) {
                for c in 0..<k { objects[row * k + c] = index[row * width + c] }
                let bound = Double(value[row * width + k])
                bounds[row] = bound - 1e-6 * Swift.max(1, Swift.abs(bound))
            }
            parts.withUnsafeBufferPointer { p in
                let b = p.baseAddress!
                dino_match_cost_entries(Int64(H), Int64(T), Int64(labels.total), Int64(Q), Int64(B), classLogits, b, b + n, b + 2 * n, b + 3 * n,
                                        index, targets.image, labels.targetLabel, targets.boxes,
                                        o.focalAlpha, o.costClass, o.costBbox, o.costGiou, &exact)
            }
        }
        timer.lap("cost matrices")

        // every (head, image) problem at once, on the lists or, where they do not settle it, whole
        let results = UnsafeMutableBufferPointer<(queries: [Int], targets: [Int])>.allocate(capacity: H * B)
        results.initialize(repeating: ([], []))
        let failures = UnsafeMutableBufferPointer<AssignmentError?>.allocate(capacity: H * B)
        failures.initialize(repeating: nil)
        let whole = UnsafeMutableBufferPointer<Bool>.allocate(capacity: H * B)
        whole.initialize(repeating: false)
        defer {
            results.deinitialize().deallocate()
            failures.deinitialize().deallocate()
            whole.deinitialize().deallocate()
        }
        objects.withUnsafeBufferPointer { objects in
            exact.withUnsafeBufferPointer { exact in
                bounds.withUnsafeBufferPointer { bounds in
                    parallelFor(H * B) { p in
                        let (h, b) = (p / B, p % B)
                        let n = targets.counts[b], first = h * T + targets.first[b]   // the image's first row
                        if n == 0 { return }
                        if listed && n <= Q {
                            // the image's targets are consecutive rows: their lists are one slice of each array
                            let lists = CandidateLists(bidders: n, objects: Q, listLength: k,
                                                       candidates: UnsafeBufferPointer(rebasing: objects[(first * k)..<((first + n) * k)]),
                                                       costs: UnsafeBufferPointer(rebasing: exact[(first * k)..<((first + n) * k)]),
                                                       bounds: UnsafeBufferPointer(rebasing: bounds[first..<(first + n)]))
                            if let a = AssignmentSolver.solve(candidates: lists) {
                                results[p] = Self.byQuery(a)
                                return
                            }
                        }
                        whole[p] = true
                        do {
                            results[p] = Self.byQuery(try wholeImage(list, h: h, b: b))
                        } catch {
                            failures[p] = (error as? AssignmentError) ?? .infeasible
                        }
                    }
                }
            }
        }
        wholeMatrices += whole.filter { $0 }.count
        if let p = failures.firstIndex(where: { $0 != nil }) {
            throw Self.nonFiniteCosts(list.heads[p / B], image: p % B, failures[p]!)
        }
        timer.lap("assignment")
        return (0..<H).map { h in Array(results[h * B..<(h + 1) * B]) }
    }

    /// Image b's whole cost matrix of head h (`match_cost`), solved whole: rows are the image's targets
    /// (0-based), columns its queries.
    private func wholeImage(_ list: HeadList, h: Int, b: Int) throws -> Assignment {
        let head = list.heads[h], l = head.logits
        let n = targets.counts[b], first = targets.first[b], Q = l.queries, o = options
        let columns = Self.columns(head.boxes, image: b)
        let images = [Int64](repeating: 0, count: n)
        let costs = [Double](unsafeUninitializedCapacity: n * Q) { cost, initialized in
            targets.labels.withUnsafeBufferPointer { labels in
                targets.boxes.withUnsafeBufferPointer { boxes in
                    dino_match_cost(Int64(n), Int64(Q), l.base + b * l.imageStride, Int64(l.imageStride), Int64(l.rowStride), columns,
                                    images, labels.baseAddress! + first, boxes.baseAddress! + 4 * first,
                                    o.focalAlpha, o.costClass, o.costBbox, o.costGiou, cost.baseAddress!)
                }
            }
            initialized = n * Q
        }
        return try costs.withUnsafeBufferPointer { try AssignmentSolver.solve(rows: n, cols: Q, costs: $0) }
    }

    /// The predicted boxes of images `image ..< image + count`, image by image and coordinate by
    /// coordinate (cx[Q], cy[Q], w[Q], h[Q]), as `match_cost` reads them.
    static func columns(_ boxes: StridedPredictions, image: Int, count: Int = 1) -> [Float] {
        let queries = boxes.queries
        return [Float](unsafeUninitializedCapacity: count * 4 * queries) { out, initialized in
            for b in 0..<count {
                let box = boxes.base + (image + b) * boxes.imageStride, column = out.baseAddress! + b * 4 * queries
                for q in 0..<queries { for k in 0..<4 { column[k * queries + q] = box[q * boxes.rowStride + k] } }
            }
            initialized = count * 4 * queries
        }
    }

    /// Rows are targets, columns queries: the pairs by query, as upstream returns them.
    static func byQuery(_ a: Assignment) -> (queries: [Int], targets: [Int]) {
        let pairs = zip(a.cols, a.rows).sorted { $0.0 < $1.0 }
        return (pairs.map(\.0), pairs.map(\.1))
    }

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
        let columns = Self.columns(head.boxes, image: 0, count: batch)
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
                                slots[k] = Self.byQuery(a)
                            } catch {
                                errors[k] = (error as? AssignmentError) ?? .infeasible
                            }
                        }
                    }
                }
            }
            if let k = failures.firstIndex(where: { $0 != nil }) {
                throw Self.nonFiniteCosts(heads[k / batch], image: k % batch, failures[k]!)
            }
        case .minsum:
            solved = costs.flatMap { c in (0..<batch).map { Self.minsum(c.matrix($0, targets)) } }
        }
        return (0..<costs.count).map { h in Array(solved[h * batch..<(h + 1) * batch]) }
    }

    /// The error of a problem the solver could not solve: the costs of finite, validated inputs are finite
    /// unless their values overflow float32 arithmetic.
    static func nonFiniteCosts(_ head: Head, image: Int, _ failure: AssignmentError) -> CriterionError {
        CriterionError("the matching costs of \(head.label), image \(image) are not all finite "
                       + "(\(failure)): the predictions' values are too large for float32 arithmetic")
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
