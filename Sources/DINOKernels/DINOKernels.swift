import LossDSL

/// DINO's matching costs and losses, written in the LossDSL. Everything the criterion computes per
/// element is defined here; `CodegenC` turns it into the C of the `GeneratedKernels` target.
///
/// | kernel | what |
/// |---|---|
/// | `match_cost` | HungarianMatcher's C[q, t] for one image: focal class + L1 + GIoU costs |
/// | `label_loss` | focal label loss of a head and, per query, whether its top class is not the last |
/// | `matched_accuracy` | matched pairs whose top class is the target's label (`class_error`) |
/// | `box_losses` | L1, xy, hw and GIoU losses over matched pairs |
/// | `mask_losses` | focal and dice mask losses with the bilinear resize fused in |
/// | `focal_floor` | one pass of the focal term over all logits: the speed floor |
public enum DINOKernels {
    /// All kernels, in the order they appear in the generated files.
    public static var all: [Kernel] {
        [matchCost(gamma: nil), matchCost(gamma: "gamma"), labelLoss(gamma: nil), labelLoss(gamma: "gamma"),
         matchedAccuracy, boxLosses, maskLosses(gamma: nil), maskLosses(gamma: "gamma"), focalFloor]
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

    /// HungarianMatcher's cost matrix for one image (DESIGN §2 "Matching cost"), target by target:
    /// C[t, q] = w_class·focal(x[q, label_t]) + w_bbox·L1(box_q, tbox_t) − w_giou·GIoU(box_q, tbox_t).
    ///
    /// Fused: the Q×C focal tables upstream builds are never formed; each (t, q) gathers its one logit.
    /// Laid out T × Q (each target's row over the queries is one vectorized loop, and it is the row a
    /// target bids from in the assignment), in float32 arithmetic as upstream computes it.
    public static func matchCost(gamma: String?) -> Kernel {
        let q = Axis("q", Q), t = Axis("t", T)
        let logits = Tensor("logits", .float32, [Q, C], strided: true, doc: "the image's logits")
        let boxes = Tensor("boxes", .float32, [Q, .fixed(4)], strided: true, doc: "predicted boxes, cxcywh")
        let labels = Tensor("labels", .int64, [T], doc: "target labels")
        let targetBoxes = Tensor("target_boxes", .float32, [T, .fixed(4)], doc: "target boxes, cxcywh")
        let predicted = BoxCXCYWH(boxes, q.i)
        let target = BoxCXCYWH(targetBoxes, t.i)
        let classCost = focalMatchingCost(logit: logits[q.i, labels[t.i]], alpha: alpha, gamma: gammaExpr(gamma))
        let cost = parameter("cost_class") * classCost
            + parameter("cost_bbox") * l1(predicted, target)
            - parameter("cost_giou") * giou(predicted.xyxy, target.xyxy)
        return Kernel(
            name: "match_cost" + suffix(gamma),
            doc: "HungarianMatcher cost matrix of one image: class (focal), bbox (L1) and GIoU costs, weighted.",
            rows: [t], inputs: [logits, boxes, labels, targetBoxes],
            parameters: ["alpha"] + gammaParameters(gamma) + ["cost_class", "cost_bbox", "cost_giou"],
            outputs: [.map(name: "cost", .float64, over: [q], cost, doc: "C[t, q]")])
    }

    // MARK: - Label loss

    /// The focal label loss of one head (DESIGN §2 `loss_ce`, before dividing by the normalizer) and,
    /// for `cardinality_error`, whether each query's top class is not the last one (C − 1).
    ///
    /// Σ_{b,q,c} focal(x, y) is computed as Σ_c focal(x, 0) over every logit plus, for a matched query,
    /// focal(x_l, 1) − focal(x_l, 0) at its target class l: the same sum, and a pass over the logits
    /// that needs nothing from the matching. The top class (first index on ties) is not C − 1 exactly
    /// when some earlier class has a logit at least as large: a maximum, in the same pass.
    public static func labelLoss(gamma: String?) -> Kernel {
        let b = Axis("b", B), q = Axis("q", Q), c = Axis("c", C)
        let logits = Tensor("logits", .float32, [B, Q, C], strided: true, doc: "the head's logits")
        let targetClass = Tensor("target_class", .int64, [B, Q], doc: "matched target's label, or -1")
        let g = gammaExpr(gamma)
        let label = targetClass[b.i, q.i]
        let matched = label >= 0
        let x = logits.load([b.i, q.i, max(label, 0)], guardedBy: matched)
        let negatives = sum(over: c, of: sigmoidFocalLoss(logit: logits[b.i, q.i, c.i], target: 0, alpha: alpha, gamma: g))
        let positive = select(matched, sigmoidFocalLoss(logit: x, target: 1, alpha: alpha, gamma: g)
                                  - sigmoidFocalLoss(logit: x, target: 0, alpha: alpha, gamma: g), 0)
        let last: Expr = C.expr - Expr.int(1)
        let beforeLast: Expr = select(c.i < last, logits[b.i, q.i, c.i], Expr.constant(-Double.infinity))
        let earlierBest = max(over: c, of: beforeLast).named("largest logit before the last class")
        return Kernel(
            name: "label_loss" + suffix(gamma),
            doc: "Sigmoid focal label loss of one head (summed, not normalized) and whether each query's top class is not the last.",
            rows: [b, q], inputs: [logits, targetClass], parameters: ["alpha"] + gammaParameters(gamma),
            outputs: [
                .total(name: "focal", negatives + positive, doc: "Σ over b, q, c of the focal loss"),
                .perRow(name: "foreground", .uint8, earlierBest >= logits[b.i, q.i, last],
                        doc: "1 where the first largest logit is not the last class's"),
            ])
    }

    /// How many matched pairs have their target's label as the query's top class (first index on
    /// ties), for `class_error`.
    public static var matchedAccuracy: Kernel {
        let p = Axis("p", P), c = Axis("c", C)
        let logits = Tensor("logits", .float32, [B, Q, C], strided: true, doc: "the head's logits")
        let pairImage = Tensor("pair_image", .int64, [P], doc: "image of each pair")
        let pairQuery = Tensor("pair_query", .int64, [P], doc: "query of each pair")
        let pairLabel = Tensor("pair_label", .int64, [P], doc: "label of each pair's target")
        let top = argmax(over: c, of: logits[pairImage[p.i], pairQuery[p.i], c.i]).named("top class")
        return Kernel(
            name: "matched_accuracy",
            doc: "Number of matched pairs whose query's top class is the target's label.",
            rows: [p], inputs: [logits, pairImage, pairQuery, pairLabel],
            outputs: [.total(name: "correct", top.equals(pairLabel[p.i]).real, doc: "Σ over pairs of [top class = label]")],
            schedule: Schedule(blockRows: 64, parallel: false))
    }

    // MARK: - Box losses

    /// The box losses of a list of matched pairs (DESIGN §2 `loss_bbox`, `loss_xy`, `loss_hw`,
    /// `loss_giou`, before dividing by the normalizer).
    public static var boxLosses: Kernel {
        let p = Axis("p", P)
        let boxes = Tensor("boxes", .float32, [B, Q, .fixed(4)], strided: true, doc: "the head's predicted boxes")
        let pairImage = Tensor("pair_image", .int64, [P], doc: "image of each pair")
        let pairQuery = Tensor("pair_query", .int64, [P], doc: "query of each pair")
        let pairTarget = Tensor("pair_target", .int64, [P], doc: "target of each pair (index into target_boxes)")
        let targetBoxes = Tensor("target_boxes", .float32, [.size("T"), .fixed(4)], doc: "all targets' boxes, cxcywh")
        let predicted = BoxCXCYWH(boxes, pairImage[p.i], pairQuery[p.i])
        let target = BoxCXCYWH(targetBoxes, pairTarget[p.i])
        return Kernel(
            name: "box_losses",
            doc: "L1 (all, center, size) and GIoU losses of matched pairs, summed.",
            rows: [p], inputs: [boxes, pairImage, pairQuery, pairTarget, targetBoxes],
            outputs: [
                .total(name: "l1", l1(predicted, target), doc: "Σ L1 over cx, cy, w, h"),
                .total(name: "l1_xy", l1Center(predicted, target), doc: "Σ L1 over cx, cy"),
                .total(name: "l1_hw", l1Size(predicted, target), doc: "Σ L1 over w, h"),
                .total(name: "giou", giouLoss(predicted, target), doc: "Σ (1 − GIoU)"),
            ],
            precision: .float64, schedule: Schedule(blockRows: 64, parallel: false, vectorize: false))
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

    /// Σ focal(x, 0) over every logit of a head: the least any label loss must do, timed by
    /// `dino-gen bench` as the hardware floor.
    public static var focalFloor: Kernel {
        let b = Axis("b", B), q = Axis("q", Q), c = Axis("c", C)
        let logits = Tensor("logits", .float32, [B, Q, C], strided: true, doc: "the head's logits")
        return Kernel(
            name: "focal_floor",
            doc: "One vectorized pass of the focal term (no positives) over all logits: the speed floor.",
            rows: [b, q], inputs: [logits], parameters: ["alpha"],
            outputs: [.total(name: "focal", sum(over: c, of: sigmoidFocalLoss(logit: logits[b.i, q.i, c.i], target: 0, alpha: alpha, gamma: 2)),
                             doc: "Σ over b, q, c of focal(x, 0)")])
    }
}
