import DINOKernels

/// Heads as the list kernels take them: one pointer per head to its logits and to its boxes, with
/// each head's image stride. Every head's queries are contiguous (row stride C, and 4 for boxes), as
/// the loader builds them.
struct HeadList {
    /// The heads, in order.
    let heads: [Head]
    /// Each head's logits, (0, 0, 0) element.
    let logits: [UnsafePointer<Float>?]
    /// Floats from one image to the next, per head.
    let logitsStride: [Int64]
    /// Each head's boxes, (0, 0, 0) element.
    let boxes: [UnsafePointer<Float>?]
    /// Floats from one image to the next, per head.
    let boxesStride: [Int64]

    init(_ heads: [Head]) {
        for head in heads {
            precondition(head.logits.rowStride == head.logits.width && head.boxes.rowStride == 4,
                         "the list kernels need contiguous queries")
        }
        self.heads = heads
        logits = heads.map { Optional($0.logits.base) }
        logitsStride = heads.map { Int64($0.logits.imageStride) }
        boxes = heads.map { Optional($0.boxes.base) }
        boxesStride = heads.map { Int64($0.boxes.imageStride) }
    }

    /// H.
    var count: Int { heads.count }
    /// B.
    var batch: Int { heads.first?.logits.batch ?? 0 }
    /// Q, the same for every head of the list.
    var queries: Int { heads.first?.logits.queries ?? 0 }
    /// C.
    var classes: Int { heads.first?.logits.width ?? 0 }

    /// The segments of the label kernels: R = max(1, ⌊segmentLength / C⌋) queries each, S = ⌈Q / R⌉ per image.
    var segments: (queriesPerSegment: Int, count: Int) {
        let r = max(1, DINOKernels.segmentLength / max(classes, 1))
        return (r, (queries + r - 1) / r)
    }

    /// The label kernels' rows: H × B × S.
    var segmentRows: Int { count * batch * segments.count }

    /// The heads in order, in groups of as many as fit `budget` bytes at `bytesPerHead` each (at least one).
    func groups(bytesPerHead: Int, budget: Int) -> [HeadList] {
        let size = max(1, budget / max(1, bytesPerHead))
        if size >= count { return [self] }
        return stride(from: 0, to: count, by: size).map { HeadList(Array(heads[$0..<Swift.min($0 + size, count)])) }
    }

    /// The list followed by `other` (for kernels over every head, whatever its query count).
    func appending(_ other: HeadList) -> HeadList { HeadList(heads + other.heads) }
}

/// The distinct labels of each image, as `label_pass` and `match_bound` index them: image b's are
/// `classes[start[b] ..< start[b] + count[b]]`, and target t's label is entry `targetLabel[t]`.
struct ImageLabels {
    /// Where each image's labels start.
    let start: [Int64]
    /// How many distinct labels each image has.
    let count: [Int64]
    /// The labels, image after image.
    let classes: [Int64]
    /// Each target's entry in `classes`.
    let targetLabel: [Int64]

    init(_ targets: TargetTable) {
        var start: [Int64] = [], count: [Int64] = [], classes: [Int64] = []
        var targetLabel = [Int64](repeating: 0, count: targets.total)
        for b in 0..<targets.counts.count {
            start.append(Int64(classes.count))
            let first = classes.count
            for t in targets.first[b]..<(targets.first[b] + targets.counts[b]) {
                let label = targets.labels[t]
                if let k = classes[first...].firstIndex(of: label) {
                    targetLabel[t] = Int64(k)
                } else {
                    targetLabel[t] = Int64(classes.count)
                    classes.append(label)
                }
            }
            count.append(Int64(classes.count - first))
        }
        self.start = start
        self.count = count
        self.classes = classes
        self.targetLabel = targetLabel
    }

    /// J, over all images.
    var total: Int { classes.count }
}
