import LossDSL

/// DINO's matching costs and losses, written in the LossDSL. Everything the criterion computes per
/// element is defined here; `CodegenC` turns it into the C of the `GeneratedKernels` target.
///
/// | kernel | what |
/// |---|---|
/// | `label_pass` | per segment of a matched head: the focal label loss with no positives, the queries whose top class is not the last, the logits of the image's labels |
/// | `label_loss` | the same for denoising heads (or any head the matcher runs the exact path for): focal loss and top classes |
/// | `query_boxes` | each query's predicted box, part by part (cx, cy, w, h, corners, area) |
/// | `match_bound` | per target: a lower bound of its matching cost with every query, and the queries of the smallest |
/// | `match_cost_entries` | HungarianMatcher's exact cost of listed (head, target, query) entries |
/// | `match_cost` | HungarianMatcher's whole cost matrices of one head: focal class + L1 + GIoU costs |
/// | `pair_losses` | per matched pair of every head: the focal loss's positive, L1, xy, hw and GIoU |
/// | `class_hits` | the final head's pairs whose top class is the label (`class_error`) |
/// | `mask_losses` | focal and dice mask losses with the bilinear resize fused in |
/// | `focal_floor` | one pass of the focal term over all logits: the speed floor |
/// | `matching_class_cost`, `matching_class_bound` | the matcher's focal class cost (γ = 2) of each logit, and its lower bound (for the tests) |
public enum DINOKernels {
    /// All kernels, in the order they appear in the generated files.
    public static var all: [Kernel] {
        [labelPass, labelLoss(gamma: nil), labelLoss(gamma: "gamma"), queryBoxes, matchBound, matchCostEntries(gamma: nil), matchCostEntries(gamma: "gamma"),
         matchCost(gamma: nil), matchCost(gamma: "gamma"), pairLosses(gamma: nil), pairLosses(gamma: "gamma"), classHits,
         maskLosses(gamma: nil), maskLosses(gamma: "gamma"), focalFloor, matchingClassCost, matchingClassBound]
    }

    /// How many queries each target keeps from `match_bound`: the four of the smallest bounds, whose exact
    /// costs the solver starts from, and the fifth, whose bound is a lower bound of every cost left out.
    public static let boundedCandidates = 5

    /// The focusing exponent: the constant 2 (DINO's value, multiplied out) or a run-time parameter.
    static func gammaExpr(_ name: String?) -> Expr { name.map { parameter($0) } ?? 2 }
    static func suffix(_ gamma: String?) -> String { gamma == nil ? "" : "_gamma" }
    static func gammaParameters(_ gamma: String?) -> [String] { gamma.map { [$0] } ?? [] }

    // MARK: - Sizes and axes

    static let Q = Extent.size("Q"), T = Extent.size("T"), C = Extent.size("C"), B = Extent.size("B")
    static let P = Extent.size("P"), H = Extent.size("H"), J = Extent.size("J")
    static let alpha = parameter("alpha")

    // MARK: - Heads

    /// A list of heads' logits: head h's image b starts at `logits_image_stride[h]·b`, its Q queries of C
    /// classes contiguous.
    static let headLogits = Tensor(list: H, "logits", .float32, [.size("N")], doc: "each head's logits, B×Q×C with queries contiguous")
    static let headLogitsStride = Tensor("logits_image_stride", .int64, [H], doc: "where each head's next image starts, in floats")
    /// A list of heads' predicted boxes: head h's image b starts at `boxes_image_stride[h]·b`, then cx, cy,
    /// w, h per query.
    static let headBoxes = Tensor(list: H, "boxes", .float32, [.size("M")], doc: "each head's predicted boxes, B×Q×4")
    static let headBoxesStride = Tensor("boxes_image_stride", .int64, [H], doc: "where each head's next image starts, in floats")

    /// The logit of head `h`, image `b`, query `q`, class `c`.
    static func logit(_ h: Expr, _ b: Expr, _ q: Expr, _ c: Expr) -> Expr {
        headLogits[h, headLogitsStride[h] * b + q * C.expr + c]
    }

    /// The predicted box of head `h`, image `b`, query `q`.
    static func predictedBox(_ h: Expr, _ b: Expr, _ q: Expr) -> BoxCXCYWH {
        func coordinate(_ k: Int) -> Expr { headBoxes[h, headBoxesStride[h] * b + q * Expr.int(4) + Expr.int(k)] }
        return BoxCXCYWH(coordinate(0), coordinate(1), coordinate(2), coordinate(3))
    }

    /// The matching cost of DESIGN §2 from its class term: w_class·class + w_bbox·L1 − w_giou·GIoU. The
    /// exact costs (`match_cost`, `match_cost_entries`) and their lower bound (`match_bound`) share it, so
    /// that a bound of the class term bounds the cost; `corners` are the predicted box's xyxy where they
    /// were computed beforehand (`query_boxes`).
    static func matchingCost(classCost: Expr, predicted: BoxCXCYWH, corners: BoxXYXY? = nil, target: BoxCXCYWH) -> Expr {
        parameter("cost_class") * classCost
            + parameter("cost_bbox") * l1(predicted, target)
            - parameter("cost_giou") * giou(corners ?? predicted.xyxy, target.xyxy)
    }

    /// A list of `count` items (pairs, entries) processed as rows of `itemsPerRow` consecutive items, each
    /// row one vectorized loop over its items (`inner`): `item` is the list index of the current one.
    struct Blocked {
        static let itemsPerRow = 256
        let row: Axis, inner: Axis, item: Expr
        init(_ count: Extent, _ name: String) {
            let n = Expr.int(Self.itemsPerRow)
            row = Axis(name + "_block", .expression((count.expr + Expr.int(Self.itemsPerRow - 1)) / n))
            let first = row.i * n
            inner = Axis(name, .expression(min(n, count.expr - first)))
            item = first + inner.i
        }
    }

    // MARK: - Matching cost

    /// HungarianMatcher's cost matrices of one head (DESIGN §2 "Matching cost"), for every target of the
    /// batch against every query of its image:
    /// C[t, q] = w_class·focal(x[b_t, q, label_t]) + w_bbox·L1(box[b_t, q], tbox_t) − w_giou·GIoU(box[b_t, q], tbox_t).
    ///
    /// Fused: the Q×C focal tables upstream builds are never formed; each (t, q) gathers its one logit.
    /// Laid out target by target (each target's row over the queries is one vectorized loop, and it is
    /// the row a target bids from in the assignment; image b's matrix is its targets' rows), in float32
    /// arithmetic as upstream computes it. The predicted boxes come coordinate by coordinate, so that a
    /// vector of queries loads each coordinate at once. The criterion computes whole matrices only where
    /// the bounds of `match_bound` cannot settle a matching.
    public static func matchCost(gamma: String?) -> Kernel {
        let q = Axis("q", Q), t = Axis("t", T)
        let logits = Tensor("logits", .float32, [B, Q, C], strided: true, doc: "the head's logits")
        let boxes = Tensor("boxes", .float32, [B, .fixed(4), Q], doc: "the head's predicted boxes, per image coordinate by coordinate: cx[Q], cy[Q], w[Q], h[Q]")
        let targetImage = Tensor("target_image", .int64, [T], doc: "image of each target")
        let labels = Tensor("labels", .int64, [T], doc: "target labels")
        let targetBoxes = Tensor("target_boxes", .float32, [T, .fixed(4)], doc: "target boxes, cxcywh")
        let image = targetImage[t.i]
        let predicted = BoxCXCYWH(boxes[image, 0, q.i], boxes[image, 1, q.i], boxes[image, 2, q.i], boxes[image, 3, q.i])
        let classCost = focalMatchingCost(logit: logits[image, q.i, labels[t.i]], alpha: alpha, gamma: gammaExpr(gamma))
        return Kernel(
            name: "match_cost" + suffix(gamma),
            doc: "HungarianMatcher cost matrices of one head, target by target: class (focal), bbox (L1) and GIoU costs, weighted.",
            rows: [t], inputs: [logits, boxes, targetImage, labels, targetBoxes],
            parameters: ["alpha"] + gammaParameters(gamma) + ["cost_class", "cost_bbox", "cost_giou"],
            outputs: [.map(name: "cost", .float64, over: [q],
                           matchingCost(classCost: classCost, predicted: predicted, target: BoxCXCYWH(targetBoxes, t.i)), doc: "C[t, q]")],
            schedule: Schedule(blockRows: 1))
    }

    /// What `match_bound` reads of each query's predicted box, per head and image: cx, cy, w, h and the
    /// corners and area of xyxy, each Q in a row (computed once per query instead of once per target).
    static let queryBoxParts = ["cx", "cy", "w", "h", "x0", "y0", "x1", "y1", "area"]

    /// The predicted boxes of a list of heads, part by part (`queryBoxParts`) as `match_bound` reads them.
    public static var queryBoxes: Kernel {
        let h = Axis("h", H), b = Axis("b", B), q = Axis("q", Q)
        let box = predictedBox(h.i, b.i, q.i), corners = box.xyxy
        let values = [box.cx, box.cy, box.w, box.h, corners.x0, corners.y0, corners.x1, corners.y1, corners.area]
        return Kernel(
            name: "query_boxes",
            doc: "The predicted boxes of every head and image, part by part: cx, cy, w, h, x0, y0, x1, y1 and the area.",
            rows: [h, b], inputs: [headBoxes, headBoxesStride],
            outputs: zip(queryBoxParts, values).map { .map(name: "box_" + $0, .float32, over: [q], $1, doc: "[H × B × Q]") },
            schedule: Schedule(blockRows: 1))
    }

    /// For every target of every matched head, a lower bound of its matching cost with each query of its
    /// image — the cost of DESIGN §2 with the class term replaced by ``focalMatchingCostLowerBound(logit:alpha:)``
    /// of the logits `label_pass` has gathered, the box terms exact (from `query_boxes`) — and the
    /// `boundedCandidates` queries of the smallest bounds. The solver takes the exact costs of the first four
    /// (`match_cost_entries`) and the fifth bound as a bound of every cost left out: no whole cost matrix is
    /// needed where that proves the assignment optimal.
    public static var matchBound: Kernel {
        let h = Axis("h", H), t = Axis("t", T), q = Axis("q", Q)
        let classLogits = Tensor("class_logits", .float32, [H, J, Q], doc: "label_pass's logits of each head, image label and query")
        let parts = queryBoxParts.map { Tensor("box_" + $0, .float32, [H, B, Q], doc: "query_boxes's " + $0) }
        let targetImage = Tensor("target_image", .int64, [T], doc: "image of each target")
        let targetLabel = Tensor("target_label", .int64, [T], doc: "each target's entry in its image's label list (an index into J)")
        let targetBoxes = Tensor("target_boxes", .float32, [T, .fixed(4)], doc: "target boxes, cxcywh")
        let image = targetImage[t.i]
        let part = parts.map { $0[h.i, image, q.i] }
        let predicted = BoxCXCYWH(part[0], part[1], part[2], part[3])
        let corners = BoxXYXY(part[4], part[5], part[6], part[7], area: part[8])
        let target = BoxCXCYWH(targetBoxes, t.i)
        let classBound = focalMatchingCostLowerBound(logit: classLogits[h.i, targetLabel[t.i], q.i], alpha: alpha)
        let bound = matchingCost(classCost: classBound, predicted: predicted, corners: corners, target: target)
        return Kernel(
            name: "match_bound",
            doc: "Lower bounds of the matching costs of every head's targets against their image's queries, and the queries of the smallest.",
            rows: [h, t], inputs: [classLogits] + parts + [targetImage, targetLabel, targetBoxes],
            parameters: ["alpha", "cost_class", "cost_bbox", "cost_giou"],
            outputs: [.smallest(name: "candidates", count: boundedCandidates, over: q, bound.named("matching cost bound"),
                                doc: "the queries of the smallest bounds of C[h, t, q]")],
            // two vectors in flight: the bound and the box terms keep many values live, and four would spill
            schedule: Schedule(blockRows: 1, interleave: 2))
    }

    /// HungarianMatcher's exact cost (as `match_cost` computes it) of the queries `match_bound` listed
    /// first for each head and target: the four of the smallest bounds (`boundedCandidates` − 1), read from
    /// what the bounded matching has just had in cache — the logit from `label_pass`'s table, the box from
    /// `query_boxes`'s parts.
    public static func matchCostEntries(gamma: String?) -> Kernel {
        let h = Axis("h", H), t = Axis("t", T), m = Axis("m", .fixed(boundedCandidates - 1))
        let classLogits = Tensor("class_logits", .float32, [H, J, Q], doc: "label_pass's logits of each head, image label and query")
        let parts = queryBoxParts.prefix(4).map { Tensor("box_" + $0, .float32, [H, B, Q], doc: "query_boxes's " + $0) }
        let candidates = Tensor("candidates_index", .int32, [H, T, .fixed(boundedCandidates)], doc: "match_bound's queries of the smallest bounds")
        let targetImage = Tensor("target_image", .int64, [T], doc: "image of each target")
        let targetLabel = Tensor("target_label", .int64, [T], doc: "each target's entry in its image's label list (an index into J)")
        let targetBoxes = Tensor("target_boxes", .float32, [T, .fixed(4)], doc: "target boxes, cxcywh")
        // (a query of −1, which no list the solver accepts holds, reads query 0)
        let query = max(candidates[h.i, t.i, m.i], 0), image = targetImage[t.i]
        let part = parts.map { $0[h.i, image, query] }
        let classCost = focalMatchingCost(logit: classLogits[h.i, targetLabel[t.i], query], alpha: alpha, gamma: gammaExpr(gamma))
        let cost = matchingCost(classCost: classCost, predicted: BoxCXCYWH(part[0], part[1], part[2], part[3]), target: BoxCXCYWH(targetBoxes, t.i))
        return Kernel(
            name: "match_cost_entries" + suffix(gamma),
            doc: "HungarianMatcher's exact matching cost of the queries match_bound listed first for each head and target.",
            rows: [h, t], inputs: [classLogits] + parts + [candidates, targetImage, targetLabel, targetBoxes],
            parameters: ["alpha"] + gammaParameters(gamma) + ["cost_class", "cost_bbox", "cost_giou"],
            outputs: [.map(name: "cost", .float64, over: [m], cost, doc: "C[h, t, q] of each listed query")],
            schedule: Schedule(blockRows: 8, vectorize: false))
    }

    // MARK: - Label loss

    /// A head's logits are processed image by image as one flat run of Q·C values (its queries are
    /// contiguous), cut into segments of R = max(1, ⌊segmentLength / C⌋) whole queries: long vector
    /// loops, rows enough for every thread whatever B is, and each segment's queries still in cache for
    /// the per-query work that follows.
    public static let segmentLength = 16384

    /// The segmented rows shared by `label_pass`, `label_loss` and `focal_floor`: heads h, images b and
    /// segments s of R queries (the last one shorter); the segment's first query and its query count.
    struct Segments {
        let h = Axis("h", H), b = Axis("b", B), s = Axis("s", .size("S"))
        var rows: [Axis] { [h, b, s] }
        var first: Expr { s.i * Extent.size("R").expr }
        var count: Expr { min(Extent.size("R").expr, Q.expr - first) }
        /// The segment's logits, as one run: k over count·C.
        var k: Axis { Axis("k", .expression(count * C.expr)) }
        /// The segment's queries: r over count.
        var r: Axis { Axis("r", .expression(count)) }
        func logit(_ k: Expr) -> Expr { headLogits[h.i, headLogitsStride[h.i] * b.i + first * C.expr + k] }
        func logit(query r: Expr, _ c: Expr) -> Expr { DINOKernels.logit(h.i, b.i, first + r, c) }
        /// Σ focal(x, 0) over the segment's logits: the label loss with no positives.
        func focalNegatives(gamma: String?) -> Expr {
            sum(over: k, of: sigmoidFocalLoss(logit: logit(k.i), target: 0, alpha: alpha, gamma: gammaExpr(gamma)))
        }
    }

    /// The focal label loss of a segment with no positives (DESIGN §2 `loss_ce`, all targets 0; the
    /// pairs add what the matched queries change) and, for `cardinality_error`, how many of its queries
    /// have a top class (first index on ties) other than the last one (C − 1): that holds exactly when
    /// some earlier class has a logit at least as large, a scan that usually stops after a class or two.
    static func segmentLosses(_ g: Segments, gamma: String?) -> [Output] {
        let last: Expr = C.expr - Expr.int(1)
        let c = Axis("c", .expression(last))   // the classes before the last
        let topIsNotLast = exists(over: c, g.logit(query: g.r.i, c.i) >= g.logit(query: g.r.i, last))
            .named("an earlier class's logit at least the last one's")
        return [
            .perRow(name: "focal", .float64, g.focalNegatives(gamma: gamma), doc: "Σ over the segment's logits of focal(x, 0)"),
            .perRow(name: "foreground", .float64, sum(over: g.r, of: topIsNotLast.real),
                    doc: "the segment's queries whose first largest logit is not the last class's"),
        ]
    }

    /// The per-segment label losses of a list of heads (`segmentLosses`): the denoising layers, and any
    /// head matched by whole cost matrices.
    public static func labelLoss(gamma: String?) -> Kernel {
        let g = Segments()
        return Kernel(
            name: "label_loss" + suffix(gamma),
            doc: "Per segment of each head: the sigmoid focal label loss with no positives, and the queries whose top class is not the last.",
            rows: g.rows, inputs: [headLogits, headLogitsStride], parameters: ["alpha"] + gammaParameters(gamma),
            outputs: segmentLosses(g, gamma: gamma),
            schedule: Schedule(blockRows: 1))
    }

    /// `label_loss` for the matched heads, with what the matching needs from the segment while it is in
    /// cache: the logits of each distinct label of the image, query by query, in a table indexed by head,
    /// label and query (a gather here, where the segment is in cache; `match_bound` reads them in order).
    public static var labelPass: Kernel {
        let g = Segments()
        let labelStart = Tensor("label_start", .int64, [B], doc: "where each image's distinct labels start in label_class")
        let labelCount = Tensor("label_count", .int64, [B], doc: "how many distinct labels each image has")
        let labelClass = Tensor("label_class", .int64, [J], doc: "the distinct labels of every image, image after image")
        // the segment's queries are rows of C logits; the columns are the image's labels
        let table = ColumnGather(source: headLogits, list: g.h.i, start: headLogitsStride[g.h.i] * g.b.i + g.first * C.expr,
                                 rowLength: C.expr, rows: g.count, columns: labelClass, columnsStart: labelStart[g.b.i],
                                 count: labelCount[g.b.i], at: (g.h.i * J.expr + labelStart[g.b.i]) * Q.expr + g.first, stride: Q.expr)
        return Kernel(
            name: "label_pass",
            doc: "Per segment of each matched head: label_loss, and the logits of the image's labels, query by query.",
            rows: g.rows, inputs: [headLogits, headLogitsStride, labelStart, labelCount, labelClass],
            parameters: ["alpha"],
            outputs: segmentLosses(g, gamma: nil) + [
                .gather(name: "class_logits", table, doc: "[H × J × Q]: the logit of each head, image label and query"),
            ],
            schedule: Schedule(blockRows: 1))
    }

    // MARK: - Matched pairs

    /// What the matched (query, target) pairs of every head add (DESIGN §2, before dividing by the
    /// normalizer), per pair: the change of the focal label loss at each target's class, focal(x_l, 1) −
    /// focal(x_l, 0), and the box losses `loss_bbox`, `loss_xy`, `loss_hw`, `loss_giou`. (`class_hits`
    /// counts the top classes.)
    ///
    /// A query that several pairs share (the minsum matcher allows it) has one positive class, the
    /// last pair's label, as upstream's `target_classes[idx] = labels` gives: only pairs marked in
    /// `pair_labels_query` add to the label loss; all count for the box losses.
    public static func pairLosses(gamma: String?) -> Kernel {
        let list = Blocked(P, "p")
        let pairHead = Tensor("pair_head", .int64, [P], doc: "head of each pair")
        let pairImage = Tensor("pair_image", .int64, [P], doc: "image of each pair")
        let pairQuery = Tensor("pair_query", .int64, [P], doc: "query of each pair")
        let pairTarget = Tensor("pair_target", .int64, [P], doc: "target of each pair (index into labels and target_boxes)")
        let pairLabelsQuery = Tensor("pair_labels_query", .uint8, [P], doc: "1 where the pair gives its query's label (its last pair)")
        let labels = Tensor("labels", .int64, [T], doc: "all targets' labels")
        let targetBoxes = Tensor("target_boxes", .float32, [T, .fixed(4)], doc: "all targets' boxes, cxcywh")
        let p = list.item
        let head = pairHead[p], image = pairImage[p], query = pairQuery[p], label = labels[pairTarget[p]]
        let x = logit(head, image, query, label)
        let g = gammaExpr(gamma)
        let positive = select(pairLabelsQuery[p].notEquals(0),
                              sigmoidFocalLoss(logit: x, target: 1, alpha: alpha, gamma: g)
                                - sigmoidFocalLoss(logit: x, target: 0, alpha: alpha, gamma: g), 0).named("focal loss at the target's class")
        let predicted = predictedBox(head, image, query)
        let target = BoxCXCYWH(targetBoxes, pairTarget[p])
        func out(_ name: String, _ value: Expr, _ doc: String) -> Output { .store(name: name, .float64, over: [list.inner], at: p, value, doc: "[P]: " + doc) }
        return Kernel(
            name: "pair_losses" + suffix(gamma),
            doc: "Per matched pair of every head: what it adds to the focal label loss, and its box losses.",
            rows: [list.row], inputs: [headLogits, headLogitsStride, headBoxes, headBoxesStride, pairHead, pairImage, pairQuery, pairTarget,
                                       pairLabelsQuery, labels, targetBoxes],
            parameters: ["alpha"] + gammaParameters(gamma),
            outputs: [
                out("focal", positive, "focal(x_l, 1) − focal(x_l, 0)"),
                out("l1", l1(predicted, target), "L1 over cx, cy, w, h"),
                out("l1_xy", l1Center(predicted, target), "L1 over cx, cy"),
                out("l1_hw", l1Size(predicted, target), "L1 over w, h"),
                out("giou", giouLoss(predicted, target), "1 − GIoU"),
            ],
            // one loop over the pairs, preceded by a pass that prefetches their logits and boxes (at B = 16 they
            // are in memory, not in cache); every value is gathered: 8-lane gathers are faster than 16-lane ones
            // on some CPUs
            schedule: Schedule(blockRows: 1, outputLanes: ["focal": 8, "l1": 8, "l1_xy": 8, "l1_hw": 8, "giou": 8], prefetch: true))
    }

    /// `class_error`'s count (DESIGN §2): the pairs of one head whose query's top class (first index on
    /// ties) is the target's label.
    public static var classHits: Kernel {
        let p = Axis("p", P), c = Axis("c", C)
        let logits = Tensor("logits", .float32, [B, Q, C], strided: true, doc: "the head's logits")
        let pairImage = Tensor("pair_image", .int64, [P], doc: "image of each pair")
        let pairQuery = Tensor("pair_query", .int64, [P], doc: "query of each pair")
        let pairLabel = Tensor("pair_label", .int64, [P], doc: "label of each pair's target")
        let top = argmax(over: c, of: logits[pairImage[p.i], pairQuery[p.i], c.i]).named("top class")
        return Kernel(
            name: "class_hits",
            doc: "How many of a head's matched pairs have the target's label as their query's top class.",
            rows: [p], inputs: [logits, pairImage, pairQuery, pairLabel],
            outputs: [.total(name: "hits", top.equals(pairLabel[p.i]).real, doc: "Σ [top class = label]")],
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

    /// Σ focal(x, 0) over every logit of a list of heads, in the same segmented pass as `label_loss`:
    /// the least any label loss must do, timed by `dino-gen bench` as the hardware floor.
    public static var focalFloor: Kernel {
        let g = Segments()
        return Kernel(
            name: "focal_floor",
            doc: "One vectorized pass of the focal term (no positives) over all logits: the speed floor.",
            rows: g.rows, inputs: [headLogits, headLogitsStride], parameters: ["alpha"],
            outputs: [.total(name: "focal", g.focalNegatives(gamma: nil), doc: "Σ over h, b, q, c of focal(x, 0)")],
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
