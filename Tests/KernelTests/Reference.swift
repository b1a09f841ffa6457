import Foundation

/// Plain float64 implementations of DESIGN §2, written independently of the DSL: the reference the
/// generated kernels are checked against.
enum Reference {
    static func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }

    /// α_t (1 − p_t)^γ BCE(x, y) with BCE computed directly from the definition in double.
    static func focal(_ x: Double, _ y: Double, alpha: Double, gamma: Double) -> Double {
        let p = sigmoid(x)
        let bce = Swift.max(x, 0) - x * y + Foundation.log(1 + Foundation.exp(-Swift.abs(x)))
        let pt = p * y + (1 - p) * (1 - y)
        let at = alpha * y + (1 - alpha) * (1 - y)
        return at * Foundation.pow(1 - pt, gamma) * bce
    }

    static func matchingClassCost(_ x: Double, alpha: Double, gamma: Double) -> Double {
        matchingClassCost(probability: sigmoid(x), alpha: alpha, gamma: gamma)
    }

    /// HungarianMatcher's focal class cost from the probability p = σ(x).
    static func matchingClassCost(probability p: Double, alpha: Double, gamma: Double) -> Double {
        let positive = alpha * Foundation.pow(1 - p, gamma) * -Foundation.log(p + 1e-8)
        let negative = (1 - alpha) * Foundation.pow(p, gamma) * -Foundation.log(1 - p + 1e-8)
        return positive - negative
    }

    static func xyxy(_ b: [Double]) -> [Double] { [b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2] }

    static func giou(_ a0: [Double], _ b0: [Double]) -> Double {
        let a = xyxy(a0), b = xyxy(b0)
        let areaA = (a[2] - a[0]) * (a[3] - a[1]), areaB = (b[2] - b[0]) * (b[3] - b[1])
        let iw = Swift.max(0, Swift.min(a[2], b[2]) - Swift.max(a[0], b[0]))
        let ih = Swift.max(0, Swift.min(a[3], b[3]) - Swift.max(a[1], b[1]))
        let inter = iw * ih
        let union = areaA + areaB - inter
        let iou = inter / (union + 1e-6)
        let ew = Swift.max(0, Swift.max(a[2], b[2]) - Swift.min(a[0], b[0]))
        let eh = Swift.max(0, Swift.max(a[3], b[3]) - Swift.min(a[1], b[1]))
        let enclosing = ew * eh
        return iou - (enclosing - union) / (enclosing + 1e-6)
    }

    static func l1(_ a: [Double], _ b: [Double], _ range: Range<Int> = 0..<4) -> Double {
        range.reduce(0) { $0 + Swift.abs(a[$1] - b[$1]) }
    }

    /// PyTorch's bilinear resize (align_corners = false) of an h×w image to H×W, materialized.
    static func upsample(_ m: [Double], h: Int, w: Int, H: Int, W: Int) -> [Double] {
        func source(_ dst: Int, _ inSize: Int, _ outSize: Int) -> (Int, Int, Double) {
            let s = Swift.max((Double(dst) + 0.5) * Double(inSize) / Double(outSize) - 0.5, 0)
            let i0 = Int(s.rounded(.down))
            return (i0, Swift.min(i0 + 1, inSize - 1), s - Double(i0))
        }
        var out = [Double](repeating: 0, count: H * W)
        for y in 0..<H {
            let (y0, y1, ly) = source(y, h, H)
            for x in 0..<W {
                let (x0, x1, lx) = source(x, w, W)
                out[y * W + x] = (1 - ly) * ((1 - lx) * m[y0 * w + x0] + lx * m[y0 * w + x1])
                    + ly * ((1 - lx) * m[y1 * w + x0] + lx * m[y1 * w + x1])
            }
        }
        return out
    }
}

/// A small deterministic generator (SplitMix64) for test data.
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * unit() }
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    /// Logits with the awkward values mixed in: ±50, 0, large.
    mutating func logit() -> Float {
        switch int(20) {
        case 0: return 50
        case 1: return -50
        case 2: return 0
        default: return Float(uniform(-8, 4))
        }
    }
    /// A valid cxcywh box, sometimes of zero width or height.
    mutating func box() -> [Float] {
        let w = int(10) == 0 ? 0 : uniform(0.01, 0.6), h = int(10) == 0 ? 0 : uniform(0.01, 0.6)
        return [Float(uniform(0, 1)), Float(uniform(0, 1)), Float(w), Float(h)]
    }
}

/// Relative error |a − b| / |b| (0 when both are 0).
func relativeError(_ a: Double, _ b: Double) -> Double {
    a == b ? 0 : Swift.abs(a - b) / Swift.max(Swift.abs(b), 1e-300)
}
