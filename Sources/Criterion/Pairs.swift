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
    private(set) var head: [Int64] = []
    /// Image of each pair.
    private(set) var image: [Int64] = []
    /// Query of each pair.
    private(set) var query: [Int64] = []
    /// Target of each pair, as an index into the batch's concatenated targets.
    private(set) var target: [Int64] = []
    /// Where each head's pairs start, and where the last one's end.
    private var starts = [0]

    /// Number of pairs.
    var count: Int { image.count }
    /// Number of heads.
    var heads: Int { starts.count - 1 }
    /// Head h's pairs, as indices into the arrays.
    func range(_ h: Int) -> Range<Int> { starts[h]..<starts[h + 1] }

    /// No pairs, with room for `capacity`.
    init(capacity: Int) {
        head.reserveCapacity(capacity)
        image.reserveCapacity(capacity)
        query.reserveCapacity(capacity)
        target.reserveCapacity(capacity)
    }

    /// A pair of the head being added (the one after the last `endHead()`).
    mutating func append(image b: Int, query q: Int, target t: Int) {
        head.append(Int64(heads))
        image.append(Int64(b))
        query.append(Int64(q))
        target.append(Int64(t))
    }

    /// Ends the head being added.
    mutating func endHead() { starts.append(count) }

    /// A whole head's pairs.
    mutating func appendHead(_ p: Pairs) {
        head.append(contentsOf: repeatElement(Int64(heads), count: p.count))
        image += p.image
        query += p.query
        target += p.target
        endHead()
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
