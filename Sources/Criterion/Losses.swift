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

    /// What a head's pass over its logits gives.
    struct LabelPass {
        /// Σ focal(x, 0) over every logit.
        var negatives: Double
        /// Per image, the queries whose top class is not the last one.
        var foreground: [Int]
    }

    /// The focal label loss over every logit of each head with no positives (all targets 0), and per
    /// image the queries whose top class is not the last (for `cardinality_error`): `label_loss`.
    func labels(_ list: HeadList) -> [LabelPass] {
        guard list.count > 0 else { return [] }
        let (r, segments) = list.segments, rows = list.segmentRows
        var focal = [Double](repeating: 0, count: rows), foreground = [Double](repeating: 0, count: rows)
        if options.focalGamma == 2 {
            dino_label_loss(Int64(list.count), Int64(list.batch), Int64(segments), Int64(r), Int64(list.queries), Int64(classes),
                            list.logits, list.logitsStride, options.focalAlpha, &focal, &foreground)
        } else {
            dino_label_loss_gamma(Int64(list.count), Int64(list.batch), Int64(segments), Int64(r), Int64(list.queries), Int64(classes),
                                  list.logits, list.logitsStride, options.focalAlpha, options.focalGamma, &focal, &foreground)
        }
        return Self.passes(list, focal, foreground)
    }

    /// `labels` for the matched heads, with what the bounded matching needs (`label_pass`): the logits of
    /// each head, image label and query (H × J × Q, into `classLogits`). γ = 2.
    func labelPass(_ list: HeadList, _ labels: ImageLabels, classLogits: UnsafeMutablePointer<Float>) -> [LabelPass] {
        guard list.count > 0 else { return [] }
        let (r, segments) = list.segments, rows = list.segmentRows
        var focal = [Double](repeating: 0, count: rows), foreground = [Double](repeating: 0, count: rows)
        dino_label_pass(Int64(list.count), Int64(list.batch), Int64(segments), Int64(labels.total), Int64(r), Int64(list.queries),
                        Int64(classes), list.logits, list.logitsStride, labels.start, labels.count, labels.classes, options.focalAlpha,
                        &focal, &foreground, classLogits)
        return Self.passes(list, focal, foreground)
    }

    /// Each head's sums from the per-segment rows (head, image, segment), added in row order.
    private static func passes(_ list: HeadList, _ focal: [Double], _ foreground: [Double]) -> [LabelPass] {
        let segments = list.segments.count, batch = list.batch
        return (0..<list.count).map { h in
            var pass = LabelPass(negatives: 0, foreground: [])
            for b in 0..<batch {
                var count = 0.0
                for s in 0..<segments {
                    let row = (h * batch + b) * segments + s
                    pass.negatives += focal[row]
                    count += foreground[row]
                }
                pass.foreground.append(Int(count))
            }
            return pass
        }
    }

    /// Sums over the matched pairs of a head (the `pair_losses` kernel).
    struct PairSums {
        /// Σ focal(x_l, 1) − focal(x_l, 0): what the positives add to the label loss.
        var positives = 0.0
        /// Pairs whose query's top class is the target's label (the final head's only).
        var correct = 0.0
        /// Σ L1 over all four, the center and the size coordinates; Σ (1 − GIoU).
        var l1 = 0.0, xy = 0.0, hw = 0.0, giou = 0.0
    }

    /// What every head's pairs add to the label loss and their box losses, summed per head in pair order
    /// (one `pair_losses` call), and, for the list's first head (the final one), how many have the right
    /// top class (`class_hits`).
    func pairSums(_ list: HeadList, _ pairs: HeadPairs) -> [PairSums] {
        let count = pairs.count
        // Only the minsum matcher pairs a query twice (the denoising pairs and a one-to-one matching never do).
        var labelsQuery: [UInt8] = []
        if options.matcher == .minsum {
            labelsQuery.reserveCapacity(count)
            for h in 0..<pairs.heads { labelsQuery += pairs.pairs(h).labelsQuery(batch: list.batch, queries: list.heads[h].logits.queries) }
        } else {
            labelsQuery = [UInt8](repeating: 1, count: count)
        }
        var sums = [PairSums](repeating: PairSums(), count: pairs.heads)
        guard count > 0 else { return sums }
        var focal = [Double](repeating: 0, count: count), l1 = focal, xy = focal, hw = focal, giou = focal
        if options.focalGamma == 2 {
            dino_pair_losses(Int64(count), Int64(classes), list.logits, list.logitsStride, list.boxes, list.boxesStride,
                             pairs.head, pairs.image, pairs.query, pairs.target, labelsQuery, targets.labels, targets.boxes, options.focalAlpha,
                             &focal, &l1, &xy, &hw, &giou)
        } else {
            dino_pair_losses_gamma(Int64(count), Int64(classes), list.logits, list.logitsStride, list.boxes, list.boxesStride,
                                   pairs.head, pairs.image, pairs.query, pairs.target, labelsQuery, targets.labels, targets.boxes,
                                   options.focalAlpha, options.focalGamma, &focal, &l1, &xy, &hw, &giou)
        }
        for h in 0..<pairs.heads {
            for k in pairs.range(h) {
                sums[h].positives += focal[k]
                sums[h].l1 += l1[k]
                sums[h].xy += xy[k]
                sums[h].hw += hw[k]
                sums[h].giou += giou[k]
            }
        }
        // the final head's pairs are the first
        let finalCount = pairs.heads > 0 ? pairs.range(0).count : 0
        if finalCount > 0, let final = list.heads.first {
            let l = final.logits
            let labels = (0..<finalCount).map { targets.labels[Int(pairs.target[$0])] }
            dino_class_hits(Int64(finalCount), Int64(classes), l.base, Int64(l.imageStride), Int64(l.rowStride), pairs.image, pairs.query,
                            labels, &sums[0].correct)
        }
        return sums
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
