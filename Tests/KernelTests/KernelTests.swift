import DINOKernels
import DINOKernelsC
import XCTest

/// Every generated kernel against the plain float64 reference, on random inputs with the awkward
/// cases mixed in: logits of ±50, boxes of zero width, a single query, zero targets, strided views.
final class KernelTests: XCTestCase {
    let alpha = 0.25

    // MARK: match_cost

    /// One call computes every target's row against its image's queries (strided logits, boxes image by
    /// image); each entry equals the float64 formula of DESIGN §2.
    func testMatchCostEqualsReference() {
        withEachVectorWidth {
            var random = TestRandom(seed: 1)
            // (images, queries, targets per image, classes)
            for (batch, queries, counts, classes) in [(1, 1, [1], 1), (1, 7, [1], 5), (2, 37, [0, 3], 3), (1, 50, [13], 91), (3, 300, [30, 0, 11], 91)] {
                let rowStride = classes + 3, imageStride = queries * rowStride + 2   // windows into wider tensors
                let logits = (0..<batch * imageStride).map { _ in random.logit() }
                let queryBoxes = (0..<batch * queries).map { _ in random.box() }
                // image by image, coordinate by coordinate
                let boxes: [Float] = (0..<batch).flatMap { b in (0..<4).flatMap { k in (0..<queries).map { queryBoxes[b * queries + $0][k] } } }
                let image = counts.enumerated().flatMap { b, n in Array(repeating: Int64(b), count: n) }
                let targets = image.count
                let labels = (0..<targets).map { _ in Int64(random.int(classes)) }
                let targetBoxes: [Float] = (0..<targets).flatMap { _ -> [Float] in random.box() }
                var cost = [Double](repeating: .nan, count: queries * targets)
                for (gamma, useGamma) in [(2.0, false), (1.5, true)] {
                    if useGamma {
                        dino_match_cost_gamma(Int64(targets), Int64(queries), logits, Int64(imageStride), Int64(rowStride), boxes, image, labels,
                                              targetBoxes, alpha, gamma, 2, 5, 2, &cost)
                    } else {
                        dino_match_cost(Int64(targets), Int64(queries), logits, Int64(imageStride), Int64(rowStride), boxes, image, labels,
                                        targetBoxes, alpha, 2, 5, 2, &cost)
                    }
                    for t in 0..<targets {
                        let b = Int(image[t])
                        let target = (0..<4).map { Double(targetBoxes[t * 4 + $0]) }
                        for q in 0..<queries {
                            let box = queryBoxes[b * queries + q].map(Double.init)
                            let x = Double(logits[b * imageStride + q * rowStride + Int(labels[t])])
                            let boxCost = 5 * Reference.l1(box, target) - 2 * Reference.giou(box, target)
                            // the kernel computes in float32; near p = 1 the cost's log(1 − p + 1e-8) depends on how
                            // p is rounded (upstream's float32 p too), so σ(x) exact and rounded to float32 (±1 ulp) count
                            let p = Float(Reference.sigmoid(x))
                            let candidates = [Reference.sigmoid(x), Double(p.nextDown), Double(p), Double(p.nextUp)].map {
                                2 * Reference.matchingClassCost(probability: $0, alpha: alpha, gamma: gamma) + boxCost
                            }
                            let got = cost[t * queries + q]
                            let error = candidates.map { Swift.abs(got - $0) / Swift.max(1, Swift.abs($0)) }.min()!
                            XCTAssertLessThanOrEqual(error, 1e-5, "C[\(t), \(q)] of \(counts)×\(queries), x = \(x), γ = \(gamma): \(got) vs \(candidates[0])")
                        }
                    }
                }
            }
        }
    }

    // MARK: label_loss

    struct LabelCase {
        var batch: Int, queries: Int, classes: Int
        var imageStride: Int, rowStride: Int
        var logits: [Float]
    }

    /// Random logits; queries are contiguous (the flat pass of label_loss needs it), images are apart.
    func makeLabelCase(_ random: inout TestRandom, batch: Int, queries: Int, classes: Int, ties: Bool = false) -> LabelCase {
        let rowStride = classes, imageStride = queries * rowStride + 5
        var logits = (0..<batch * imageStride).map { _ in random.logit() }
        if ties {
            // rows whose maximum appears twice (the top class is the first of them), and rows whose
            // last class alone is largest
            for b in 0..<batch { for q in stride(from: 0, to: queries, by: 3) where classes > 2 {
                let base = b * imageStride + q * rowStride
                logits[base + 1] = 60; logits[base + classes - 1] = 60
            } }
            for b in 0..<batch { for q in stride(from: 1, to: queries, by: 3) {
                logits[b * imageStride + q * rowStride + classes - 1] = 70
            } }
        }
        return LabelCase(batch: batch, queries: queries, classes: classes, imageStride: imageStride, rowStride: rowStride, logits: logits)
    }

    func logit(_ c: LabelCase, _ b: Int, _ q: Int, _ k: Int) -> Double { Double(c.logits[b * c.imageStride + q * c.rowStride + k]) }

    /// The reference focal sum with positives where `targetClass[b·Q + q]` says (−1: none), and each
    /// query's top class (first index on ties).
    func referenceLabelLoss(_ c: LabelCase, targetClass: [Int64]? = nil, gamma: Double) -> (Double, [Int64]) {
        var total = 0.0
        var argmax: [Int64] = []
        for b in 0..<c.batch { for q in 0..<c.queries {
            var best = -Double.infinity, bestIndex = 0
            for k in 0..<c.classes {
                let x = logit(c, b, q, k)
                let y = targetClass?[b * c.queries + q] == Int64(k) ? 1.0 : 0.0
                total += Reference.focal(x, y, alpha: alpha, gamma: gamma)
                if x > best { best = x; bestIndex = k }
            }
            argmax.append(Int64(bestIndex))
        } }
        return (total, argmax)
    }

    /// The focal sum with no positives and, per segment, how many queries have a top class other than the
    /// last one: `label_loss` on a list of heads (the case's logits, and a second head that reads the same
    /// logits through another pointer, so that the list and its per-head strides are exercised).
    func runLabelLoss(_ c: LabelCase, gamma: Double?) -> (Double, [Int]) {
        let r = max(1, DINOKernels.segmentLength / c.classes), segments = (c.queries + r - 1) / r
        let rows = 2 * c.batch * segments
        var focal = [Double](repeating: .nan, count: rows), foreground = focal
        c.logits.withUnsafeBufferPointer { logits in
            let heads: [UnsafePointer<Float>?] = [logits.baseAddress, logits.baseAddress]
            let strides = [Int64(c.imageStride), Int64(c.imageStride)]
            if let gamma {
                dino_label_loss_gamma(2, Int64(c.batch), Int64(segments), Int64(r), Int64(c.queries), Int64(c.classes), heads, strides,
                                      alpha, gamma, &focal, &foreground)
            } else {
                dino_label_loss(2, Int64(c.batch), Int64(segments), Int64(r), Int64(c.queries), Int64(c.classes), heads, strides,
                                alpha, &focal, &foreground)
            }
        }
        // rows (head, image, segment): the two heads agree exactly; per image, the first head's segments in order
        let half = rows / 2
        XCTAssertEqual(Array(focal[0..<half]), Array(focal[half...]))
        XCTAssertEqual(Array(foreground[0..<half]), Array(foreground[half...]))
        return (focal[0..<half].reduce(0, +), foreground[0..<half].map { Int($0) })
    }

    /// Per segment (image b, queries s·R ..<), how many queries have a top class other than the last.
    func referenceForeground(_ c: LabelCase, _ argmax: [Int64]) -> [Int] {
        let r = max(1, DINOKernels.segmentLength / c.classes), segments = (c.queries + r - 1) / r
        return (0..<c.batch).flatMap { b in (0..<segments).map { s in
            (s * r..<Swift.min(c.queries, s * r + r)).filter { argmax[b * c.queries + $0] != Int64(c.classes - 1) }.count
        } }
    }

    func testLabelLossEqualsReference() {
        withEachVectorWidth {
            var random = TestRandom(seed: 2)
            // sizes around the vector width and the segment length (one query per segment when C > 2048 with
            // the segment length 4096), several segments per image, and a last segment that is shorter
            let length = DINOKernels.segmentLength
            for (batch, queries, classes) in [(1, 1, 1), (1, 1, 91), (2, 7, 5), (3, 200, 91), (2, 33, 3), (1, 9, 8), (1, 4, 17),
                                              (1, 1, length), (2, 2, length + 1), (1, 3, length - 1), (1, 5, length / 2 + 1),
                                              (2, 2 * (length / 91) + 7, 91)] {
                let c = makeLabelCase(&random, batch: batch, queries: queries, classes: classes, ties: true)
                for gamma in [nil, 2.0, 0.5] {
                    let (focal, foreground) = runLabelLoss(c, gamma: gamma)
                    let (expected, argmax) = referenceLabelLoss(c, gamma: gamma ?? 2)
                    XCTAssertLessThanOrEqual(relativeError(focal, expected), 1e-5, "\(batch)×\(queries)×\(classes) γ \(String(describing: gamma))")
                    XCTAssertEqual(foreground, referenceForeground(c, argmax))
                }
            }
        }
    }

    func testFocalFloorEqualsReference() {
        withEachVectorWidth {
            var random = TestRandom(seed: 3)
            let c = makeLabelCase(&random, batch: 2, queries: 150, classes: 91)
            let d = makeLabelCase(&random, batch: 2, queries: 150, classes: 91)
            var floor = Double.nan
            let r = DINOKernels.segmentLength / 91, segments = (150 + r - 1) / r
            c.logits.withUnsafeBufferPointer { first in
                d.logits.withUnsafeBufferPointer { second in
                    dino_focal_floor(2, 2, Int64(segments), Int64(r), 150, 91, [first.baseAddress, second.baseAddress],
                                     [Int64(c.imageStride), Int64(d.imageStride)], alpha, &floor)
                }
            }
            let expected = referenceLabelLoss(c, gamma: 2).0 + referenceLabelLoss(d, gamma: 2).0
            XCTAssertLessThanOrEqual(relativeError(floor, expected), 1e-5)
        }
    }

    /// pair_losses on one head's pairs, and class_hits on them: the sums of the per-pair values
    /// (focal, hits, L1, xy, hw, GIoU).
    func runPairLosses(_ c: LabelCase, boxes: [Float], boxImageStride: Int, image: [Int64], query: [Int64], target: [Int64],
                       labelsQuery: [UInt8], labels: [Int64], targetBoxes: [Float], gamma: Double?)
        -> (Double, Double, Double, Double, Double, Double) {
        let pairs = image.count
        var (f, l1, xy, hw, giou) = ([Double](repeating: .nan, count: pairs), [Double](repeating: .nan, count: pairs),
                                     [Double](repeating: .nan, count: pairs), [Double](repeating: .nan, count: pairs),
                                     [Double](repeating: .nan, count: pairs))
        c.logits.withUnsafeBufferPointer { logits in
            boxes.withUnsafeBufferPointer { boxes in
                let head = [Int64](repeating: 0, count: pairs)
                if let gamma {
                    dino_pair_losses_gamma(Int64(pairs), Int64(c.classes), [logits.baseAddress], [Int64(c.imageStride)], [boxes.baseAddress],
                                           [Int64(boxImageStride)], head, image, query, target, labelsQuery, labels,
                                           targetBoxes, alpha, gamma, &f, &l1, &xy, &hw, &giou)
                } else {
                    dino_pair_losses(Int64(pairs), Int64(c.classes), [logits.baseAddress], [Int64(c.imageStride)], [boxes.baseAddress],
                                     [Int64(boxImageStride)], head, image, query, target, labelsQuery, labels,
                                     targetBoxes, alpha, &f, &l1, &xy, &hw, &giou)
                }
            }
        }
        var hits = Double.nan
        dino_class_hits(Int64(pairs), Int64(c.classes), c.logits, Int64(c.imageStride), Int64(c.rowStride), image, query,
                        target.map { labels[Int($0)] }, &hits)
        let s = [f, l1, xy, hw, giou].map { $0.reduce(0, +) }
        return (s[0], hits, s[1], s[2], s[3], s[4])
    }

    // MARK: pair_losses

    /// label_loss plus pair_losses gives the whole focal label loss; pair_losses also counts the pairs whose
    /// top class is the label and sums the box losses.
    func testPairLossesEqualReference() {
        withEachVectorWidth {
            var random = TestRandom(seed: 4)
            for (batch, queries, classes, pairs) in [(1, 1, 1, 1), (2, 40, 5, 0), (2, 40, 91, 1), (2, 40, 91, 5), (3, 90, 91, 130)] {
                let c = makeLabelCase(&random, batch: batch, queries: queries, classes: classes, ties: true)
                let boxStride = 4, boxImageStride = queries * boxStride + 3
                let boxes = (0..<batch * boxImageStride).map { _ in Float(random.uniform(0, 0.5)) }
                let targets = 50
                let targetBoxes: [Float] = (0..<targets).flatMap { _ -> [Float] in random.box() }
                // distinct (image, query) for every pair, as a matching gives
                var slots = Array(0..<(batch * queries))
                for k in stride(from: slots.count - 1, to: 0, by: -1) { slots.swapAt(k, random.int(k + 1)) }
                let chosen = Array(slots.prefix(pairs))
                let image = chosen.map { Int64($0 / queries) }, query = chosen.map { Int64($0 % queries) }
                let target = (0..<pairs).map { _ in Int64(random.int(targets)) }
                let argmax = referenceLabelLoss(c, gamma: 2).1
                // half the labels are the top class, the rest random
                let labels = (0..<targets).map { _ in Int64(random.int(classes)) }
                var pairLabels = labels
                for k in 0..<pairs where random.int(2) == 0 { pairLabels[Int(target[k])] = argmax[chosen[k]] }
                var targetClass = [Int64](repeating: -1, count: batch * queries)
                for k in 0..<pairs { targetClass[chosen[k]] = pairLabels[Int(target[k])] }
                let labelsQuery = [UInt8](repeating: 1, count: pairs)   // distinct queries: every pair gives its label
                for gamma in [nil, 1.5] {
                    let (focal, hits, l1, xy, hw, giou) = runPairLosses(c, boxes: boxes, boxImageStride: boxImageStride, image: image, query: query,
                                                                        target: target, labelsQuery: labelsQuery, labels: pairLabels,
                                                                        targetBoxes: targetBoxes, gamma: gamma)
                    let (negatives, _) = runLabelLoss(c, gamma: gamma)
                    let whole = referenceLabelLoss(c, targetClass: targetClass, gamma: gamma ?? 2).0
                    // The positives replace focal(x, 0) by focal(x, 1) at each pair's class: the error is relative to
                    // the terms involved (with a single logit of 50, the whole loss is ~1e-20 but focal(50, 0) ≈ 37).
                    let scale = Swift.max(Swift.abs(whole), referenceLabelLoss(c, gamma: gamma ?? 2).0)
                    XCTAssertLessThanOrEqual(Swift.abs(negatives + focal - whole) / scale, 1e-5, "focal, \(pairs) pairs")
                    let correct = (0..<pairs).filter { pairLabels[Int(target[$0])] == argmax[chosen[$0]] }.count
                    XCTAssertEqual(hits, Double(correct), "top-class hits, \(pairs) pairs")
                    var e = (0.0, 0.0, 0.0, 0.0)
                    for k in 0..<pairs {
                        let base = Int(image[k]) * boxImageStride + Int(query[k]) * boxStride
                        let a = (0..<4).map { Double(boxes[base + $0]) }
                        let b = (0..<4).map { Double(targetBoxes[Int(target[k]) * 4 + $0]) }
                        e.0 += Reference.l1(a, b); e.1 += Reference.l1(a, b, 0..<2); e.2 += Reference.l1(a, b, 2..<4)
                        e.3 += 1 - Reference.giou(a, b)
                    }
                    for (got, want) in [(l1, e.0), (xy, e.1), (hw, e.2), (giou, e.3)] {
                        XCTAssertLessThanOrEqual(relativeError(got, want), 1e-6, "boxes, \(pairs) pairs")
                    }
                }
            }
        }
    }

    /// Pairs that share a query (the minsum matcher): only the pair marked in pair_labels_query gives the
    /// query's positive class, but every pair counts for the box losses and the top-class hits.
    func testSharedQueriesGiveOnePositive() {
        withEachVectorWidth {
            var random = TestRandom(seed: 8)
            let (batch, queries, classes) = (2, 6, 7)
            let c = makeLabelCase(&random, batch: batch, queries: queries, classes: classes)
            let boxes = (0..<batch * queries * 4).map { _ in Float(random.uniform(0.05, 0.5)) }
            let targetBoxes: [Float] = (0..<5).flatMap { _ -> [Float] in random.box() }
            let labels: [Int64] = [1, 1, 4, 6, 0]
            // (image, query, target): query 2 of image 0 is shared by targets 0, 1 (same label) and 2 (another label)
            let triples: [(Int64, Int64, Int64)] = [(0, 2, 0), (0, 2, 1), (0, 2, 2), (0, 5, 3), (1, 2, 4), (1, 3, 3)]
            let image = triples.map(\.0), query = triples.map(\.1), target = triples.map(\.2)
            let marks: [UInt8] = [0, 0, 1, 1, 1, 1]
            let (focal, hits, l1, _, _, _) = runPairLosses(c, boxes: boxes, boxImageStride: queries * 4, image: image, query: query,
                                                           target: target, labelsQuery: marks, labels: labels, targetBoxes: targetBoxes,
                                                           gamma: nil)
            var targetClass = [Int64](repeating: -1, count: batch * queries)
            for (k, (b, q, t)) in triples.enumerated() where marks[k] == 1 { targetClass[Int(b) * queries + Int(q)] = labels[Int(t)] }
            let whole = referenceLabelLoss(c, targetClass: targetClass, gamma: 2).0
            let (negatives, _) = runLabelLoss(c, gamma: nil)
            XCTAssertLessThanOrEqual(abs(negatives + focal - whole) / whole, 1e-5)
            let argmax = referenceLabelLoss(c, gamma: 2).1
            XCTAssertEqual(hits, Double(triples.filter { argmax[Int($0.0) * queries + Int($0.1)] == labels[Int($0.2)] }.count))
            var expectedL1 = 0.0
            for (b, q, t) in triples {
                let a = (0..<4).map { Double(boxes[(Int(b) * queries + Int(q)) * 4 + $0]) }
                expectedL1 += Reference.l1(a, (0..<4).map { Double(targetBoxes[Int(t) * 4 + $0]) })
            }
            XCTAssertLessThanOrEqual(relativeError(l1, expectedL1), 1e-6)
        }
    }

    // MARK: mask_losses

    func testMaskLossesEqualReference() {
        withEachVectorWidth {
            var random = TestRandom(seed: 5)
            let batch = 2, queries = 6, h = 7, w = 9
            let predicted = (0..<batch * queries * h * w).map { _ in Float(random.uniform(-6, 6)) }
            // targets of different sizes, zero-padded to the largest H and W
            let sizes = [(20, 17), (13, 30), (20, 30)]
            var masks: [Float] = [], offsets: [Int64] = []
            for (th, tw) in sizes {
                offsets.append(Int64(masks.count))
                masks += (0..<th * tw).map { _ in random.int(3) == 0 ? 1 : 0 }
            }
            let H = 20, W = 30
            let image: [Int64] = [0, 1, 1], query: [Int64] = [5, 0, 3], target: [Int64] = [0, 1, 2]
            for gamma in [nil, 2.0, 3.0] {
                var focal = Double.nan, dice = Double.nan
                let heights = sizes.map { Int64($0.0) }, widths = sizes.map { Int64($0.1) }
                if let gamma {
                    dino_mask_losses_gamma(3, Int64(h), Int64(w), Int64(H), Int64(W), predicted, Int64(queries * h * w), Int64(h * w), Int64(w),
                                           image, query, target, masks, offsets, heights, widths, alpha, gamma, &focal, &dice)
                } else {
                    dino_mask_losses(3, Int64(h), Int64(w), Int64(H), Int64(W), predicted, Int64(queries * h * w), Int64(h * w), Int64(w),
                                     image, query, target, masks, offsets, heights, widths, alpha, &focal, &dice)
                }
                var expectedFocal = 0.0, expectedDice = 0.0
                for k in 0..<3 {
                    let base = (Int(image[k]) * queries + Int(query[k])) * h * w
                    let source = (0..<h * w).map { Double(predicted[base + $0]) }
                    let s = Reference.upsample(source, h: h, w: w, H: H, W: W)
                    let (th, tw) = sizes[Int(target[k])]
                    var f = 0.0, st = 0.0, ss = 0.0, tt = 0.0
                    for y in 0..<H { for x in 0..<W {
                        let t = y < th && x < tw ? Double(masks[Int(offsets[Int(target[k])]) + y * tw + x]) : 0
                        let v = s[y * W + x]
                        f += Reference.focal(v, t, alpha: alpha, gamma: gamma ?? 2)
                        st += Reference.sigmoid(v) * t; ss += Reference.sigmoid(v); tt += t
                    } }
                    expectedFocal += f / Double(H * W)
                    expectedDice += 1 - (2 * st + 1) / (ss + tt + 1)
                }
                XCTAssertLessThanOrEqual(relativeError(focal, expectedFocal), 1e-5)
                XCTAssertLessThanOrEqual(relativeError(dice, expectedDice), 1e-5)
            }
        }
    }

    // MARK: determinism

    func testResultsDoNotDependOnTheThreadCount() {
        withEachVectorWidth {
            var random = TestRandom(seed: 6)
            let c = makeLabelCase(&random, batch: 2, queries: 900, classes: 91)
            var results: [(Double, [Int])] = []
            let initial = dino_max_threads()
            for threads in [1, 2, 1, 2] {
                dino_set_threads(Int32(threads))
                results.append(runLabelLoss(c, gamma: nil))
            }
            dino_set_threads(initial)
            for r in results.dropFirst() {
                XCTAssertEqual(r.0.bitPattern, results[0].0.bitPattern, "focal sum differs between thread counts")
                XCTAssertEqual(r.1, results[0].1)
            }
        }
    }
}
