import DINOKernelsC

/// The losses of one head, before their key suffix (DESIGN §2 "Losses of one head").
struct HeadLosses {
    var ce = 0.0, bbox = 0.0, giou = 0.0, xy = 0.0, hw = 0.0, cardinality = 0.0
    var classError: Double? = nil
    var mask: Double? = nil, dice: Double? = nil

    /// Zeros: the dn keys when there is no denoising.
    static let zero = HeadLosses()
}

/// One short function per loss, as in DETR's SetCriterion; each divides by the normalizer `m`.
struct LossFunctions {
    let options: CriterionOptions
    let targets: TargetTable
    let classes: Int

    /// The focal label loss over every logit of the head with no positives (all targets 0), and per
    /// query 1 where its top class is not the last (for `cardinality_error`).
    func labels(_ head: Head) -> LabelPass {
        let l = head.logits, (r, segments) = l.segments
        var focal = 0.0
        // one slot per segment and query of the segment: query s·R + j of image b at (b·S + s)·R + j
        var slots = [UInt8](repeating: 0, count: l.batch * segments * r)
        if options.focalGamma == 2 {
            dino_label_loss(Int64(l.batch), Int64(segments), Int64(l.queries), Int64(l.width), Int64(r), l.base, Int64(l.imageStride),
                            options.focalAlpha, &focal, &slots)
        } else {
            dino_label_loss_gamma(Int64(l.batch), Int64(segments), Int64(l.queries), Int64(l.width), Int64(r), l.base, Int64(l.imageStride),
                                  options.focalAlpha, options.focalGamma, &focal, &slots)
        }
        // the slots of image b are its queries in order, then the unused ones of its last segment
        let counts = slots.withUnsafeBufferPointer { all in
            (0..<l.batch).map { b in UnsafeBufferPointer(rebasing: all[(b * segments * r)..<(b * segments * r + l.queries)]).reduce(0) { $0 + Int($1) } }
        }
        return LabelPass(negatives: focal, foreground: counts)
    }

    /// What a head's pass over its logits gives.
    struct LabelPass {
        /// Σ focal(x, 0) over every logit.
        var negatives: Double
        /// Per image, the queries whose top class is not the last one.
        var foreground: [Int]
    }

    /// Sums over the matched pairs of a head (the `pair_losses` kernel).
    struct PairSums {
        /// Σ focal(x_l, 1) − focal(x_l, 0): what the positives add to the label loss.
        var positives = 0.0
        /// Pairs whose query's top class is the target's label.
        var correct = 0.0
        /// Σ L1 over all four, the center and the size coordinates; Σ (1 − GIoU).
        var l1 = 0.0, xy = 0.0, hw = 0.0, giou = 0.0
    }

    /// What the pairs add to the label loss, their top-class hits and their box losses, summed.
    func pairSums(_ head: Head, _ pairs: Pairs) -> PairSums {
        var s = PairSums()
        guard pairs.count > 0 else { return s }
        let (l, b) = (head.logits, head.boxes)
        let labelsQuery = pairs.labelsQuery(batch: l.batch, queries: l.queries)
        if options.focalGamma == 2 {
            dino_pair_losses(Int64(pairs.count), Int64(classes), l.base, Int64(l.imageStride), Int64(l.rowStride),
                             b.base, Int64(b.imageStride), Int64(b.rowStride), pairs.image, pairs.query, pairs.target,
                             labelsQuery, targets.labels, targets.boxes, options.focalAlpha,
                             &s.positives, &s.correct, &s.l1, &s.xy, &s.hw, &s.giou)
        } else {
            dino_pair_losses_gamma(Int64(pairs.count), Int64(classes), l.base, Int64(l.imageStride), Int64(l.rowStride),
                                   b.base, Int64(b.imageStride), Int64(b.rowStride), pairs.image, pairs.query, pairs.target,
                                   labelsQuery, targets.labels, targets.boxes, options.focalAlpha, options.focalGamma,
                                   &s.positives, &s.correct, &s.l1, &s.xy, &s.hw, &s.giou)
        }
        return s
    }

    /// `loss_ce`, `class_error` and the box losses of a head from its two kernels' sums, normalized by `m`.
    func losses(labels: LabelPass, pairs s: PairSums, count: Int,
                normalizer m: Double, classError: Bool) -> HeadLosses {
        var l = HeadLosses()
        l.ce = (labels.negatives + s.positives) / m
        l.cardinality = cardinality(labels.foreground)
        // class_error: 100 − the percentage of pairs whose top class is the target's (100 with no pairs)
        if classError { l.classError = count > 0 ? 100 - 100 * s.correct / Double(count) : 100 }
        (l.bbox, l.xy, l.hw, l.giou) = (s.l1 / m, s.xy / m, s.hw / m, s.giou / m)
        return l
    }

    /// `cardinality_error`: mean over images of |#{queries whose top class is not C − 1} − T_b|.
    func cardinality(_ foreground: [Int]) -> Double {
        guard !foreground.isEmpty else { return 0 }
        return zip(foreground, targets.counts).reduce(0.0) { $0 + Double(abs($1.0 - $1.1)) } / Double(foreground.count)
    }

    /// `loss_mask` (focal, mean over pixels) and `loss_dice` of the paired masks.
    func masks(_ masks: Masks, _ pairs: Pairs, normalizer m: Double) -> (mask: Double, dice: Double) {
        guard pairs.count > 0 else { return (0, 0) }
        let H = masks.imageHeights.max() ?? 0, W = masks.imageWidths.max() ?? 0
        var heights: [Int64] = [], widths: [Int64] = []
        for (b, count) in targets.counts.enumerated() {
            heights += Array(repeating: Int64(masks.imageHeights[b]), count: count)
            widths += Array(repeating: Int64(masks.imageWidths[b]), count: count)
        }
        let offsets = masks.targetOffsets.map(Int64.init)
        let p = masks.predicted
        var focal = 0.0, dice = 0.0
        if options.focalGamma == 2 {
            dino_mask_losses(Int64(pairs.count), Int64(masks.height), Int64(masks.width), Int64(H), Int64(W),
                             p.base, Int64(p.imageStride), Int64(p.rowStride), Int64(masks.width),
                             pairs.image, pairs.query, pairs.target, masks.targets, offsets, heights, widths,
                             options.focalAlpha, &focal, &dice)
        } else {
            dino_mask_losses_gamma(Int64(pairs.count), Int64(masks.height), Int64(masks.width), Int64(H), Int64(W),
                                   p.base, Int64(p.imageStride), Int64(p.rowStride), Int64(masks.width),
                                   pairs.image, pairs.query, pairs.target, masks.targets, offsets, heights, widths,
                                   options.focalAlpha, options.focalGamma, &focal, &dice)
        }
        return (focal / m, dice / m)
    }
}
