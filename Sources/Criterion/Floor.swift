import DINOKernels
import DINOKernelsC

extension StridedPredictions {
    /// The segments of `label_loss` and `focal_floor`: R = max(1, ⌊segmentLength / width⌋) queries each,
    /// S = ⌈queries / R⌉ per image. A head's queries are contiguous (row stride = width), as every head the
    /// loader builds is.
    var segments: (queriesPerSegment: Int, count: Int) {
        precondition(rowStride == width, "the segmented view needs contiguous queries")
        let r = max(1, DINOKernels.segmentLength / max(width, 1))
        return (r, (queries + r - 1) / r)
    }
}

extension CriterionInput {
    /// The heads the matcher pairs with the targets: final, auxiliary, interm, enc.
    public var matchedHeads: [Head] { [final] + aux + (interm.map { [$0] } ?? []) + enc }

    /// The denoising layers (final, then auxiliary), whose pairs are fixed; none without denoising.
    public var denoisingHeads: [Head] { denoising.map { [$0.final] + $0.aux } ?? [] }

    /// Every head of the batch: the matched ones, then the denoising layers.
    public var allHeads: [Head] { matchedHeads + denoisingHeads }
}

extension Criterion {
    /// The speed floor of the criterion (DESIGN §6): one vectorized pass of the focal term, with no
    /// positives, over every logit of every head — the least any implementation of `loss_ce` must do.
    /// Returns the sum, so that the pass cannot be skipped; `dino-gen bench` times it.
    public func focalFloor(_ input: CriterionInput) -> Double {
        if let n = options.threads { dino_set_threads(Int32(n)) }
        var total = 0.0
        for head in input.allHeads {
            let l = head.logits, (r, segments) = l.segments
            var focal = 0.0
            dino_focal_floor(Int64(l.batch), Int64(segments), Int64(l.queries), Int64(l.width), Int64(r), l.base, Int64(l.imageStride),
                             options.focalAlpha, &focal)
            total += focal
        }
        return total
    }
}
