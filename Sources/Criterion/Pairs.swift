/// Matched (image, query, target) triples of one head, as the kernels take them.
struct Pairs {
    /// Image of each pair.
    var image: [Int64] = []
    /// Query of each pair.
    var query: [Int64] = []
    /// Target of each pair, as an index into the batch's concatenated targets.
    var target: [Int64] = []
    /// Number of pairs.
    var count: Int { image.count }

    /// 1 where the pair gives its query's label for the label loss: the last pair of its (image, query).
    /// Only the minsum matcher pairs a query twice; upstream's `target_classes[idx] = labels` keeps the last.
    func labelsQuery(batch: Int, queries: Int) -> [UInt8] {
        var last = [Int32](repeating: -1, count: batch * queries)
        for k in 0..<count { last[Int(image[k]) * queries + Int(query[k])] = Int32(k) }
        return (0..<count).map { k in last[Int(image[k]) * queries + Int(query[k])] == Int32(k) ? 1 : 0 }
    }

    /// No pairs, with room for `capacity`.
    init(capacity: Int = 0) {
        image.reserveCapacity(capacity)
        query.reserveCapacity(capacity)
        target.reserveCapacity(capacity)
    }

    mutating func append(image b: Int, query q: Int, target t: Int) {
        image.append(Int64(b))
        query.append(Int64(q))
        target.append(Int64(t))
    }
}

/// The pairs of every head, head after head, as `pair_losses` takes them: head h's are `range(h)` of the
/// arrays.
struct HeadPairs {
    /// Head of each pair.
    let head: [Int64]
    /// Image of each pair.
    let image: [Int64]
    /// Query of each pair.
    let query: [Int64]
    /// Target of each pair, as an index into the batch's concatenated targets.
    let target: [Int64]
    /// Where each head's pairs start, and where the last one's end.
    private let starts: [Int]

    /// Number of pairs.
    var count: Int { image.count }
    /// Number of heads.
    var heads: Int { starts.count - 1 }
    /// Head h's pairs, as indices into the arrays.
    func range(_ h: Int) -> Range<Int> { starts[h]..<starts[h + 1] }

    /// The pairs of matched heads, one matching each (per image: (queries, targets), targets numbered
    /// within the image, `first[b]` the batch index of image b's first target), then `repeats` heads that
    /// all have the pairs `shared` (the denoising layers): each array filled in place, its length known first.
    init(matchings: [[(queries: [Int], targets: [Int])]], first: [Int], repeats: Int, shared: Pairs) {
        let counts = matchings.map { $0.reduce(0) { $0 + $1.queries.count } } + Array(repeating: shared.count, count: repeats)
        var starts = [0]
        for c in counts { starts.append(starts[starts.count - 1] + c) }
        self.starts = starts
        let total = starts[starts.count - 1], matched = matchings.count
        // one array: `pair(h, b, q, t)` for each matched pair, `repeated(r, k)` for pair k of shared head r
        func column(_ pair: (_ h: Int, _ b: Int, _ q: Int, _ t: Int) -> Int64, _ repeated: (_ r: Int, _ k: Int) -> Int64) -> [Int64] {
            [Int64](unsafeUninitializedCapacity: total) { out, initialized in
                var e = 0
                for (h, m) in matchings.enumerated() {
                    for (b, image) in m.enumerated() {
                        for (q, t) in zip(image.queries, image.targets) { out[e] = pair(h, b, q, t); e += 1 }
                    }
                }
                for r in 0..<repeats {
                    for k in 0..<shared.count { out[e] = repeated(r, k); e += 1 }
                }
                initialized = total
            }
        }
        head = column({ h, _, _, _ in Int64(h) }, { r, _ in Int64(matched + r) })
        image = column({ _, b, _, _ in Int64(b) }, { _, k in shared.image[k] })
        query = column({ _, _, q, _ in Int64(q) }, { _, k in shared.query[k] })
        target = column({ _, b, _, t in Int64(first[b] + t) }, { _, k in shared.target[k] })
    }

    /// Head h's pairs on their own.
    func pairs(_ h: Int) -> Pairs {
        var p = Pairs(capacity: range(h).count)
        for k in range(h) { p.append(image: Int(image[k]), query: Int(query[k]), target: Int(target[k])) }
        return p
    }
}

/// The batch's targets, concatenated for the kernels.
struct TargetTable {
    /// All labels, image after image.
    let labels: [Int64]
    /// All boxes (cxcywh), image after image.
    let boxes: [Float]
    /// Index of image b's first target.
    let first: [Int]
    /// The image of each target.
    let image: [Int64]
    /// T_b.
    let counts: [Int]
    /// Σ T_b.
    var total: Int { labels.count }

    init(_ targets: Targets) {
        var labels: [Int64] = [], boxes: [Float] = [], first: [Int] = [], counts: [Int] = []
        for (imageLabels, imageBoxes) in zip(targets.labels, targets.boxes) {
            first.append(labels.count)
            counts.append(imageLabels.count)
            labels += imageLabels.map(Int64.init)
            boxes += imageBoxes
        }
        self.labels = labels
        self.boxes = boxes
        self.first = first
        self.counts = counts
        image = counts.enumerated().flatMap { b, n in Array(repeating: Int64(b), count: n) }
    }
}
