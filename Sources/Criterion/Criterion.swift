import Assignment
import DINOKernelsC

/// DINO's SetCriterion in training mode (DESIGN §2): matching, then the losses of the denoising,
/// final, auxiliary, two-stage and encoder heads, named and weighted as upstream names and weighs them.
///
/// ```swift
/// let input = try CriterionInput.load(path: "batch.safetensors")
/// let result = try Criterion(options: CriterionOptions()).evaluate(input)
/// print(result.total, result["loss_giou"]!)
/// ```
public struct Criterion: Sendable {
    /// The configuration.
    public var options: CriterionOptions

    /// A criterion with the given options.
    public init(options: CriterionOptions = CriterionOptions()) { self.options = options }

    /// The most bytes of label logits (`label_pass`'s table, which `match_bound` reads back) one group of
    /// matched heads writes, at one thread: half a core's L2 cache, so that the table stays there beside the
    /// query boxes `match_bound` reads with it. At more threads, each thread's part of the table gets its
    /// core's whole L2: there the serial steps each extra group adds cost more than the misses they save.
    /// The results do not depend on it.
    var labelTableBudget = CacheSize.level2 / 2

    /// ``labelTableBudget`` for `threads` threads.
    func labelTableBudget(threads: Int) -> Int {
        if threads <= 1 { return labelTableBudget }
        let budget = labelTableBudget.multipliedReportingOverflow(by: 2 * threads)
        return budget.overflow ? .max : budget.partialValue
    }

    /// The number of threads the kernels and the solver use.
    public var threads: Int { max(1, options.threads ?? Int(dino_max_threads())) }

    /// Computes the loss dict, the weighted total and the matchings of a validated batch.
    public func evaluate(_ input: CriterionInput) throws -> CriterionResult {
        if let n = options.threads { dino_set_threads(Int32(n)) }
        var timer = StageTimer()
        let targets = TargetTable(input.targets)
        let losses = LossFunctions(options: options, targets: targets, classes: input.classes)
        let numBoxes = max(1, options.numBoxes ?? Double(targets.total))
        let matcher = Matcher(options: options, targets: targets)
        let matched = HeadList(input.matchedHeads), denoising = HeadList(input.denoisingHeads)

        // 1. Every head's pass over its logits (it needs no matching): one call for the matched heads,
        //    which also leaves what the bounded matching needs, one for the denoising layers.
        let matchings: [[(queries: [Int], targets: [Int])]]
        var labelPasses: [LossFunctions.LabelPass]
        var wholeMatrices = 0
        if matcher.bounded {
            let labels = ImageLabels(targets)
            let denoisingPasses = losses.labels(denoising)
            timer.lap("label losses")
            // 2. The matching: bounds, candidate lists, whole matrices only where the lists do not settle it.
            //    Heads go in groups whose table of label logits fits in the threads' L2 caches, so that
            //    `match_bound` reads what `label_pass` has just written.
            var found: [[(queries: [Int], targets: [Int])]] = [], passes: [LossFunctions.LabelPass] = []
            for group in matched.groups(bytesPerHead: 4 * labels.total * matched.queries, budget: labelTableBudget(threads: threads)) {
                // every entry is written by the kernel
                let count = group.count * labels.total * group.queries
                let classLogits = [Float](unsafeUninitializedCapacity: count) { logits, initialized in
                    passes += losses.labelPass(group, labels, classLogits: logits.baseAddress!)
                    initialized = count
                }
                timer.lap("label losses")
                found += try matcher.matchBounded(group, labels, classLogits: classLogits, timer: &timer, wholeMatrices: &wholeMatrices)
            }
            matchings = found
            labelPasses = passes + denoisingPasses
        } else {
            labelPasses = losses.labels(matched) + losses.labels(denoising)
            timer.lap("label losses")
            let costs = matched.heads.map { matcher.costs($0) }
            timer.lap("cost matrices")
            matchings = try matcher.solve(costs, heads: matched.heads)
            wholeMatrices = matched.count * matched.batch
            timer.lap("assignment")
        }

        // 3. Every head's pairs: its matching's or, for a denoising layer, the fixed ones (query g·S + t ↔
        //    target t of every group g); then what they add, every head in one call.
        let dn = input.denoising
        var dnPairs = Pairs(capacity: (dn?.groups ?? 0) * targets.total)
        if let dn {
            let single = dn.padSize / dn.groups
            for b in 0..<targets.counts.count {
                for g in 0..<dn.groups { for t in 0..<targets.counts[b] { dnPairs.append(image: b, query: g * single + t, target: targets.first[b] + t) } }
            }
        }
        let headPairs = HeadPairs(matchings: matchings, first: targets.first, repeats: denoising.count, shared: dnPairs)
        let allHeads = matched.appending(denoising)
        let sums = losses.pairSums(allHeads, headPairs)
        timer.lap("pair losses")

        // 4. Each head's losses, in upstream's order. Head k of `allHeads`: the matched heads (final,
        //    auxiliary, interm, encoder), then the denoising layers (final, auxiliary).
        func headLosses(_ k: Int, normalizer m: Double, classError: Bool) -> HeadLosses {
            losses.losses(labels: labelPasses[k], pairs: sums[k], count: headPairs.range(k).count, normalizer: m, classError: classError)
        }

        // The keys in upstream's order, and the weighted total as Σ value·weight over them in that order
        // (keys without a weight add nothing): the weights follow from each head's kind (see `HeadKind`).
        var dict: [(key: String, value: Double)] = []
        dict.reserveCapacity(9 * (allHeads.count + 1))
        var total = 0.0
        let o = options
        func add(_ l: HeadLosses, suffix: String, order: Order, kind: HeadKind = .layer) {
            let (ce, box) = kind == .interm ? (o.intermLossCoef, o.noIntermBoxLoss ? 0 : o.intermLossCoef) : (1, 1)
            let weighted = kind != .enc
            func key(_ name: String, _ value: Double, weight: Double) {
                dict.append((name + suffix, value))
                if weighted { total += value * weight }
            }
            if order == .ceFirst { key("loss_ce", l.ce, weight: o.clsLossCoef * ce) }
            key("loss_bbox", l.bbox, weight: o.bboxLossCoef * box)
            key("loss_giou", l.giou, weight: o.giouLossCoef * box)
            if order == .boxesFirst { key("loss_ce", l.ce, weight: o.clsLossCoef * ce) }
            if let e = l.classError { dict.insert(("class_error", e), at: dict.count - 2) }
            dict.append(("loss_xy" + suffix, l.xy))
            dict.append(("loss_hw" + suffix, l.hw))
            dict.append(("cardinality_error" + suffix, l.cardinality))
            if let mask = l.mask, let dice = l.dice {
                dict += [("loss_mask" + suffix, mask), ("loss_dice" + suffix, dice)]
                total += mask * o.maskLossCoef
                total += dice * o.diceLossCoef
            }
        }

        // denoising layer i: the final one (i = 0), then the auxiliary ones
        func dnLosses(_ i: Int) -> HeadLosses {
            guard let dn else { return .zero }
            return headLosses(matched.count + i, normalizer: numBoxes * Double(dn.groups), classError: false)
        }
        add(dnLosses(0), suffix: "_dn", order: dn == nil ? .boxesFirst : .ceFirst)

        // The final layer, with class_error and the masks.
        var final = headLosses(0, normalizer: numBoxes, classError: true)
        if let masks = input.masks {
            (final.mask, final.dice) = losses.masks(masks, headPairs.pairs(0), normalizer: numBoxes)
            timer.lap("mask losses")
        }
        add(final, suffix: "", order: .ceFirst)

        // Auxiliary layers, each followed by its dn layer.
        for i in input.aux.indices {
            add(headLosses(1 + i, normalizer: numBoxes, classError: false), suffix: "_\(i)", order: .ceFirst)
            add(dnLosses(1 + i), suffix: "_dn_\(i)", order: dn == nil ? .boxesFirst : .ceFirst)
        }
        var next = 1 + input.aux.count
        if input.interm != nil {
            add(headLosses(next, normalizer: numBoxes, classError: false), suffix: "_interm", order: .ceFirst, kind: .interm)
            next += 1
        }
        for j in input.enc.indices {
            add(headLosses(next + j, normalizer: numBoxes, classError: false), suffix: "_enc_\(j)", order: .ceFirst, kind: .enc)
        }

        // finite, validated inputs can still overflow float32 arithmetic when their values are huge
        if let bad = dict.first(where: { !$0.value.isFinite }) {
            throw CriterionError("\(bad.key) is not finite (\(bad.value)): the predictions' values are too large for float32 arithmetic")
        }
        guard total.isFinite else {
            throw CriterionError("the weighted total is not finite (\(total)): the losses times their weights overflow")
        }
        let headMatchings = zip(matched.heads, matchings).map { HeadMatching(head: $0.label, images: $1) }
        return CriterionResult(losses: dict, total: total, matchings: headMatchings, stageSeconds: timer.stages,
                               problems: matched.count * matched.batch, wholeMatrices: wholeMatrices)
    }

    private enum Order { case ceFirst, boxesFirst }

    /// How a head's keys are weighted: decoder and denoising layers as the final one, the two-stage head
    /// by `--interm-loss-coef` (its box terms 0 with `--no-interm-box-loss`), encoder heads not at all.
    private enum HeadKind { case layer, interm, enc }

    /// The matching cost matrices of every matched head (final, aux…, interm, enc…) and image, in that
    /// order: the assignment problems `evaluate` solves, computed by the generated `match_cost` kernel.
    /// Each is T_b × Q (targets × queries).
    public func costMatrices(_ input: CriterionInput) -> [CostMatrix] {
        if let n = options.threads { dino_set_threads(Int32(n)) }
        let matcher = Matcher(options: options, targets: TargetTable(input.targets))
        return input.matchedHeads.flatMap { head in
            let costs = matcher.costs(head)
            return (0..<input.batch).map { costs.matrix($0, matcher.targets) }
        }
    }
}
