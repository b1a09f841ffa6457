import Foundation
import TensorIO

/// DINO's training criterion (DESIGN §2) written plainly in float64, independently of the package:
/// its own tensor reading (either layout), brute-force matching over every assignment (tiny sizes
/// only), one loop nest per loss. The tests compare `Criterion` with it where no upstream value exists.
struct ReferenceCriterion {
    /// The criterion's settings (the flags of `dino-gen eval`).
    struct Settings {
        var minsum = false
        var costClass = 2.0, costBbox = 5.0, costGiou = 2.0
        var alpha = 0.25, gamma = 2.0
        var clsCoef = 1.0, bboxCoef = 5.0, giouCoef = 2.0
        var intermCoef = 1.0, noIntermBoxLoss = false
        var maskCoef = 1.0, diceCoef = 1.0
        var numBoxes: Double? = nil
    }

    /// One head: logits[b][q][c], boxes[b][q][k].
    struct Head {
        var logits: [[[Double]]]
        var boxes: [[[Double]]]
    }

    /// A batch read from a file.
    struct Batch {
        var final: Head
        var aux: [Head] = []
        var interm: Head? = nil
        var enc: [Head] = []
        var dnFinal: Head? = nil
        var dnAux: [Head] = []
        var padSize = 0, groups = 1
        var labels: [[Int]] = []
        var targetBoxes: [[[Double]]] = []
        var predictedMasks: [[[[Double]]]]? = nil   // [b][q][y][x]
        var targetMasks: [[[[Double]]]]? = nil      // [b][t][y][x]
        var classes: Int { final.logits.first?.first?.count ?? 0 }
        var batch: Int { final.logits.count }
    }

    // MARK: - Reading

    static func values(_ file: TensorFile, _ name: String) throws -> (shape: [Int], values: [Double]) {
        let t = try file.tensor(name)
        return (t.shape, try t.float64Array())
    }

    static func nested3(_ v: [Double], _ s: [Int], offset: Int = 0, stride1: Int? = nil) -> [[[Double]]] {
        let (n0, n1, n2) = (s[0], s[1], s[2])
        let s1 = stride1 ?? n1
        return (0..<n0).map { i in (0..<n1).map { j in (0..<n2).map { k in v[offset + (i * s1 + j) * n2 + k] } } }
    }

    static func head(_ file: TensorFile, _ prefix: String) throws -> Head {
        let (ls, l) = try values(file, prefix + "pred_logits"), (bs, b) = try values(file, prefix + "pred_boxes")
        return Head(logits: nested3(l, ls), boxes: nested3(b, bs))
    }

    static func read(_ path: String) throws -> Batch {
        let file = try TensorFile.open(path: path)
        let names = Set(file.names)
        func count(_ prefix: String) -> Int { (0...).first { !names.contains("\(prefix)\($0).pred_logits") }! }
        var batch: Batch
        let hasDN = names.contains("dn_meta.pad_size")
        let pad = hasDN ? Int(try file.tensor("dn_meta.pad_size").int64Scalar()) : 0
        let groups = hasDN ? Int(try file.tensor("dn_meta.num_dn_group").int64Scalar()) : 1
        if names.contains("outputs_class") {
            let (cs, c) = try values(file, "outputs_class"), (xs, x) = try values(file, "outputs_coord")
            let (layers, b, total, classes) = (cs[0], cs[1], cs[2], cs[3])
            func window(_ v: [Double], _ width: Int, layer: Int, from: Int, count: Int) -> [[[Double]]] {
                (0..<b).map { i in (0..<count).map { q in (0..<width).map { k in v[((layer * b + i) * total + from + q) * width + k] } } }
            }
            func layerHead(_ l: Int, dn: Bool) -> Head {
                let (from, n) = dn ? (0, pad) : (pad, total - pad)
                return Head(logits: window(c, classes, layer: l, from: from, count: n), boxes: window(x, 4, layer: l, from: from, count: n))
            }
            _ = xs
            batch = Batch(final: layerHead(layers - 1, dn: false))
            batch.aux = (0..<(layers - 1)).map { layerHead($0, dn: false) }
            if hasDN {
                batch.dnFinal = layerHead(layers - 1, dn: true)
                batch.dnAux = (0..<(layers - 1)).map { layerHead($0, dn: true) }
            }
        } else {
            batch = Batch(final: try head(file, ""))
            batch.aux = try (0..<count("aux_outputs.")).map { try head(file, "aux_outputs.\($0).") }
            if hasDN {
                let p = "dn_meta.output_known_lbs_bboxes."
                batch.dnFinal = try head(file, p)
                batch.dnAux = try (0..<count(p + "aux_outputs.")).map { try head(file, p + "aux_outputs.\($0).") }
            }
        }
        batch.padSize = pad
        batch.groups = groups
        if names.contains("interm_outputs.pred_logits") { batch.interm = try head(file, "interm_outputs.") }
        batch.enc = try (0..<count("enc_outputs.")).map { try head(file, "enc_outputs.\($0).") }
        for b in 0..<batch.batch {
            batch.labels.append(try file.tensor("targets.\(b).labels").int64Array().map { Int($0) })
            let (s, v) = try values(file, "targets.\(b).boxes")
            batch.targetBoxes.append((0..<s[0]).map { t in (0..<4).map { v[t * 4 + $0] } })
        }
        if names.contains("pred_masks") {
            let (s, v) = try values(file, "pred_masks")
            batch.predictedMasks = (0..<s[0]).map { b in (0..<s[1]).map { q in (0..<s[2]).map { y in (0..<s[3]).map { x in
                v[((b * s[1] + q) * s[2] + y) * s[3] + x] } } } }
            batch.targetMasks = try (0..<batch.batch).map { b in
                let (ms, mv) = try values(file, "targets.\(b).masks")
                return (0..<ms[0]).map { t in (0..<ms[1]).map { y in (0..<ms[2]).map { x in mv[(t * ms[1] + y) * ms[2] + x] } } }
            }
        }
        return batch
    }

    // MARK: - Math

    let settings: Settings

    func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

    func focal(_ x: Double, _ y: Double) -> Double {
        let p = sigmoid(x)
        let bce = max(x, 0) - x * y + log(1 + exp(-abs(x)))
        let pt = p * y + (1 - p) * (1 - y)
        let at = settings.alpha * y + (1 - settings.alpha) * (1 - y)
        return at * pow(1 - pt, settings.gamma) * bce
    }

    func xyxy(_ b: [Double]) -> [Double] { [b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2] }

    func giou(_ a0: [Double], _ b0: [Double]) -> Double {
        let a = xyxy(a0), b = xyxy(b0)
        let areaA = (a[2] - a[0]) * (a[3] - a[1]), areaB = (b[2] - b[0]) * (b[3] - b[1])
        let inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
        let union = areaA + areaB - inter
        let enclosing = max(0, max(a[2], b[2]) - min(a[0], b[0])) * max(0, max(a[3], b[3]) - min(a[1], b[1]))
        return inter / (union + 1e-6) - (enclosing - union) / (enclosing + 1e-6)
    }

    func l1(_ a: [Double], _ b: [Double], _ r: Range<Int> = 0..<4) -> Double { r.reduce(0) { $0 + abs(a[$1] - b[$1]) } }

    func cost(_ head: Head, _ batch: Batch, image b: Int, query q: Int, target t: Int) -> Double {
        let s = settings
        let p = sigmoid(head.logits[b][q][batch.labels[b][t]])
        let positive = s.alpha * pow(1 - p, s.gamma) * -log(p + 1e-8)
        let negative = (1 - s.alpha) * pow(p, s.gamma) * -log(1 - p + 1e-8)
        let box = head.boxes[b][q], target = batch.targetBoxes[b][t]
        return s.costClass * (positive - negative) + s.costBbox * l1(box, target) - s.costGiou * giou(box, target)
    }

    /// The matching of one image: (query, target) pairs, by brute force over every assignment
    /// (Hungarian) or the cheapest query per target (minsum).
    func match(_ head: Head, _ batch: Batch, image b: Int) -> [(Int, Int)] {
        let queries = head.logits[b].count, targets = batch.labels[b].count
        let c = (0..<queries).map { q in (0..<targets).map { t in cost(head, batch, image: b, query: q, target: t) } }
        if settings.minsum {
            guard queries > 0 else { return [] }
            return (0..<targets).map { t in ((0..<queries).min { c[$0][t] < c[$1][t] }!, t) }
        }
        var best = Double.infinity, bestPairs: [(Int, Int)] = []
        // every injective map of the smaller side into the larger
        let (small, large) = queries <= targets ? (queries, targets) : (targets, queries)
        var used = [Bool](repeating: false, count: large), chosen: [Int] = []
        func search(_ depth: Int, _ sum: Double) {
            if depth == small {
                if sum < best {
                    best = sum
                    bestPairs = chosen.enumerated().map { queries <= targets ? ($0, $1) : ($1, $0) }
                }
                return
            }
            for j in 0..<large where !used[j] {
                used[j] = true; chosen.append(j)
                search(depth + 1, sum + (queries <= targets ? c[depth][j] : c[j][depth]))
                used[j] = false; chosen.removeLast()
            }
        }
        search(0, 0)
        return bestPairs.sorted { $0.0 < $1.0 }
    }

    func argmax(_ v: [Double]) -> Int { v.indices.reduce(0) { v[$1] > v[$0] ? $1 : $0 } }

    /// The losses of one head (keys without suffix) for pairs (b, q, t), normalizer m.
    func headLosses(_ head: Head, _ batch: Batch, pairs: [(Int, Int, Int)], normalizer m: Double,
                    classError: Bool, masks: Bool) -> [String: Double] {
        var out: [String: Double] = [:]
        // upstream: target_classes[idx] = labels, so a query that several pairs share (minsum) takes the
        // label of the last of them, and has one positive class
        var targetClass: [Int: Int] = [:]
        for (b, q, t) in pairs { targetClass[b * 100_000 + q] = batch.labels[b][t] }
        var ce = 0.0
        for b in 0..<head.logits.count { for q in 0..<head.logits[b].count { for c in 0..<batch.classes {
            let y = targetClass[b * 100_000 + q] == c ? 1.0 : 0.0
            ce += focal(head.logits[b][q][c], y)
        } } }
        out["loss_ce"] = ce / m
        if classError {
            let correct = pairs.filter { argmax(head.logits[$0.0][$0.1]) == batch.labels[$0.0][$0.2] }.count
            out["class_error"] = pairs.isEmpty ? 100 : 100 - 100 * Double(correct) / Double(pairs.count)
        }
        var card = 0.0
        for b in 0..<head.logits.count {
            let predicted = head.logits[b].filter { argmax($0) != batch.classes - 1 }.count
            card += Double(abs(predicted - batch.labels[b].count))
        }
        out["cardinality_error"] = card / Double(head.logits.count)
        var bbox = 0.0, xy = 0.0, hw = 0.0, g = 0.0
        for (b, q, t) in pairs {
            let box = head.boxes[b][q], target = batch.targetBoxes[b][t]
            bbox += l1(box, target); xy += l1(box, target, 0..<2); hw += l1(box, target, 2..<4)
            g += 1 - giou(box, target)
        }
        out["loss_bbox"] = bbox / m; out["loss_xy"] = xy / m; out["loss_hw"] = hw / m; out["loss_giou"] = g / m
        if masks, let predicted = batch.predictedMasks, let targetMasks = batch.targetMasks {
            let H = targetMasks.flatMap { $0 }.map(\.count).max() ?? 0
            let W = targetMasks.flatMap { $0 }.compactMap { $0.first?.count }.max() ?? 0
            var focalSum = 0.0, dice = 0.0
            for (b, q, t) in pairs {
                let s = upsample(predicted[b][q], H, W)
                let target = targetMasks[b][t]
                var f = 0.0, inter = 0.0, sp = 0.0, st = 0.0
                for y in 0..<H { for x in 0..<W {
                    let tv = y < target.count && x < target[y].count ? target[y][x] : 0
                    f += focal(s[y][x], tv)
                    inter += sigmoid(s[y][x]) * tv; sp += sigmoid(s[y][x]); st += tv
                } }
                focalSum += f / Double(H * W)
                dice += 1 - (2 * inter + 1) / (sp + st + 1)
            }
            out["loss_mask"] = focalSum / m
            out["loss_dice"] = dice / m
        }
        return out
    }

    /// PyTorch's bilinear resize with align_corners = false.
    func upsample(_ m: [[Double]], _ H: Int, _ W: Int) -> [[Double]] {
        let h = m.count, w = m[0].count
        func source(_ d: Int, _ n: Int, _ N: Int) -> (Int, Int, Double) {
            let s = max((Double(d) + 0.5) * Double(n) / Double(N) - 0.5, 0)
            let i0 = Int(s.rounded(.down))
            return (i0, min(i0 + 1, n - 1), s - Double(i0))
        }
        return (0..<H).map { y in
            let (y0, y1, ly) = source(y, h, H)
            return (0..<W).map { x in
                let (x0, x1, lx) = source(x, w, W)
                return (1 - ly) * ((1 - lx) * m[y0][x0] + lx * m[y0][x1]) + ly * ((1 - lx) * m[y1][x0] + lx * m[y1][x1])
            }
        }
    }

    /// The loss dict, the weighted total and the final head's matching.
    func evaluate(_ batch: Batch) -> (losses: [String: Double], total: Double, final: [[(Int, Int)]]) {
        let n = max(1, settings.numBoxes ?? Double(batch.labels.map(\.count).reduce(0, +)))
        var losses: [String: Double] = [:]
        func add(_ l: [String: Double], _ suffix: String) { for (k, v) in l { losses[k + suffix] = v } }
        func matched(_ head: Head) -> ([(Int, Int, Int)], [[(Int, Int)]]) {
            let perImage = (0..<batch.batch).map { match(head, batch, image: $0) }
            return (perImage.enumerated().flatMap { b, ps in ps.map { (b, $0.0, $0.1) } }, perImage)
        }
        let dnKeys = ["loss_ce", "loss_bbox", "loss_giou", "loss_xy", "loss_hw", "cardinality_error"]
        func dn(_ head: Head?, _ suffix: String) {
            guard let head else { for k in dnKeys { losses[k + suffix] = 0 }; return }
            let single = batch.padSize / batch.groups
            var pairs: [(Int, Int, Int)] = []
            for b in 0..<batch.batch { for g in 0..<batch.groups { for t in 0..<batch.labels[b].count { pairs.append((b, g * single + t, t)) } } }
            add(headLosses(head, batch, pairs: pairs, normalizer: n * Double(batch.groups), classError: false, masks: false), suffix)
        }
        let (finalPairs, finalMatching) = matched(batch.final)
        add(headLosses(batch.final, batch, pairs: finalPairs, normalizer: n, classError: true, masks: true), "")
        dn(batch.dnFinal, "_dn")
        for (i, head) in batch.aux.enumerated() {
            add(headLosses(head, batch, pairs: matched(head).0, normalizer: n, classError: false, masks: false), "_\(i)")
            dn(i < batch.dnAux.count ? batch.dnAux[i] : nil, "_dn_\(i)")
        }
        if let interm = batch.interm {
            add(headLosses(interm, batch, pairs: matched(interm).0, normalizer: n, classError: false, masks: false), "_interm")
        }
        for (j, head) in batch.enc.enumerated() {
            add(headLosses(head, batch, pairs: matched(head).0, normalizer: n, classError: false, masks: false), "_enc_\(j)")
        }
        // weighted total (DESIGN §2)
        let s = settings
        var total = 0.0
        for (key, value) in losses {
            var w = 0.0
            let base = ["loss_ce": s.clsCoef, "loss_bbox": s.bboxCoef, "loss_giou": s.giouCoef]
            if key == "loss_mask" { w = s.maskCoef } else if key == "loss_dice" { w = s.diceCoef }
            for (name, coef) in base {
                if key == name || key == name + "_dn" { w = coef }
                if key == name + "_interm" { w = name != "loss_ce" && s.noIntermBoxLoss ? 0 : coef * s.intermCoef }
                for i in 0..<batch.aux.count where key == "\(name)_\(i)" || key == "\(name)_dn_\(i)" { w = coef }
            }
            total += w * value
        }
        return (losses, total, finalMatching)
    }
}
