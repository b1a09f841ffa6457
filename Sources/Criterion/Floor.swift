import DINOKernels
import DINOKernelsC

extension StridedPredictions {
    /// The sizes of the flat view of `label_loss` and `focal_floor`: N = queries · width values per image,
    /// in S segments of `DINOKernels.segmentLength`. A head's queries are contiguous (row stride = width),
    /// as every head the loader builds is.
    var segments: (n: Int64, segments: Int64) {
        precondition(rowStride == width, "the flat view needs contiguous queries")
        let n = queries * width, length = DINOKernels.segmentLength
        return (Int64(n), Int64((n + length - 1) / length))
    }
}

extension CriterionInput {
    /// Every head of the batch: final, auxiliary, interm, enc, then the denoising layers.
    public var allHeads: [Head] {
        [final] + aux + (interm.map { [$0] } ?? []) + enc + (denoising.map { [$0.final] + $0.aux } ?? [])
    }
}

extension Criterion {
    /// The speed floor of the criterion (DESIGN §6): one vectorized pass of the focal term, with no
    /// positives, over every logit of every head — the least any implementation of `loss_ce` must do.
    /// Returns the sum, so that the pass cannot be skipped; `dino-gen bench` times it.
    public func focalFloor(_ input: CriterionInput) -> Double {
        if let n = options.threads { dino_set_threads(Int32(n)) }
        var total = 0.0
        for head in input.allHeads {
            let (n, segments) = head.logits.segments
            var focal = 0.0
            dino_focal_floor(Int64(head.logits.batch), segments, n, head.logits.base, Int64(head.logits.imageStride), options.focalAlpha, &focal)
            total += focal
        }
        return total
    }
}
