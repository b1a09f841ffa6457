import LossDSL

/// DINO's matching costs and losses, written in the LossDSL. Everything the criterion computes per
/// element is defined here; `CodegenC` turns it into the C of the `GeneratedKernels` target.
///
/// | kernel | what |
/// |---|---|
/// | `match_cost` | HungarianMatcher's C[q, t] for one image: focal class + L1 + GIoU costs |
/// | `label_loss` | focal label loss of a head with no positives and, per query, whether its top class is not the last |
/// | `pair_losses` | over matched pairs: the focal loss's positives, top-class hits (`class_error`), L1, xy, hw and GIoU |
/// | `mask_losses` | focal and dice mask losses with the bilinear resize fused in |
/// | `focal_floor` | one pass of the focal term over all logits: the speed floor |
/// | `matching_class_cost`, `matching_class_bound` | the matcher's focal class cost (γ = 2) of each logit, and its lower bound (for the tests) |
public enum DINOKernels {
    /// All kernels, in the order they appear in the generated files.
    public static var all: [Kernel] {
        [matchCost(gamma: nil), matchCost(gamma: "gamma"), labelLoss(gamma: nil), labelLoss(gamma: "gamma"),
         pairLosses(gamma: nil), pairLosses(gamma: "gamma"), maskLosses(gamma: nil), maskLosses(gamma: "gamma"), focalFloor,
         matchingClassCost, matchingClassBound]
    }

    /// The focusing exponent: the constant 2 (DINO's value, multiplied out) or a run-time parameter.
    static func gammaExpr(_ name: String?) -> Expr { name.map { parameter($0) } ?? 2 }
    static func suffix(_ gamma: String?) -> String { gamma == nil ? "" : "_gamma" }
    static func gammaParameters(_ gamma: String?) -> [String] { gamma.map { [$0] } ?? [] }

    // MARK: - Sizes and axes

    static let Q = Extent.size("Q"), T = Extent.size("T"), C = Extent.size("C"), B = Extent.size("B")
    static let P = Extent.size("P")
    static let alpha = parameter("alpha")

    // MARK: - Matching cost

    /// HungarianMatcher's cost matrices of one head (DESIGN §2 "Matching cost"), for every target of the
    /// batch against every query of its image:
    /// C[t, q] = w_class·focal(x[b_t, q, label_t]) + w_bbox·L1(box[b_t, q], tbox_t) − w_giou·GIoU(box[b_t, q], tbox_t).
    ///
    /// Fused: the Q×C focal tables upstream builds are never formed; each (t, q) gathers its one logit.
    /// Laid out target by target (each target's row over the queries is one vectorized loop, and it is
    /// the row a target bids from in the assignment; image b's matrix is its targets' rows), in float32
    /// arithmetic as upstream computes it. The predicted boxes come coordinate by coordinate, so that a
    /// vector of queries loads each coordinate at once.
    public static func matchCost(gamma: String?) -> Kernel {
        let q = Axis("q", Q), t = Axis("t", T)
        let logits = Tensor("logits", .float32, [B, Q, C], strided: true, doc: "the head's logits")
        let boxes = Tensor("boxes", .float32, [B, .fixed(4), Q], doc: "the head's predicted boxes, per image coordinate by coordinate: cx[Q], cy[Q], w[Q], h[Q]")
        let targetImage = Tensor("target_image", .int64, [T], doc: "image of each target")
        let labels = Tensor("labels", .int64, [T], doc: "target labels")
        let targetBoxes = Tensor("target_boxes", .float32, [T, .fixed(4)], doc: "target boxes, cxcywh")
        let image = targetImage[t.i]
        let predicted = BoxCXCYWH(boxes[image, 0, q.i], boxes[image, 1, q.i], boxes[image, 2, q.i], boxes[image, 3, q.i])
        let target = BoxCXCYWH(targetBoxes, t.i)
        let classCost = focalMatchingCost(logit: logits[image, q.i, labels[t.i]], alpha: alpha, gamma: gammaExpr(gamma))
        let cost = parameter("cost_class") * classCost
            + parameter("cost_bbox") * l1(predicted, target)
            - parameter("cost_giou") * giou(predicted.xyxy, target.xyxy)
        return Kernel(
            name: "match_cost" + suffix(gamma),
            doc: "HungarianMatcher cost matrices of one head, target by target: class (focal), bbox (L1) and GIoU costs, weighted.",
            rows: [t], inputs: [logits, boxes, targetImage, labels, targetBoxes],
            parameters: ["alpha"] + gammaParameters(gamma) + ["cost_class", "cost_bbox", "cost_giou"],
            outputs: [.map(name: "cost", .float64, over: [q], cost, doc: "C[t, q]")],
            schedule: Schedule(blockRows: 1))
    }

    // MARK: - Label loss

    /// A head's logits are processed image by image as one flat run of Q·C values (its queries are
    /// contiguous), cut into segments of R = max(1, ⌊segmentLength / C⌋) whole queries: long vector
    /// loops, rows enough for every thread whatever B is, and each segment's queries still in cache for
    /// the per-query scan that follows.
    public static let segmentLength = 4096

    /// The segmented view shared by `label_loss` and `focal_floor`: rows (b, s) over images and
    /// segments of R queries (the last one shorter), the inner axis k over a segment's logits, the
    /// logit at (b, s, k), and the segment's first query.
    static func segmentedLogits() -> (rows: [Axis], k: Axis, logits: Tensor, x: Expr, first: Expr) {
        let R = Extent.size("R")
        let b = Axis("b", B), s = Axis("s", .size("S"))
        let first = s.i * R.expr
        let k = Axis("k", .expression(min(R.expr, Q.expr - first) * C.expr))
        let logits = Tensor("logits", .float32, [B, .product(Q, C)], strided: true, doc: "the head's logits, each image's Q·C in a row")
        return ([b, s], k, logits, logits[b.i, first * C.expr + k.i], first)
    }

    /// The focal label loss of one head over all its logits as if no query were matched (DESIGN §2
    /// `loss_ce`, all targets 0, summed; ``pairLosses(gamma:)`` adds what the matched queries change),
    /// and, for `cardinality_error`, whether each query's top class (first index on ties) is not the last
    /// one (C − 1): that holds exactly when some earlier class has a logit at least as large, a scan
    /// that usually stops after a class or two.
    public static func labelLoss(gamma: String?) -> Kernel {
        let (rows, k, logits, x, first) = segmentedLogits()
        let r = Axis("r", .size("R")), c = Axis("c", C)
        let query = first + r.i
        let inside = query < Q.expr                 // the last segment's R slots run past Q
        let last: Expr = C.expr - Expr.int(1)
        func logit(_ c: Expr) -> Expr { logits.load([rows[0].i, query * C.expr + c], guardedBy: inside) }
        let topIsNotLast = exists(over: c, (c.i < last) && (logit(c.i) >= logit(last))).named("an earlier class's logit at least the last one's")
        return Kernel(
            name: "label_loss" + suffix(gamma),
            doc: "Sigmoid focal label loss of one head with no positives, summed over every logit, and whether each query's top class is not the last.",
            rows: rows, inputs: [logits], parameters: ["alpha"] + gammaParameters(gamma),
            outputs: [
                .total(name: "focal", sum(over: k, of: sigmoidFocalLoss(logit: x, target: 0, alpha: alpha, gamma: gammaExpr(gamma))),
                       doc: "Σ over b, q, c of focal(x, 0)"),
                .map(name: "foreground", .uint8, over: [r], topIsNotLast,
                     doc: "per segment slot (query s·R + r where below Q): 1 where the first largest logit is not the last class's"),
            ],
            schedule: Schedule(blockRows: 1))
    }

    // MARK: - Matched pairs

    /// What the matched (query, target) pairs of a head add (DESIGN §2, before dividing by the
    /// normalizer): the change of the focal label loss at each target's class, focal(x_l, 1) −
    /// focal(x_l, 0); whether the query's top class is the target's label (`class_error`); and the box
    /// losses `loss_bbox`, `loss_xy`, `loss_hw`, `loss_giou`.
    ///
    /// A query that several pairs share (the minsum matcher allows it) has one positive class, the
    /// last pair's label, as upstream's `target_classes[idx] = labels` gives: only pairs marked in
    /// `pair_labels_query` add to the label loss; all count for the rest.
    public static func pairLosses(gamma: String?) -> Kernel {
        let p = Axis("p", P), c = Axis("c", C)
        let logits = Tensor("logits", .float32, [B, Q, C], strided: true, doc: "the head's logits")
        let boxes = Tensor("boxes", .float32, [B, Q, .fixed(4)], strided: true, doc: "the head's predicted boxes")
        let pairImage = Tensor("pair_image", .int64, [P], doc: "image of each pair")
        let pairQuery = Tensor("pair_query", .int64, [P], doc: "query of each pair")
        let pairTarget = Tensor("pair_target", .int64, [P], doc: "target of each pair (index into labels and target_boxes)")
        let pairLabelsQuery = Tensor("pair_labels_query", .uint8, [P], doc: "1 where the pair gives its query's label (its last pair)")
        let labels = Tensor("labels", .int64, [T], doc: "all targets' labels")
        let targetBoxes = Tensor("target_boxes", .float32, [T, .fixed(4)], doc: "all targets' boxes, cxcywh")
        let image = pairImage[p.i], query = pairQuery[p.i], label = labels[pairTarget[p.i]]
        let x = logits[image, query, label]
        let g = gammaExpr(gamma)
        let positive = select(pairLabelsQuery[p.i].notEquals(0),
                              sigmoidFocalLoss(logit: x, target: 1, alpha: alpha, gamma: g)
                                - sigmoidFocalLoss(logit: x, target: 0, alpha: alpha, gamma: g), 0).named("focal loss at the target's class")
        let top = argmax(over: c, of: logits[image, query, c.i]).named("top class")
        let predicted = BoxCXCYWH(boxes, image, query)
        let target = BoxCXCYWH(targetBoxes, pairTarget[p.i])
        return Kernel(
            name: "pair_losses" + suffix(gamma),
            doc: "What the matched pairs add to the focal label loss, how many have the right top class, and their box losses; summed.",
            rows: [p], inputs: [logits, boxes, pairImage, pairQuery, pairTarget, pairLabelsQuery, labels, targetBoxes],
            parameters: ["alpha"] + gammaParameters(gamma),
            outputs: [
                .total(name: "focal", positive, doc: "Σ focal(x_l, 1) − focal(x_l, 0)"),
                .total(name: "correct", top.equals(label).real, doc: "Σ [top class = label]"),
                .total(name: "l1", l1(predicted, target), doc: "Σ L1 over cx, cy, w, h"),
                .total(name: "l1_xy", l1Center(predicted, target), doc: "Σ L1 over cx, cy"),
                .total(name: "l1_hw", l1Size(predicted, target), doc: "Σ L1 over w, h"),
                .total(name: "giou", giouLoss(predicted, target), doc: "Σ (1 − GIoU)"),
            ],
            schedule: Schedule(blockRows: 64, parallel: false))
    }

    // MARK: - Mask losses

    /// The mask losses of matched pairs (DESIGN §2 masks): each predicted mask (h×w logits) is
    /// upsampled bilinearly (align_corners = false) to the batch's padded H×W on the fly — never
    /// stored — and compared with its zero-padded target mask by the focal loss (mean over pixels)
    /// and the dice loss.
    public static func maskLosses(gamma: String?) -> Kernel {
        let p = Axis("p", P)
        let h = Extent.size("h"), w = Extent.size("w"), H = Extent.size("H"), W = Extent.size("W")
        let y = Axis("y", H), x = Axis("x", W)
        let predicted = Tensor("pred_masks", .float32, [B, Q, h, w], strided: true, doc: "predicted mask logits")
        let pairImage = Tensor("pair_image", .int64, [P], doc: "image of each pair")
        let pairQuery = Tensor("pair_query", .int64, [P], doc: "query of each pair")
        let pairTarget = Tensor("pair_target", .int64, [P], doc: "target of each pair")
        let targetMasks = Tensor("target_masks", .float32, [.size("M")], doc: "all target masks, concatenated")
        let targetOffset = Tensor("target_offset", .int64, [.size("T")], doc: "where each target's mask starts")
        let targetHeight = Tensor("target_height", .int64, [.size("T")], doc: "each target mask's height")
        let targetWidth = Tensor("target_width", .int64, [.size("T")], doc: "each target mask's width")
        let image = pairImage[p.i], query = pairQuery[p.i], target = pairTarget[p.i]
        let (y0, y1, wy) = bilinearSource(dst: y.i, inSize: h.expr, outSize: H.expr)
        let (x0, x1, wx) = bilinearSource(dst: x.i, inSize: w.expr, outSize: W.expr)
        let s = ((1 - wy) * ((1 - wx) * predicted[image, query, y0, x0] + wx * predicted[image, query, y0, x1])
            + wy * ((1 - wx) * predicted[image, query, y1, x0] + wx * predicted[image, query, y1, x1])).named("bilinear upsampling")
        let inside = (y.i < targetHeight[target]) && (x.i < targetWidth[target])
        let t = targetMasks.load([targetOffset[target] + y.i * targetWidth[target] + x.i], guardedBy: inside)
            .named("target mask, zero-padded")
        let focal = sum(over: y, x, of: sigmoidFocalLoss(logit: s, target: t, alpha: alpha, gamma: gammaExpr(gamma)))
        let pixels = H.expr.real * W.expr.real
        let dice = diceLoss(overlap: sum(over: y, x, of: sigmoid(s) * t),
                            predicted: sum(over: y, x, of: sigmoid(s)),
                            target: sum(over: y, x, of: t))
        return Kernel(
            name: "mask_losses" + suffix(gamma),
            doc: "Focal (mean over pixels) and dice losses of matched masks, upsampled bilinearly on the fly; summed over pairs.",
            rows: [p],
            inputs: [predicted, pairImage, pairQuery, pairTarget, targetMasks, targetOffset, targetHeight, targetWidth],
            parameters: ["alpha"] + gammaParameters(gamma),
            outputs: [
                .total(name: "focal", focal / pixels, doc: "Σ over pairs of the mean focal loss"),
                .total(name: "dice", dice, doc: "Σ over pairs of the dice loss"),
            ],
            schedule: Schedule(blockRows: 1))
    }

    // MARK: - The floor

    /// Σ focal(x, 0) over every logit of a head, in the same segmented pass as `label_loss`: the least
    /// any label loss must do, timed by `dino-gen bench` as the hardware floor.
    public static var focalFloor: Kernel {
        let (rows, k, logits, x, _) = segmentedLogits()
        return Kernel(
            name: "focal_floor",
            doc: "One vectorized pass of the focal term (no positives) over all logits: the speed floor.",
            rows: rows, inputs: [logits], parameters: ["alpha"],
            outputs: [.total(name: "focal", sum(over: k, of: sigmoidFocalLoss(logit: x, target: 0, alpha: alpha, gamma: 2)),
                             doc: "Σ over b, q, c of focal(x, 0)")],
            schedule: Schedule(blockRows: 1))
    }

    // MARK: - The matcher's class cost, alone

    /// One logit per element of B rows of N, and the matcher's focal class cost of each (γ = 2),
    /// computed by `cost`: the kernels that let the tests check the class cost and its lower bound
    /// over every float32 logit.
    static func classCostMap(name: String, doc: String, _ cost: (Expr) -> Expr) -> Kernel {
        let b = Axis("b", B), n = Axis("n", .size("N"))
        let logits = Tensor("logits", .float32, [B, .size("N")], doc: "logits of the targets' classes")
        return Kernel(
            name: name, doc: doc, rows: [b], inputs: [logits], parameters: ["alpha"],
            outputs: [.map(name: "cost", .float32, over: [n], cost(logits[b.i, n.i]), doc: "cost of each logit")],
            schedule: Schedule(blockRows: 1))
    }

    /// `focalMatchingCost` of each logit (γ = 2) in float32, the arithmetic of `match_cost`'s class term.
    public static var matchingClassCost: Kernel {
        classCostMap(name: "matching_class_cost", doc: "The matcher's focal class cost (gamma = 2) of each logit.") {
            focalMatchingCost(logit: $0, alpha: alpha, gamma: 2)
        }
    }

    /// `focalMatchingCostLowerBound` of each logit: at most `matching_class_cost`'s value for every
    /// finite logit and α in [0, 1].
    public static var matchingClassBound: Kernel {
        classCostMap(name: "matching_class_bound", doc: "A lower bound of the matcher's focal class cost (gamma = 2) of each logit.") {
            focalMatchingCostLowerBound(logit: $0, alpha: alpha)
        }
    }
}
