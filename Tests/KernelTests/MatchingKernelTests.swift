import DINOKernels
import DINOKernelsC
import XCTest

/// The kernels of the bounded matching: `label_pass` (its table), `match_bound` (the smallest bounds)
/// and `match_cost_entries` (exact costs of listed entries), against float64 references and against the
/// whole-matrix kernel `match_cost`.
final class MatchingKernelTests: XCTestCase {
    let alpha = 0.25

    /// A batch of `heads` matched heads (each in its own buffer, with its own image stride) and targets.
    struct Batch {
        var heads: Int, batch: Int, queries: Int, classes: Int
        var logits: [[Float]], logitsStride: [Int64]
        var boxes: [[Float]], boxesStride: [Int64]
        var counts: [Int]
        var labels: [Int64], targetBoxes: [Float], targetImage: [Int64]
        var total: Int { labels.count }
        var first: [Int] { counts.indices.map { b in counts[..<b].reduce(0, +) } }

        func logit(_ h: Int, _ b: Int, _ q: Int, _ c: Int) -> Float { logits[h][Int(logitsStride[h]) * b + q * classes + c] }
        func box(_ h: Int, _ b: Int, _ q: Int) -> [Float] { (0..<4).map { boxes[h][Int(boxesStride[h]) * b + q * 4 + $0] } }
        func targetBox(_ t: Int) -> [Float] { Array(targetBoxes[(4 * t)..<(4 * t + 4)]) }
    }

    func makeBatch(_ random: inout TestRandom, heads: Int, batch: Int, queries: Int, classes: Int, counts: [Int]) -> Batch {
        var logits: [[Float]] = [], logitsStride: [Int64] = [], boxes: [[Float]] = [], boxesStride: [Int64] = []
        for h in 0..<heads {
            let ls = queries * classes + 3 * h, bs = queries * 4 + 2 * h
            logits.append((0..<batch * ls).map { _ in random.logit() })
            logitsStride.append(Int64(ls))
            boxes.append((0..<batch * bs).map { _ in Float(random.uniform(0.02, 0.6)) })
            boxesStride.append(Int64(bs))
        }
        // some labels repeat within an image
        var labels: [Int64] = [], targetBoxes: [Float] = [], image: [Int64] = []
        for (b, n) in counts.enumerated() {
            for t in 0..<n {
                labels.append(t > 0 && random.int(3) == 0 ? labels[labels.count - 1] : Int64(random.int(classes)))
                targetBoxes += random.box()
                image.append(Int64(b))
            }
        }
        return Batch(heads: heads, batch: batch, queries: queries, classes: classes, logits: logits, logitsStride: logitsStride,
                     boxes: boxes, boxesStride: boxesStride, counts: counts, labels: labels, targetBoxes: targetBoxes, targetImage: image)
    }

    /// The distinct labels of each image, as the criterion lays them out.
    func imageLabels(_ x: Batch) -> (start: [Int64], count: [Int64], classes: [Int64], targetLabel: [Int64]) {
        var start: [Int64] = [], count: [Int64] = [], classes: [Int64] = [], targetLabel: [Int64] = []
        for (b, n) in x.counts.enumerated() {
            start.append(Int64(classes.count))
            let first = classes.count
            for t in x.first[b]..<(x.first[b] + n) {
                if let k = classes[first...].firstIndex(of: x.labels[t]) { targetLabel.append(Int64(k)) } else {
                    targetLabel.append(Int64(classes.count))
                    classes.append(x.labels[t])
                }
            }
            count.append(Int64(classes.count - first))
        }
        return (start, count, classes, targetLabel)
    }

    /// Runs `label_pass`: per-row focal and foreground, and the table of the image labels' logits.
    func runLabelPass(_ x: Batch) -> (focal: [Double], foreground: [Double], classLogits: [Float]) {
        let labels = imageLabels(x)
        let r = max(1, DINOKernels.segmentLength / x.classes), segments = (x.queries + r - 1) / r
        let rows = x.heads * x.batch * segments
        var focal = [Double](repeating: .nan, count: rows), foreground = focal
        var classLogits = [Float](repeating: .nan, count: x.heads * labels.classes.count * x.queries)
        withPointers(x.logits) { logits in
            dino_label_pass(Int64(x.heads), Int64(x.batch), Int64(segments), Int64(labels.classes.count), Int64(r), Int64(x.queries),
                            Int64(x.classes), logits, x.logitsStride, labels.start, labels.count, labels.classes,
                            alpha, &focal, &foreground, &classLogits)
        }
        return (focal, foreground, classLogits)
    }

    /// `matching_class_bound` of each value: the lower bound of the focal class cost match_bound charges.
    func classBound(_ logits: [Float]) -> [Float] {
        var bound = [Float](repeating: .nan, count: logits.count)
        dino_matching_class_bound(1, Int64(logits.count), logits, alpha, &bound)
        return bound
    }

    /// match_bound on a batch: query_boxes first, then the bounds; (values, indices), five per (head, target),
    /// and the box parts (nine arrays of H × B × Q, one after the other).
    func runMatchBound(_ x: Batch, classLogits: [Float], targetLabel: [Int64], labels J: Int) -> ([Float], [Int32], [Float]) {
        let n = x.heads * x.batch * x.queries, T = x.total, width = DINOKernels.boundedCandidates
        var parts = [Float](repeating: .nan, count: 9 * n)
        var value = [Float](repeating: .nan, count: x.heads * T * width), index = [Int32](repeating: -2, count: x.heads * T * width)
        withPointers(x.boxes) { boxes in
            parts.withUnsafeMutableBufferPointer { p in
                let b = p.baseAddress!
                dino_query_boxes(Int64(x.heads), Int64(x.batch), Int64(x.queries), boxes, x.boxesStride, b, b + n, b + 2 * n, b + 3 * n,
                                 b + 4 * n, b + 5 * n, b + 6 * n, b + 7 * n, b + 8 * n)
                dino_match_bound(Int64(x.heads), Int64(T), Int64(J), Int64(x.queries), Int64(x.batch), classLogits, b, b + n, b + 2 * n,
                                 b + 3 * n, b + 4 * n, b + 5 * n, b + 6 * n, b + 7 * n, b + 8 * n, x.targetImage, targetLabel,
                                 x.targetBoxes, alpha, 2, 5, 2, &value, &index)
            }
        }
        // the parts are the boxes: cx, cy, w, h, and the corners and area as xyxy gives them
        for h in 0..<x.heads { for b in 0..<x.batch { for q in 0..<x.queries {
            let box = x.box(h, b, q), at = (h * x.batch + b) * x.queries + q
            for k in 0..<4 { XCTAssertEqual(parts[k * n + at], box[k]) }
            let x0 = box[0] - 0.5 * box[2], x1 = box[0] + 0.5 * box[2], y0 = box[1] - 0.5 * box[3], y1 = box[1] + 0.5 * box[3]
            XCTAssertEqual(Double(parts[8 * n + at]), Double((x1 - x0) * (y1 - y0)), accuracy: 1e-6)
        } } }
        return (value, index, parts)
    }

    /// Head h's boxes image by image, coordinate by coordinate, as match_cost reads them.
    func columns(_ x: Batch, _ h: Int) -> [Float] {
        (0..<x.batch).flatMap { b in (0..<4).flatMap { k in (0..<x.queries).map { x.box(h, b, $0)[k] } } }
    }

    func withPointers<R>(_ arrays: [[Float]], _ body: ([UnsafePointer<Float>?]) -> R) -> R {
        func go(_ k: Int, _ done: [UnsafePointer<Float>?]) -> R {
            if k == arrays.count { return body(done) }
            return arrays[k].withUnsafeBufferPointer { go(k + 1, done + [$0.baseAddress]) }
        }
        return go(0, [])
    }

    /// label_pass's losses are label_loss's, and its table holds the logit of every head, image label and query.
    func testLabelPassTables() {
        withEachVectorWidth {
            var random = TestRandom(seed: 11)
            for (heads, batch, queries, classes, counts) in [(1, 1, 1, 3, [1]), (2, 2, 150, 91, [4, 7]), (3, 2, 37, 5, [0, 6]), (2, 1, 900, 91, [29])] {
                let x = makeBatch(&random, heads: heads, batch: batch, queries: queries, classes: classes, counts: counts)
                let pass = runLabelPass(x)
                let labels = imageLabels(x)
                let r = max(1, DINOKernels.segmentLength / classes), segments = (queries + r - 1) / r
                var focal = [Double](repeating: .nan, count: pass.focal.count), foreground = focal
                withPointers(x.logits) { logits in
                    dino_label_loss(Int64(heads), Int64(batch), Int64(segments), Int64(r), Int64(queries), Int64(classes), logits, x.logitsStride,
                                    alpha, &focal, &foreground)
                }
                XCTAssertEqual(pass.focal, focal)
                XCTAssertEqual(pass.foreground, foreground)
                let J = labels.classes.count
                for h in 0..<heads { for b in 0..<batch { for j in Int(labels.start[b])..<Int(labels.start[b] + labels.count[b]) {
                    for q in 0..<queries {
                        XCTAssertEqual(pass.classLogits[(h * J + j) * queries + q], x.logit(h, b, q, Int(labels.classes[j])), "head \(h), label \(j), query \(q)")
                    }
                } } }
            }
        }
    }

    /// match_bound keeps, per head and target, the queries of the five smallest bounds (first index among
    /// equal bounds), each bound the matching cost with the class term's bound.
    func testMatchBoundKeepsTheSmallest() {
        withEachVectorWidth {
            var random = TestRandom(seed: 12)
            for (heads, batch, queries, counts) in [(1, 1, 3, [2]), (2, 2, 150, [4, 7]), (2, 1, 900, [29]), (1, 2, 40, [0, 3]), (1, 1, 17, [5])] {
                var x = makeBatch(&random, heads: heads, batch: batch, queries: queries, classes: 91, counts: counts)
                // equal boxes for a run of queries of head 0: equal bounds, the first index first
                for q in 0..<Swift.min(queries, 9) { for k in 0..<4 { x.boxes[0][q * 4 + k] = x.boxes[0][k] } }
                let pass = runLabelPass(x)
                let labels = imageLabels(x)
                let J = labels.classes.count, T = x.total, width = DINOKernels.boundedCandidates
                // equal logits too, for the equal boxes
                var classLogits = pass.classLogits
                for j in 0..<J { for q in 0..<Swift.min(queries, 9) { classLogits[j * queries + q] = classLogits[j * queries] } }
                let bounds = classBound(classLogits)
                let (value, index, _) = runMatchBound(x, classLogits: classLogits, targetLabel: labels.targetLabel, labels: J)
                for h in 0..<heads { for t in 0..<T {
                    let b = Int(x.targetImage[t])
                    let reference = (0..<queries).map { q -> Double in
                        let box = x.box(h, b, q).map(Double.init), target = x.targetBox(t).map(Double.init)
                        return 2 * Double(bounds[(h * J + Int(labels.targetLabel[t])) * queries + q]) + 5 * Reference.l1(box, target)
                            - 2 * Reference.giou(box, target)
                    }
                    let row = (h * T + t) * width
                    let kept = (0..<width).filter { index[row + $0] >= 0 }
                    XCTAssertEqual(kept.count, Swift.min(width, queries))
                    for k in kept.count..<width { XCTAssertEqual(index[row + k], -1); XCTAssertEqual(value[row + k], .infinity) }
                    for k in kept {
                        let q = Int(index[row + k])
                        XCTAssertLessThanOrEqual(Swift.abs(Double(value[row + k]) - reference[q]), 1e-5 * Swift.max(1, Swift.abs(reference[q])))
                        if k > 0 {
                            XCTAssertLessThanOrEqual(value[row + k - 1], value[row + k])
                            if value[row + k - 1] == value[row + k] { XCTAssertLessThan(index[row + k - 1], index[row + k]) }
                        }
                    }
                    // nothing left out is clearly smaller than the last one kept
                    if let last = kept.last {
                        let chosen = Set(kept.map { Int(index[row + $0]) })
                        let limit = Double(value[row + last])
                        for q in 0..<queries where !chosen.contains(q) {
                            XCTAssertGreaterThanOrEqual(reference[q], limit - 1e-5 * Swift.max(1, Swift.abs(limit)), "head \(h), target \(t), query \(q)")
                        }
                    }
                } }
            }
        }
    }

    /// match_cost_entries gives exactly the entries of match_cost's whole matrices, and the bound of
    /// match_bound never exceeds the exact cost.
    /// match_cost_entries gives the exact costs of the four queries match_bound listed first for every head
    /// and target, bit for bit those of the whole matrices (match_cost); every bound is at most its exact cost.
    func testMatchCostEntriesEqualTheWholeMatrix() {
        withEachVectorWidth {
            var random = TestRandom(seed: 13)
            let x = makeBatch(&random, heads: 2, batch: 2, queries: 300, classes: 91, counts: [5, 12])
            let pass = runLabelPass(x)
            let labels = imageLabels(x)
            let T = x.total, Q = x.queries, n = x.heads * x.batch * Q, width = DINOKernels.boundedCandidates, k = width - 1
            let (value, index, parts) = runMatchBound(x, classLogits: pass.classLogits, targetLabel: labels.targetLabel, labels: labels.classes.count)
            var exact = [Double](repeating: .nan, count: x.heads * T * k)
            parts.withUnsafeBufferPointer { p in
                let b = p.baseAddress!
                dino_match_cost_entries(Int64(x.heads), Int64(T), Int64(labels.classes.count), Int64(Q), Int64(x.batch), pass.classLogits,
                                        b, b + n, b + 2 * n, b + 3 * n, index, x.targetImage, labels.targetLabel, x.targetBoxes,
                                        alpha, 2, 5, 2, &exact)
            }
            for h in 0..<x.heads {
                // the head's whole matrices (match_cost reads the boxes coordinate by coordinate, as label_pass left them)
                var whole = [Double](repeating: .nan, count: T * Q)
                dino_match_cost(Int64(T), Int64(Q), x.logits[h], x.logitsStride[h], Int64(x.classes), columns(x, h), x.targetImage, x.labels,
                                x.targetBoxes, alpha, 2, 5, 2, &whole)
                for t in 0..<T {
                    let row = h * T + t
                    for m in 0..<k {
                        let q = Int(index[row * width + m])
                        XCTAssertEqual(exact[row * k + m], whole[t * Q + q], "head \(h), target \(t), query \(q)")
                    }
                    // every bound at most its exact cost
                    for m in 0..<width {
                        XCTAssertLessThanOrEqual(Double(value[row * width + m]), whole[t * Q + Int(index[row * width + m])] + 1e-6, "head \(h), target \(t)")
                    }
                }
            }
        }
    }
}
