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

    /// `loss_ce`: the sigmoid focal loss over every logit, positives at the matched targets' labels;
    /// also returns, per query, 1 where its top class is not the last (for `cardinality_error`).
    func labels(_ head: Head, _ pairs: Pairs, normalizer m: Double) -> (loss: Double, foreground: [UInt8]) {
        let batch = head.logits.batch, queries = head.logits.queries
        var targetClass = [Int64](repeating: -1, count: batch * queries)
        for k in 0..<pairs.count {
            targetClass[Int(pairs.image[k]) * queries + Int(pairs.query[k])] = targets.labels[Int(pairs.target[k])]
        }
        var focal = 0.0
        var foreground = [UInt8](repeating: 0, count: batch * queries)
        let l = head.logits
        if options.focalGamma == 2 {
            dino_label_loss(Int64(batch), Int64(queries), Int64(classes), l.base, Int64(l.imageStride), Int64(l.rowStride),
                            targetClass, options.focalAlpha, &focal, &foreground)
        } else {
            dino_label_loss_gamma(Int64(batch), Int64(queries), Int64(classes), l.base, Int64(l.imageStride), Int64(l.rowStride),
                                  targetClass, options.focalAlpha, options.focalGamma, &focal, &foreground)
        }
        return (focal / m, foreground)
    }

    /// `class_error`: 100 − the percentage of pairs whose top class is the target's (100 with no pairs).
    func classError(_ head: Head, _ pairs: Pairs) -> Double {
        guard pairs.count > 0 else { return 100 }
        let labels = pairs.target.map { targets.labels[Int($0)] }
        let l = head.logits
        var correct = 0.0
        dino_matched_accuracy(Int64(pairs.count), Int64(classes), l.base, Int64(l.imageStride), Int64(l.rowStride),
                              pairs.image, pairs.query, labels, &correct)
        return 100 - 100 * correct / Double(pairs.count)
    }

    /// `cardinality_error`: mean over images of |#{queries whose top class is not C − 1} − T_b|.
    func cardinality(_ foreground: [UInt8], queries: Int) -> Double {
        let batch = targets.counts.count
        guard batch > 0 else { return 0 }
        var sum = 0.0
        for b in 0..<batch {
            var predicted = 0
            for q in 0..<queries { predicted += Int(foreground[b * queries + q]) }
            sum += Double(abs(predicted - targets.counts[b]))
        }
        return sum / Double(batch)
    }

    /// `loss_bbox`, `loss_xy`, `loss_hw` and `loss_giou` over the pairs.
    func boxes(_ head: Head, _ pairs: Pairs, normalizer m: Double) -> (bbox: Double, xy: Double, hw: Double, giou: Double) {
        var l1 = 0.0, xy = 0.0, hw = 0.0, giou = 0.0
        guard pairs.count > 0 else { return (0, 0, 0, 0) }
        let b = head.boxes
        dino_box_losses(Int64(pairs.count), b.base, Int64(b.imageStride), Int64(b.rowStride), pairs.image, pairs.query, pairs.target,
                        targets.boxes, &l1, &xy, &hw, &giou)
        return (l1 / m, xy / m, hw / m, giou / m)
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
