import TensorIO

extension CriterionInput {
    /// Opens a `.safetensors` or `.npz` file and validates it (DESIGN §3).
    public static func load(path: String) throws -> CriterionInput {
        let file: TensorFile
        do { file = try TensorFile.open(path: path) } catch let e as TensorFileError {
            throw InputError(path: e.path, tensor: e.tensor, reason: e.reason)
        }
        return try make(from: file)
    }

    /// Validates the tensors of an opened file (either layout of DESIGN §3) and builds the batch.
    /// F32 tensors are used in place; F16, BF16 and F64 are converted to float32 once.
    public static func make(from file: TensorFile) throws -> CriterionInput {
        if file.format == .npy {
            throw InputError(path: file.path, tensor: nil,
                             reason: "is a single .npy array; the criterion needs a .safetensors or .npz file holding the named tensors (pred_logits, pred_boxes, targets.0.labels, …)")
        }
        var loader = InputLoader(file: file)
        do { return try loader.load() } catch let e as TensorFileError {
            throw InputError(path: e.path, tensor: e.tensor, reason: e.reason)
        }
    }
}

/// The index of the first NaN or infinity in `values`, or nil. The common case (all finite) is one
/// branch-free pass over the bits; the index is searched for only when something is wrong.
private func firstNonFinite(_ values: UnsafeBufferPointer<Float>) -> Int? {
    guard let start = values.baseAddress, !values.isEmpty else { return nil }
    let bad: UInt32 = start.withMemoryRebound(to: UInt32.self, capacity: values.count) { bits in
        let words = UnsafeBufferPointer(start: bits, count: values.count)
        var any: UInt32 = 0
        // The exponent is all ones (NaN, ±Inf) iff adding one to it carries into the sign bit.
        for w in words { any |= ((w & 0x7F80_0000) &+ 0x0080_0000) & 0x8000_0000 }
        return any
    }
    guard bad != 0 else { return nil }
    return values.firstIndex { !$0.isFinite }
}

/// The multi-index of flat element `flat` in a row-major tensor of `shape`.
private func unravel(_ flat: Int, _ shape: [Int]) -> [Int] {
    var index: [Int] = [], rest = flat
    for d in shape.reversed() {
        index.append(d == 0 ? 0 : rest % d)
        rest = d == 0 ? 0 : rest / d
    }
    return index.reversed()
}

/// `[2, 3]`.
private func shapeText(_ s: [Int]) -> String { "[" + s.map(String.init).joined(separator: ", ") + "]" }

/// Reads the tensors by name, checks every rule of DESIGN §3 and builds the heads.
struct InputLoader {
    let file: TensorFile
    /// Everything the heads' pointers point into.
    var keepAlive: [AnyObject] = []

    static let dnPrefix = "dn_meta.output_known_lbs_bboxes."
    /// The most cost-matrix entries (Σ over matched heads and images of queries × T_b) a batch may
    /// need: 2^28, 2 GiB of doubles, beyond any real training step (W0 needs 0.4 M, a crowded
    /// LVIS-like batch of 16 images × 300 targets × 900 queries × 7 heads 30 M). A larger count
    /// comes from a hostile or corrupt file and would exhaust memory.
    static let maxCostEntries = 1 << 28
    /// The most mask pixels (targets × the batch's largest H × largest W) the mask losses may visit:
    /// 2^31 (upstream would hold them as a float tensor of 8 GiB). A file can declare a huge H × W
    /// for an image without targets at no cost in bytes, so this bounds the work.
    static let maxMaskPixels = 1 << 31

    init(file: TensorFile) {
        self.file = file
        keepAlive.append(file)
    }

    func fail(_ tensor: String?, _ reason: String, at index: [Int]? = nil) -> InputError {
        InputError(path: file.path, tensor: tensor, reason: reason, index: index)
    }

    func tensor(_ name: String) throws -> TensorView {
        guard let t = file[name] else { throw fail(name, "is missing") }
        return t
    }

    /// A float tensor of the given rank as float32 (no copy for aligned F32), checked finite.
    mutating func floats(_ name: String, rank: Int) throws -> (TensorView, FloatBuffer) {
        let t = try tensor(name)
        guard t.dtype.isFloat else { throw fail(name, "must be a float tensor (F32, F16, BF16 or F64), found \(t.dtype.rawValue)") }
        guard t.shape.count == rank else { throw fail(name, "must have \(rank) dimensions, found shape \(shapeText(t.shape))") }
        let buffer = try t.float32()
        keepAlive.append(buffer)
        try checkFinite(buffer, name: name, shape: t.shape)
        return (t, buffer)
    }

    func checkFinite(_ buffer: FloatBuffer, name: String, shape: [Int]) throws {
        if let i = firstNonFinite(buffer.buffer) {
            throw fail(name, "holds a non-finite value (\(buffer.pointer[i]))", at: unravel(i, shape))
        }
    }

    /// An integer scalar: 0-d, or shape [1].
    func integerScalar(_ name: String) throws -> Int {
        let t = try tensor(name)
        guard !t.dtype.isFloat, t.dtype != .bool else { throw fail(name, "must be an integer (I64 or I32), found \(t.dtype.rawValue)") }
        guard t.shape.isEmpty || t.shape == [1] else { throw fail(name, "must be a scalar, found shape \(shapeText(t.shape))") }
        return Int(try t.int64Array()[0])
    }

    /// How many numbered children `prefix{i}.…` there are; they must run 0, 1, … without a gap.
    func numbered(_ prefix: String) throws -> Int {
        var indices: Set<Int> = []
        for name in file.names where name.hasPrefix(prefix) {
            let rest = name.dropFirst(prefix.count)
            guard let dot = rest.firstIndex(of: "."), let i = Int(rest[..<dot]), i >= 0 else {
                throw fail(name, "is not named \(prefix)N.pred_logits or \(prefix)N.pred_boxes with a layer number N")
            }
            indices.insert(i)
        }
        for i in 0..<indices.count where !indices.contains(i) {
            let present = indices.sorted().map(String.init).joined(separator: ", ")
            throw fail("\(prefix)\(i).pred_logits", "is missing: the layers \(prefix)N must be numbered 0, 1, … without a gap, found \(present)")
        }
        return indices.count
    }

    /// What a head must agree with: B, C, and its query count with where that count comes from.
    struct Expected {
        var batch: Int
        var queries: Int
        /// Says where `queries` comes from: "pred_logits has 900".
        var queriesText: String
        var classes: Int
    }

    /// A head from `prefix` + pred_logits / pred_boxes, shapes checked against `expected` (nil: the first head).
    mutating func head(_ prefix: String, suffix: String, label: String, expected: Expected?) throws -> Head {
        let (lt, logits) = try floats(prefix + "pred_logits", rank: 3)
        let (b, n, c) = (lt.shape[0], lt.shape[1], lt.shape[2])
        if let e = expected {
            guard b == e.batch else { throw fail(lt.name, "has batch size \(b), but pred_logits has \(e.batch)") }
            guard n == e.queries else { throw fail(lt.name, "has \(n) queries, but \(e.queriesText)") }
            guard c == e.classes else { throw fail(lt.name, "has \(c) classes, but pred_logits has \(e.classes)") }
        }
        let (bt, boxes) = try floats(prefix + "pred_boxes", rank: 3)
        guard bt.shape == [b, n, 4] else {
            throw fail(bt.name, "must have shape \(shapeText([b, n, 4])) (B × queries × 4, like \(lt.name)), found \(shapeText(bt.shape))")
        }
        let l = StridedPredictions(base: logits.pointer, imageStride: n * c, rowStride: c, batch: b, queries: n, width: c)
        let x = StridedPredictions(base: boxes.pointer, imageStride: n * 4, rowStride: 4, batch: b, queries: n, width: 4)
        try checkSizes(boxes, name: bt.name, shape: bt.shape)
        return Head(suffix: suffix, label: label, logits: l, boxes: x)
    }

    /// Boxes (last dimension 4, cxcywh) need w ≥ 0 and h ≥ 0.
    func checkSizes(_ boxes: FloatBuffer, name: String, shape: [Int]) throws {
        let p = boxes.pointer
        for r in 0..<(boxes.count / 4) where p[4 * r + 2] < 0 || p[4 * r + 3] < 0 {
            let k = p[4 * r + 2] < 0 ? 2 : 3
            throw fail(name, "has a box with negative \(k == 2 ? "width" : "height") \(p[4 * r + k])", at: unravel(4 * r + k, shape))
        }
    }

    mutating func load() throws -> CriterionInput {
        let stacked = file["outputs_class"] != nil || file["outputs_coord"] != nil
        let hasDN = file["dn_meta.pad_size"] != nil || file["dn_meta.num_dn_group"] != nil
        var padSize = 0, groups = 1
        if hasDN {
            padSize = try integerScalar("dn_meta.pad_size")
            groups = try integerScalar("dn_meta.num_dn_group")
            guard groups > 0 else { throw fail("dn_meta.num_dn_group", "must be positive, found \(groups)") }
            guard padSize >= 0 else { throw fail("dn_meta.pad_size", "must not be negative, found \(padSize)") }
            guard padSize % groups == 0 else {
                throw fail("dn_meta.pad_size", "\(padSize) is not divisible by dn_meta.num_dn_group (\(groups))")
            }
        }
        let final: Head, aux: [Head], dn: Denoising?
        if stacked {
            (final, aux, dn) = try loadStacked(hasDN: hasDN, padSize: padSize, groups: groups)
        } else {
            (final, aux, dn) = try loadFlattened(hasDN: hasDN, padSize: padSize, groups: groups)
        }
        let batch = final.logits.batch, queries = final.logits.queries, classes = final.logits.width
        let matching = Expected(batch: batch, queries: queries,
                                queriesText: stacked ? "outputs_class has \(queries) matching queries (after dn_meta.pad_size)" : "pred_logits has \(queries)",
                                classes: classes)
        var interm: Head? = nil
        if file["interm_outputs.pred_logits"] != nil || file["interm_outputs.pred_boxes"] != nil {
            interm = try head("interm_outputs.", suffix: "_interm", label: "interm", expected: matching)
        }
        var enc: [Head] = []
        for j in 0..<(try numbered("enc_outputs.")) {
            enc.append(try head("enc_outputs.\(j).", suffix: "_enc_\(j)", label: "enc_\(j)", expected: matching))
        }
        let targets = try loadTargets(batch: batch, classes: classes)
        let matchedHeads = 1 + aux.count + (interm == nil ? 0 : 1) + enc.count
        let (perHead, o1) = queries.multipliedReportingOverflow(by: targets.total)
        let (entries, o2) = perHead.multipliedReportingOverflow(by: matchedHeads)
        if o1 || o2 || entries > Self.maxCostEntries {
            throw fail(stacked ? "outputs_class" : "pred_logits", "\(queries) queries × \(targets.total) targets × \(matchedHeads) matched heads need "
                       + "\(o1 || o2 ? "more than 2^63" : String(entries)) cost-matrix entries, more than the limit of \(Self.maxCostEntries) (2^28)")
        }
        if let dn {
            let single = dn.padSize / dn.groups
            if let (b, most) = targets.labels.map(\.count).enumerated().max(by: { $0.element < $1.element }), most > single {
                throw fail("dn_meta.pad_size", "\(dn.padSize) over \(dn.groups) groups leaves \(single) dn queries per group, "
                           + "fewer than the \(most) targets of image \(b)")
            }
        }
        let masks = try loadMasks(batch: batch, queries: queries, targets: targets)
        return CriterionInput(source: file.path, batch: batch, queries: queries, classes: classes, final: final, aux: aux,
                              interm: interm, enc: enc, denoising: dn, masks: masks, targets: targets, keepAlive: keepAlive)
    }

    /// `pred_*`, `aux_outputs.{i}.pred_*` and the `dn_meta.output_known_lbs_bboxes.*` heads.
    mutating func loadFlattened(hasDN: Bool, padSize: Int, groups: Int) throws -> (Head, [Head], Denoising?) {
        let final = try head("", suffix: "", label: "final", expected: nil)
        let (batch, queries, classes) = (final.logits.batch, final.logits.queries, final.logits.width)
        try checkShape(batch: batch, classes: classes, source: "pred_logits")
        let matching = Expected(batch: batch, queries: queries, queriesText: "pred_logits has \(queries)", classes: classes)
        var aux: [Head] = []
        let layers = try numbered("aux_outputs.")
        for i in 0..<layers {
            aux.append(try head("aux_outputs.\(i).", suffix: "_\(i)", label: "aux_\(i)", expected: matching))
        }
        let p = Self.dnPrefix
        guard hasDN else {
            if let first = file.names.first(where: { $0.hasPrefix(p) }) {
                throw fail("dn_meta.pad_size", "is missing, though \(first) is present (denoising needs dn_meta.pad_size and dn_meta.num_dn_group)")
            }
            return (final, aux, nil)
        }
        let dnShape = Expected(batch: batch, queries: padSize, queriesText: "dn_meta.pad_size is \(padSize)", classes: classes)
        let dnFinal = try head(p, suffix: "_dn", label: "dn", expected: dnShape)
        let dnLayers = try numbered(p + "aux_outputs.")
        guard dnLayers == layers else {
            let name = p + "aux_outputs.\(min(dnLayers, layers)).pred_logits"
            throw fail(name, dnLayers < layers ? "is missing: there are \(layers) auxiliary layers but only \(dnLayers) dn auxiliary layers"
                                               : "is one dn auxiliary layer too many: there are \(layers) auxiliary layers but \(dnLayers) dn auxiliary layers")
        }
        var dnAux: [Head] = []
        for i in 0..<dnLayers {
            dnAux.append(try head(p + "aux_outputs.\(i).", suffix: "_dn_\(i)", label: "dn_\(i)", expected: dnShape))
        }
        return (final, aux, Denoising(padSize: padSize, groups: groups, final: dnFinal, aux: dnAux))
    }

    func checkShape(batch: Int, classes: Int, source: String) throws {
        guard batch > 0 else { throw fail(source, "has a batch of 0 images") }
        guard classes > 0 else { throw fail(source, "has 0 classes") }
        // Labels are held as Int32; a zero query count lets a file declare any class count for free.
        guard classes <= Int(Int32.max) else { throw fail(source, "has \(classes) classes, more than 2^31 − 1") }
    }

    /// `outputs_class` / `outputs_coord` (L × B × (pad_size + Q) × C / 4): every head is a window into them.
    mutating func loadStacked(hasDN: Bool, padSize: Int, groups: Int) throws -> (Head, [Head], Denoising?) {
        if let mixed = file.names.first(where: { $0 == "pred_logits" || $0 == "pred_boxes" || $0.hasPrefix("aux_outputs.") || $0.hasPrefix(Self.dnPrefix) }) {
            throw fail(mixed, "belongs to the flattened layout, but the file also has the stacked outputs_class / outputs_coord; use one layout")
        }
        let (ct, classBuffer) = try floats("outputs_class", rank: 4)
        let (layers, batch, total, classes) = (ct.shape[0], ct.shape[1], ct.shape[2], ct.shape[3])
        guard layers > 0 else { throw fail("outputs_class", "has 0 decoder layers") }
        try checkShape(batch: batch, classes: classes, source: "outputs_class")
        guard padSize <= total else {
            throw fail("outputs_class", "has \(total) queries per image, fewer than dn_meta.pad_size (\(padSize))")
        }
        let (xt, coordBuffer) = try floats("outputs_coord", rank: 4)
        guard xt.shape == [layers, batch, total, 4] else {
            throw fail("outputs_coord", "must have shape \(shapeText([layers, batch, total, 4])) (like outputs_class, with 4 box values), found \(shapeText(xt.shape))")
        }
        try checkSizes(coordBuffer, name: "outputs_coord", shape: xt.shape)
        let queries = total - padSize
        func window(_ buffer: FloatBuffer, layer: Int, offset: Int, count: Int, width: Int) -> StridedPredictions {
            StridedPredictions(base: buffer.pointer + (layer * batch * total + offset) * width, imageStride: total * width,
                               rowStride: width, batch: batch, queries: count, width: width)
        }
        func layerHead(_ l: Int, dn: Bool) -> Head {
            let isFinal = l == layers - 1
            let suffix = (dn ? "_dn" : "") + (isFinal ? "" : "_\(l)")
            let label = isFinal ? (dn ? "dn" : "final") : (dn ? "dn_\(l)" : "aux_\(l)")
            let (offset, count) = dn ? (0, padSize) : (padSize, queries)
            return Head(suffix: suffix, label: label, logits: window(classBuffer, layer: l, offset: offset, count: count, width: classes),
                        boxes: window(coordBuffer, layer: l, offset: offset, count: count, width: 4))
        }
        let final = layerHead(layers - 1, dn: false)
        let aux = (0..<(layers - 1)).map { layerHead($0, dn: false) }
        let dn = hasDN ? Denoising(padSize: padSize, groups: groups, final: layerHead(layers - 1, dn: true),
                                   aux: (0..<(layers - 1)).map { layerHead($0, dn: true) }) : nil
        return (final, aux, dn)
    }

    func loadTargets(batch: Int, classes: Int) throws -> Targets {
        for name in file.names where name.hasPrefix("targets.") {
            let rest = name.dropFirst("targets.".count)
            guard let dot = rest.firstIndex(of: "."), let b = Int(rest[..<dot]), b >= 0 else {
                throw fail(name, "is not named targets.N.labels, targets.N.boxes or targets.N.masks with an image number N")
            }
            guard b < batch else { throw fail(name, "belongs to image \(b), but the predictions have a batch of \(batch) images") }
        }
        var labels: [[Int32]] = [], boxes: [[Float]] = []
        for b in 0..<batch {
            let lt = try tensor("targets.\(b).labels")
            guard !lt.dtype.isFloat, lt.dtype != .bool else { throw fail(lt.name, "must hold integer labels (I64 or I32), found \(lt.dtype.rawValue)") }
            guard lt.shape.count == 1 else { throw fail(lt.name, "must have 1 dimension (T), found shape \(shapeText(lt.shape))") }
            let values = try lt.int64Array()
            if let i = values.firstIndex(where: { $0 < 0 || $0 >= Int64(classes) }) {
                throw fail(lt.name, "holds label \(values[i]), outside [0, \(classes)) for \(classes) classes", at: [i])
            }
            let bt = try tensor("targets.\(b).boxes")
            guard bt.dtype.isFloat else { throw fail(bt.name, "must be a float tensor (F32, F16, BF16 or F64), found \(bt.dtype.rawValue)") }
            guard bt.shape == [values.count, 4] else {
                throw fail(bt.name, "must have shape \(shapeText([values.count, 4])) (one cxcywh box per label), found \(shapeText(bt.shape))")
            }
            let buffer = try bt.float32()
            try checkFinite(buffer, name: bt.name, shape: bt.shape)
            try checkSizes(buffer, name: bt.name, shape: bt.shape)
            labels.append(values.map { Int32($0) })
            boxes.append(Array(buffer.buffer))
        }
        return Targets(labels: labels, boxes: boxes)
    }

    mutating func loadMasks(batch: Int, queries: Int, targets: Targets) throws -> Masks? {
        let withMasks = (0..<batch).map { "targets.\($0).masks" }.filter { file[$0] != nil }
        guard file["pred_masks"] != nil || !withMasks.isEmpty else { return nil }
        guard file["pred_masks"] != nil else {
            throw fail("pred_masks", "is missing, though \(withMasks[0]) is present (the mask losses need both)")
        }
        let (pt, predicted) = try floats("pred_masks", rank: 4)
        guard pt.shape[0] == batch, pt.shape[1] == queries else {
            throw fail("pred_masks", "must have shape [\(batch), \(queries), h, w] (B × Q × h × w), found \(shapeText(pt.shape))")
        }
        let (h, w) = (pt.shape[2], pt.shape[3])
        guard h > 0, w > 0 else { throw fail("pred_masks", "has empty masks (shape \(shapeText(pt.shape)))") }
        var all: [Float] = [], offsets: [Int] = [], heights: [Int] = [], widths: [Int] = []
        for b in 0..<batch {
            let name = "targets.\(b).masks"
            guard let mt = file[name] else { throw fail(name, "is missing, though pred_masks is present (every image needs its target masks)") }
            guard mt.dtype.isFloat || mt.dtype == .u8 || mt.dtype == .bool else {
                throw fail(name, "must be U8, BOOL or a float tensor, found \(mt.dtype.rawValue)")
            }
            guard mt.shape.count == 3 else { throw fail(name, "must have 3 dimensions (T × H × W), found shape \(shapeText(mt.shape))") }
            let count = targets.labels[b].count
            guard mt.shape[0] == count else {
                throw fail(name, "holds \(mt.shape[0]) masks, but targets.\(b).labels has \(count) targets")
            }
            let buffer = try mt.float32()
            try checkFinite(buffer, name: name, shape: mt.shape)
            let area = mt.shape[1] * mt.shape[2]
            heights.append(mt.shape[1])
            widths.append(mt.shape[2])
            for t in 0..<count { offsets.append(all.count + t * area) }
            all.append(contentsOf: buffer.buffer)
        }
        let (area, o1) = (heights.max() ?? 0).multipliedReportingOverflow(by: widths.max() ?? 0)
        let (pixels, o2) = area.multipliedReportingOverflow(by: targets.total)
        if o1 || o2 || pixels > Self.maxMaskPixels {
            let b = heights.indices.max { max(heights[$0], widths[$0]) < max(heights[$1], widths[$1]) } ?? 0
            throw fail("targets.\(b).masks", "makes the batch's padded target masks \(heights.max() ?? 0) × \(widths.max() ?? 0) pixels; "
                       + "with \(targets.total) targets that is more than the limit of \(Self.maxMaskPixels) (2^31) mask pixels")
        }
        let view = StridedPredictions(base: predicted.pointer, imageStride: queries * h * w, rowStride: h * w,
                                      batch: batch, queries: queries, width: h * w)
        return Masks(predicted: view, height: h, width: w, targets: all, targetOffsets: offsets, imageHeights: heights, imageWidths: widths)
    }
}
