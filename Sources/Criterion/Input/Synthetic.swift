import Foundation
import TensorIO

extension CriterionInput {
    /// The `source` of the built-in example.
    public static let syntheticName = "synthetic W0 batch"

    /// The built-in deterministic W0-shaped batch (DESIGN §6): Q = 900, C = 91, 6 decoder layers
    /// (5 auxiliary), an interm head, denoising sized as upstream does (G = ⌊200 / (2·max T_b)⌋ groups,
    /// pad_size = 2·max T_b·G, so 174 … 200), T_b drawn from 0 … 29, logits ≈ N(−4, 2), boxes in (0, 1).
    /// The same `batch`, `seed` and `targets` always give the same values. `batch` is at least 1.
    /// `targets` fixes every image's T_b instead of drawing it (e.g. 100 for a crowded batch). Owns its memory.
    public static func synthetic(batch: Int = 2, seed: UInt64 = 0, targets: Int? = nil) -> CriterionInput {
        let data = SyntheticBatch(batch: batch, seed: seed, targets: targets)
        var keepAlive: [AnyObject] = []
        func view(_ values: [Float], queries: Int, width: Int) -> StridedPredictions {
            let buffer = FloatBuffer(copying: values)
            keepAlive.append(buffer)
            return StridedPredictions(base: buffer.pointer, imageStride: queries * width, rowStride: width,
                                      batch: data.batch, queries: queries, width: width)
        }
        func head(_ h: SyntheticBatch.HeadValues, suffix: String, label: String) -> Head {
            Head(suffix: suffix, label: label, logits: view(h.logits, queries: h.queries, width: data.classes),
                 boxes: view(h.boxes, queries: h.queries, width: 4))
        }
        let final = head(data.final, suffix: "", label: "final")
        let aux = data.aux.enumerated().map { head($1, suffix: "_\($0)", label: "aux_\($0)") }
        let interm = head(data.interm, suffix: "_interm", label: "interm")
        let dn = Denoising(padSize: data.padSize, groups: data.groups, final: head(data.dnFinal, suffix: "_dn", label: "dn"),
                           aux: data.dnAux.enumerated().map { head($1, suffix: "_dn_\($0)", label: "dn_\($0)") })
        let targets = Targets(labels: data.labels.map { $0.map { Int32($0) } }, boxes: data.targetBoxes)
        return CriterionInput(source: syntheticName, batch: data.batch, queries: data.queries, classes: data.classes,
                              final: final, aux: aux, interm: interm, enc: [], denoising: dn, masks: nil, targets: targets,
                              keepAlive: keepAlive)
    }

    /// The tensors of `synthetic(batch:seed:targets:)`, named as in the flattened layout (DESIGN §3).
    public static func syntheticTensors(batch: Int = 2, seed: UInt64 = 0, targets: Int? = nil) -> [SafetensorsWriter.Entry] {
        SyntheticBatch(batch: batch, seed: seed, targets: targets).tensors
    }

    /// Writes `synthetic(batch:seed:targets:)` as a `.safetensors` file; loading it gives the same batch.
    public static func writeSynthetic(to path: String, batch: Int = 2, seed: UInt64 = 0, targets: Int? = nil) throws {
        try SafetensorsWriter.write(syntheticTensors(batch: batch, seed: seed, targets: targets), to: path)
    }
}

/// The values of the built-in example, drawn in a fixed order from one generator.
struct SyntheticBatch {
    /// Logits (B × queries × C) and boxes (B × queries × 4) of one head.
    struct HeadValues {
        let queries: Int
        let logits: [Float]
        let boxes: [Float]
    }

    let batch: Int, queries = 900, classes = 91, layers = 6
    let padSize: Int, groups: Int
    var final: HeadValues, aux: [HeadValues], interm: HeadValues, dnFinal: HeadValues, dnAux: [HeadValues]
    var labels: [[Int64]], targetBoxes: [[Float]]

    init(batch requested: Int, seed: UInt64, targets fixed: Int?) {
        batch = max(1, requested)
        var random = SplitMix64(seed: seed)
        let counts = (0..<batch).map { _ in fixed.map { max(0, $0) } ?? random.int(30) }
        let most = counts.max() ?? 0
        groups = most == 0 ? 1 : max(1, 200 / (2 * most))
        padSize = 2 * most * groups
        let (b, c, n, pad, hidden) = (batch, classes, queries, padSize, layers - 1)
        func head(_ n: Int) -> HeadValues {
            let logits = (0..<(b * n * c)).map { _ in Float(-4 + 2 * random.normal()) }
            var boxes: [Float] = []
            boxes.reserveCapacity(b * n * 4)
            for _ in 0..<(b * n) {
                let w = random.uniform(0.01, 0.6), h = random.uniform(0.01, 0.6)
                boxes += [Float(random.uniform(w / 2, 1 - w / 2)), Float(random.uniform(h / 2, 1 - h / 2)), Float(w), Float(h)]
            }
            return HeadValues(queries: n, logits: logits, boxes: boxes)
        }
        final = head(n)
        aux = (0..<hidden).map { _ in head(n) }
        interm = head(n)
        dnFinal = head(pad)
        dnAux = (0..<hidden).map { _ in head(pad) }
        labels = counts.map { t in (0..<t).map { _ in Int64(random.int(c)) } }
        targetBoxes = counts.map { t in
            (0..<t).flatMap { _ -> [Float] in
                let w = random.uniform(0.02, 0.5), h = random.uniform(0.02, 0.5)
                return [Float(random.uniform(w / 2, 1 - w / 2)), Float(random.uniform(h / 2, 1 - h / 2)), Float(w), Float(h)]
            }
        }
    }

    /// The batch as flattened-layout tensors.
    var tensors: [SafetensorsWriter.Entry] {
        var out: [SafetensorsWriter.Entry] = []
        func add(_ prefix: String, _ h: HeadValues) {
            out.append(.float32(prefix + "pred_logits", [batch, h.queries, classes], h.logits))
            out.append(.float32(prefix + "pred_boxes", [batch, h.queries, 4], h.boxes))
        }
        add("", final)
        for (i, h) in aux.enumerated() { add("aux_outputs.\(i).", h) }
        add("interm_outputs.", interm)
        out.append(.int64("dn_meta.pad_size", [], [Int64(padSize)]))
        out.append(.int64("dn_meta.num_dn_group", [], [Int64(groups)]))
        add("dn_meta.output_known_lbs_bboxes.", dnFinal)
        for (i, h) in dnAux.enumerated() { add("dn_meta.output_known_lbs_bboxes.aux_outputs.\(i).", h) }
        for b in 0..<batch {
            out.append(.int64("targets.\(b).labels", [labels[b].count], labels[b]))
            out.append(.float32("targets.\(b).boxes", [labels[b].count, 4], targetBoxes[b]))
        }
        return out
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny generator with a fixed sequence for each seed, for
/// the built-in example and the benchmarks' random matrices.
public struct SplitMix64 {
    private var state: UInt64

    /// The generator whose sequence `seed` fixes.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 53 bits.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform in [lo, hi).
    mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * unit() }

    /// Uniform in 0 ..< n (n > 0; the modulo bias is below 2^-58 for the small n used here).
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    /// A standard normal value (Box–Muller, one of the pair).
    mutating func normal() -> Double {
        let u = 1 - unit(), v = unit()  // u in (0, 1]
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
    }
}
