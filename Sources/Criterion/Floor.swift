import DINOKernels
import DINOKernelsC

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
        // one call per query count, as the label passes run: the matched heads, then the denoising layers
        for list in [HeadList(input.matchedHeads), HeadList(input.denoisingHeads)] where list.count > 0 {
            let (r, segments) = list.segments
            var focal = 0.0
            dino_focal_floor(Int64(list.count), Int64(list.batch), Int64(segments), Int64(r), Int64(list.queries), Int64(list.classes),
                             list.logits, list.logitsStride, options.focalAlpha, &focal)
            total += focal
        }
        return total
    }
}
