import DINOKernelsC
import XCTest

/// Every generated kernel against the plain float64 reference, on random inputs with the awkward
/// cases mixed in: logits of ±50, boxes of zero width, a single query, zero targets, strided views.
final class KernelTests: XCTestCase {
    let alpha = 0.25

    // MARK: match_cost

    /// The kernel computes in float32, as upstream does, so the reference is the float64 formula with
    /// σ(x) rounded to float32 (one ulp either way allowed): near p = 1 the cost's log(1 − p + 1e-8)
    /// depends on that rounding, in upstream's float32 computation too.
    func testMatchCostEqualsReference() {
        var random = TestRandom(seed: 1)
        for (queries, targets, classes) in [(1, 1, 1), (1, 7, 5), (37, 0, 3), (50, 13, 91), (300, 30, 91)] {
            let rowStride = classes + 3   // a window into a wider tensor
            let logits = (0..<queries * rowStride).map { _ in random.logit() }
            let boxes: [Float] = (0..<queries).flatMap { _ -> [Float] in random.box() + [9, 9] }   // stride 6
            let labels = (0..<targets).map { _ in Int64(random.int(classes)) }
            let targetBoxes: [Float] = (0..<targets).flatMap { _ -> [Float] in random.box() }
            var cost = [Double](repeating: .nan, count: queries * targets)
            for (gamma, useGamma) in [(2.0, false), (1.5, true)] {
                if useGamma {
                    dino_match_cost_gamma(Int64(targets), Int64(queries), logits, Int64(rowStride), boxes, 6, labels, targetBoxes,
                                          alpha, gamma, 2, 5, 2, &cost)
                } else {
                    dino_match_cost(Int64(targets), Int64(queries), logits, Int64(rowStride), boxes, 6, labels, targetBoxes,
                                    alpha, 2, 5, 2, &cost)
                }
                for q in 0..<queries {
                    let box = (0..<4).map { Double(boxes[q * 6 + $0]) }
                    for t in 0..<targets {
                        let target = (0..<4).map { Double(targetBoxes[t * 4 + $0]) }
                        let x = Double(logits[q * rowStride + Int(labels[t])])
                        let boxCost = 5 * Reference.l1(box, target) - 2 * Reference.giou(box, target)
                        let p = Float(Reference.sigmoid(x))
                        let candidates = [p.nextDown, p, p.nextUp].map {
                            2 * Reference.matchingClassCost(probability: Double($0), alpha: alpha, gamma: gamma) + boxCost
                        }
                        let got = cost[t * queries + q]
                        let error = candidates.map { Swift.abs(got - $0) / Swift.max(1, Swift.abs($0)) }.min()!
                        XCTAssertLessThanOrEqual(error, 1e-5, "C[\(t), \(q)] of \(targets)×\(queries), x = \(x), γ = \(gamma): \(got) vs \(candidates[1])")
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
        var targetClass: [Int64]
    }

    func makeLabelCase(_ random: inout TestRandom, batch: Int, queries: Int, classes: Int, ties: Bool = false) -> LabelCase {
        let rowStride = classes + 2, imageStride = queries * rowStride + 5
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
        let targetClass = (0..<batch * queries).map { _ in random.int(3) == 0 ? Int64(random.int(classes)) : -1 }
        return LabelCase(batch: batch, queries: queries, classes: classes, imageStride: imageStride, rowStride: rowStride,
                         logits: logits, targetClass: targetClass)
    }

    func referenceLabelLoss(_ c: LabelCase, gamma: Double) -> (Double, [Int64]) {
        var total = 0.0
        var argmax: [Int64] = []
        for b in 0..<c.batch { for q in 0..<c.queries {
            var best = -Double.infinity, bestIndex = 0
            for k in 0..<c.classes {
                let x = Double(c.logits[b * c.imageStride + q * c.rowStride + k])
                let y = c.targetClass[b * c.queries + q] == Int64(k) ? 1.0 : 0.0
                total += Reference.focal(x, y, alpha: alpha, gamma: gamma)
                if x > best { best = x; bestIndex = k }
            }
            argmax.append(Int64(bestIndex))
        } }
        return (total, argmax)
    }

    /// The reference's "top class is not the last" flags.
    func referenceForeground(_ c: LabelCase) -> [Int64] {
        referenceLabelLoss(c, gamma: 2).1.map { $0 != Int64(c.classes - 1) ? 1 : 0 }
    }

    /// The focal sum and, per query, whether its top class is not the last one.
    func runLabelLoss(_ c: LabelCase, gamma: Double?) -> (Double, [Int64]) {
        var focal = Double.nan
        var foreground = [UInt8](repeating: 7, count: c.batch * c.queries)
        if let gamma {
            dino_label_loss_gamma(Int64(c.batch), Int64(c.queries), Int64(c.classes), c.logits, Int64(c.imageStride), Int64(c.rowStride),
                                  c.targetClass, alpha, gamma, &focal, &foreground)
        } else {
            dino_label_loss(Int64(c.batch), Int64(c.queries), Int64(c.classes), c.logits, Int64(c.imageStride), Int64(c.rowStride),
                            c.targetClass, alpha, &focal, &foreground)
        }
        return (focal, foreground.map(Int64.init))
    }

    func testLabelLossEqualsReference() {
        var random = TestRandom(seed: 2)
        for (batch, queries, classes) in [(1, 1, 1), (1, 1, 91), (2, 7, 5), (3, 200, 91), (2, 33, 3)] {
            let c = makeLabelCase(&random, batch: batch, queries: queries, classes: classes, ties: true)
            for gamma in [nil, 2.0, 0.5] {
                let (focal, foreground) = runLabelLoss(c, gamma: gamma)
                let (expected, _) = referenceLabelLoss(c, gamma: gamma ?? 2)
                XCTAssertLessThanOrEqual(relativeError(focal, expected), 1e-5, "\(batch)×\(queries)×\(classes) γ \(String(describing: gamma))")
                XCTAssertEqual(foreground, referenceForeground(c))
            }
        }
    }

    // MARK: matched_accuracy

    func testMatchedAccuracyEqualsReference() {
        var random = TestRandom(seed: 7)
        for (batch, queries, classes, pairs) in [(1, 1, 1, 1), (2, 30, 5, 17), (3, 90, 91, 200), (2, 10, 4, 0)] {
            let c = makeLabelCase(&random, batch: batch, queries: queries, classes: classes, ties: true)
            let argmax = referenceLabelLoss(c, gamma: 2).1
            let image = (0..<pairs).map { _ in Int64(random.int(batch)) }
            let query = (0..<pairs).map { _ in Int64(random.int(queries)) }
            // half the labels are the top class, the rest random
            let label = (0..<pairs).map { k in
                random.int(2) == 0 ? argmax[Int(image[k]) * queries + Int(query[k])] : Int64(random.int(classes))
            }
            var correct = Double.nan
            dino_matched_accuracy(Int64(pairs), Int64(classes), c.logits, Int64(c.imageStride), Int64(c.rowStride),
                                  image, query, label, &correct)
            let expected = (0..<pairs).filter { label[$0] == argmax[Int(image[$0]) * queries + Int(query[$0])] }.count
            XCTAssertEqual(correct, Double(expected), "\(pairs) pairs over \(batch)×\(queries)×\(classes)")
        }
    }

    func testFocalFloorEqualsReference() {
        var random = TestRandom(seed: 3)
        var c = makeLabelCase(&random, batch: 2, queries: 150, classes: 91)
        c.targetClass = c.targetClass.map { _ in -1 }
        var floor = Double.nan
        dino_focal_floor(2, 150, 91, c.logits, Int64(c.imageStride), Int64(c.rowStride), alpha, &floor)
        XCTAssertLessThanOrEqual(relativeError(floor, referenceLabelLoss(c, gamma: 2).0), 1e-5)
    }

    // MARK: box_losses

    func testBoxLossesEqualReference() {
        var random = TestRandom(seed: 4)
        for pairs in [0, 1, 5, 130] {
            let batch = 2, queries = 40, imageStride = queries * 5 + 3
            let boxes = (0..<batch * imageStride).map { _ in Float(random.uniform(0, 0.5)) }
            let targets = 50
            let targetBoxes: [Float] = (0..<targets).flatMap { _ -> [Float] in random.box() }
            let image = (0..<pairs).map { _ in Int64(random.int(batch)) }
            let query = (0..<pairs).map { _ in Int64(random.int(queries)) }
            let target = (0..<pairs).map { _ in Int64(random.int(targets)) }
            var l1 = Double.nan, xy = Double.nan, hw = Double.nan, giou = Double.nan
            dino_box_losses(Int64(pairs), boxes, Int64(imageStride), 5, image, query, target, targetBoxes, &l1, &xy, &hw, &giou)
            var e = (0.0, 0.0, 0.0, 0.0)
            for k in 0..<pairs {
                let base = Int(image[k]) * imageStride + Int(query[k]) * 5
                let a = (0..<4).map { Double(boxes[base + $0]) }
                let b = (0..<4).map { Double(targetBoxes[Int(target[k]) * 4 + $0]) }
                e.0 += Reference.l1(a, b); e.1 += Reference.l1(a, b, 0..<2); e.2 += Reference.l1(a, b, 2..<4)
                e.3 += 1 - Reference.giou(a, b)
            }
            for (got, want) in [(l1, e.0), (xy, e.1), (hw, e.2), (giou, e.3)] {
                XCTAssertLessThanOrEqual(relativeError(got, want), 1e-9, "\(pairs) pairs")
            }
        }
    }

    // MARK: mask_losses

    func testMaskLossesEqualReference() {
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

    // MARK: determinism

    func testResultsDoNotDependOnTheThreadCount() {
        var random = TestRandom(seed: 6)
        let c = makeLabelCase(&random, batch: 2, queries: 900, classes: 91)
        var results: [(Double, [Int64])] = []
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
