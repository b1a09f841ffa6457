/// A small valid training step in the flattened layout (DESIGN §3), the base the bad inputs are
/// made from: B = 2 images, Q = 6 queries, C = 5 classes, 3 decoder layers (2 auxiliary), an
/// interm head, denoising with 2 groups and pad_size 4, T = [2, 1] targets, and masks.
struct SmallBatch {
    static let batch = 2, queries = 6, classes = 5, padSize = 4, groups = 2

    /// The tensors, in this order in the file.
    var tensors: [RawTensor]

    init(masks: Bool = true) {
        var random = LCG(seed: 12345)
        let (b, q, c, pad) = (Self.batch, Self.queries, Self.classes, Self.padSize)
        func logits(_ n: Int) -> [Float] { (0..<(b * n * c)).map { _ in Float(-3 + 4 * random.unit()) } }
        func boxes(_ n: Int) -> [Float] {
            (0..<(b * n)).flatMap { _ -> [Float] in
                let w = 0.05 + 0.4 * random.unit(), h = 0.05 + 0.4 * random.unit()
                return [0.5 * w + (1 - w) * random.unit(), 0.5 * h + (1 - h) * random.unit(), w, h].map { Float($0) }
            }
        }
        var t: [RawTensor] = []
        func head(_ prefix: String, _ n: Int) {
            t.append(.f32(prefix + "pred_logits", [b, n, c], logits(n)))
            t.append(.f32(prefix + "pred_boxes", [b, n, 4], boxes(n)))
        }
        head("", q)
        head("aux_outputs.0.", q)
        head("aux_outputs.1.", q)
        head("interm_outputs.", q)
        t.append(.i64("dn_meta.pad_size", [], [Int64(pad)]))
        t.append(.i64("dn_meta.num_dn_group", [], [Int64(Self.groups)]))
        let dn = "dn_meta.output_known_lbs_bboxes."
        head(dn, pad)
        head(dn + "aux_outputs.0.", pad)
        head(dn + "aux_outputs.1.", pad)
        if masks {
            t.append(.f32("pred_masks", [b, q, 4, 4], (0..<(b * q * 16)).map { _ in Float(-2 + 4 * random.unit()) }))
        }
        let labels: [[Int64]] = [[1, 4], [0]]
        let targetBoxes: [[Float]] = [[0.3, 0.4, 0.2, 0.3, 0.7, 0.6, 0.25, 0.1], [0.5, 0.5, 0.4, 0.6]]
        for image in 0..<b {
            let n = labels[image].count
            t.append(.i64("targets.\(image).labels", [n], labels[image]))
            t.append(.f32("targets.\(image).boxes", [n, 4], targetBoxes[image]))
            if masks {
                let (height, width) = image == 0 ? (8, 8) : (6, 6)
                t.append(.u8("targets.\(image).masks", [n, height, width], (0..<(n * height * width)).map { _ in random.unit() < 0.4 ? 1 : 0 }))
            }
        }
        tensors = t
    }

    /// The tensor called `name` (which must exist).
    subscript(name: String) -> RawTensor {
        get { tensors[index(name)] }
        set { tensors[index(name)] = newValue }
    }

    private func index(_ name: String) -> Int {
        guard let k = tensors.firstIndex(where: { $0.name == name }) else { preconditionFailure("no tensor \(name) in the small batch") }
        return k
    }

    /// Without the tensor `name`.
    func removing(_ names: String...) -> SmallBatch {
        var copy = self
        copy.tensors.removeAll { names.contains($0.name) }
        return copy
    }

    /// With `body` applied to the tensor `name`.
    func changing(_ name: String, _ body: (inout RawTensor) -> Void) -> SmallBatch {
        var copy = self
        body(&copy[name])
        return copy
    }

    /// With F32 element `flat` of `name` set to `value`.
    func settingFloat(_ name: String, at flat: Int, to value: Float) -> SmallBatch {
        changing(name) { t in
            precondition(t.dtype == "F32")
            t.bytes.replaceSubrange((4 * flat)..<(4 * flat + 4), with: float32Bytes([value]))
        }
    }

    /// With I64 element `flat` of `name` set to `value`.
    func settingInteger(_ name: String, at flat: Int = 0, to value: Int64) -> SmallBatch {
        changing(name) { t in
            precondition(t.dtype == "I64")
            t.bytes.replaceSubrange((8 * flat)..<(8 * flat + 8), with: littleEndian([value]))
        }
    }

    /// With the F32 tensor `name` replaced by one of `shape`, filled with values of the base's range.
    func reshaping(_ name: String, to shape: [Int]) -> SmallBatch {
        changing(name) { t in
            let count = shape.reduce(1, *)
            t.shape = shape
            t.bytes = float32Bytes((0..<count).map { Float(($0 % 7) + 1) * 0.1 })
        }
    }

    /// With every tensor whose name starts with `from` renamed to start with `to`.
    func renaming(prefix from: String, to: String) -> SmallBatch {
        var copy = self
        for k in copy.tensors.indices where copy.tensors[k].name.hasPrefix(from) {
            copy.tensors[k].name = to + copy.tensors[k].name.dropFirst(from.count)
        }
        return copy
    }

    var safetensors: [UInt8] { safetensorsBytes(tensors) }
    var npz: [UInt8] { npzBytes(tensors) }
}

/// A linear congruential generator (Knuth's MMIX constants): a fixed sequence per seed.
struct LCG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    /// Uniform in [0, 1), 53 bits.
    mutating func unit() -> Double {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Double(state >> 11) * 0x1p-53
    }
}
