import TensorIO

/// Float32 predictions of one head: element (b, q, k) is at `base[b·imageStride + q·rowStride + k]`.
/// For the stacked layout a head is a strided window into `outputs_class` / `outputs_coord`: no copy.
public struct StridedPredictions: @unchecked Sendable {
    /// Element (0, 0, 0).
    public let base: UnsafePointer<Float>
    /// Elements from one image to the next.
    public let imageStride: Int
    /// Elements from one query to the next.
    public let rowStride: Int
    /// B.
    public let batch: Int
    /// Queries of the head.
    public let queries: Int
    /// Values per query (C for logits, 4 for boxes, h·w for masks).
    public let width: Int

    /// Describes `batch × queries × width` values at `base` with the given strides.
    public init(base: UnsafePointer<Float>, imageStride: Int, rowStride: Int, batch: Int, queries: Int, width: Int) {
        self.base = base
        self.imageStride = imageStride
        self.rowStride = rowStride
        self.batch = batch
        self.queries = queries
        self.width = width
    }

    /// Element (b, q, k).
    public subscript(b: Int, q: Int, k: Int) -> Float { base[b * imageStride + q * rowStride + k] }
}

/// One set of predictions and the suffix of its loss keys.
public struct Head: Sendable {
    /// "" (final), "_0"… (aux), "_interm", "_enc_0"…, "_dn", "_dn_0"….
    public let suffix: String
    /// "final", "aux_0", "interm", "enc_0", "dn", "dn_0".
    public let label: String
    /// B × N × C.
    public let logits: StridedPredictions
    /// B × N × 4, cxcywh.
    public let boxes: StridedPredictions

    /// A head from its key suffix, its label and its predictions.
    public init(suffix: String, label: String, logits: StridedPredictions, boxes: StridedPredictions) {
        self.suffix = suffix
        self.label = label
        self.logits = logits
        self.boxes = boxes
    }
}

/// The targets of a batch.
public struct Targets: Sendable {
    /// Per image, the labels.
    public let labels: [[Int32]]
    /// Per image, T_b × 4 boxes (cxcywh), flat.
    public let boxes: [[Float]]
    /// Σ T_b.
    public var total: Int { labels.reduce(0) { $0 + $1.count } }

    /// Targets from per-image labels and flat T_b × 4 boxes.
    public init(labels: [[Int32]], boxes: [[Float]]) {
        self.labels = labels
        self.boxes = boxes
    }
}

/// Predicted and target masks.
public struct Masks: Sendable {
    /// B × Q × (h·w) mask logits.
    public let predicted: StridedPredictions
    /// h.
    public let height: Int
    /// w.
    public let width: Int
    /// All target masks, image after image and target after target, each H_b × W_b.
    public let targets: [Float]
    /// Where target t (indexed over the batch) starts in `targets`.
    public let targetOffsets: [Int]
    /// H_b per image.
    public let imageHeights: [Int]
    /// W_b per image.
    public let imageWidths: [Int]

    /// Masks from their parts (see the properties).
    public init(predicted: StridedPredictions, height: Int, width: Int, targets: [Float], targetOffsets: [Int],
                imageHeights: [Int], imageWidths: [Int]) {
        self.predicted = predicted
        self.height = height
        self.width = width
        self.targets = targets
        self.targetOffsets = targetOffsets
        self.imageHeights = imageHeights
        self.imageWidths = imageWidths
    }
}

/// The denoising part: its layers and its group structure.
public struct Denoising: Sendable {
    /// pad_size: dn queries per image.
    public let padSize: Int
    /// num_dn_group.
    public let groups: Int
    /// The final layer's dn predictions.
    public let final: Head
    /// The earlier layers' dn predictions.
    public let aux: [Head]

    /// The denoising part from its sizes and heads.
    public init(padSize: Int, groups: Int, final: Head, aux: [Head]) {
        self.padSize = padSize
        self.groups = groups
        self.final = final
        self.aux = aux
    }
}

/// A bad input: the file, the tensor, what is wrong with it and where.
public struct InputError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file (or the example's name).
    public let path: String
    /// The tensor concerned, or nil when the problem is with the file as a whole.
    public let tensor: String?
    /// What is wrong, in words.
    public let reason: String
    /// The first bad element's index in the tensor, when one applies.
    public let index: [Int]?

    /// An error about `tensor` in `path`, optionally at element `index`.
    public init(path: String, tensor: String?, reason: String, index: [Int]? = nil) {
        self.path = path
        self.tensor = tensor
        self.reason = reason
        self.index = index
    }

    /// `PATH: tensor 'NAME': reason (first bad index [b, q, k])`.
    public var description: String {
        var text = path + ": "
        if let tensor { text += "tensor '\(tensor)': " }
        text += reason
        if let index { text += " (first bad index [" + index.map(String.init).joined(separator: ", ") + "])" }
        return text
    }
}

/// A validated batch: everything the criterion needs, checked before any work.
public final class CriterionInput: @unchecked Sendable {
    /// The path, or the built-in example's name.
    public let source: String
    /// B, Q (matching queries) and C.
    public let batch: Int, queries: Int, classes: Int
    /// The last decoder layer.
    public let final: Head
    /// Earlier decoder layers.
    public let aux: [Head]
    /// Two-stage encoder proposals.
    public let interm: Head?
    /// Extra encoder heads.
    public let enc: [Head]
    /// The denoising part, when present.
    public let denoising: Denoising?
    /// Masks, when present.
    public let masks: Masks?
    /// The targets.
    public let targets: Targets
    private let keepAlive: [AnyObject]

    init(source: String, batch: Int, queries: Int, classes: Int, final: Head, aux: [Head], interm: Head?, enc: [Head],
         denoising: Denoising?, masks: Masks?, targets: Targets, keepAlive: [AnyObject]) {
        self.source = source
        self.batch = batch
        self.queries = queries
        self.classes = classes
        self.final = final
        self.aux = aux
        self.interm = interm
        self.enc = enc
        self.denoising = denoising
        self.masks = masks
        self.targets = targets
        self.keepAlive = keepAlive
    }
}
