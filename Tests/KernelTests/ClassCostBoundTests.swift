import DINOKernelsC
import Foundation
import XCTest

extension Reference {
    /// The α-free parts of HungarianMatcher's focal class cost for γ = 2, from p = σ(x) in double:
    /// cost = α·positive − (1 − α)·negative, positive = (1 − p)²·(−log(p + 1e-8)), negative = p²·(−log(1 − p + 1e-8)).
    static func matchingClassCostParts(_ x: Double) -> (positive: Double, negative: Double) {
        let p = sigmoid(x)
        return ((1 - p) * (1 - p) * -Foundation.log(p + 1e-8), p * p * -Foundation.log(1 - p + 1e-8))
    }
}

/// `matching_class_bound` against `matching_class_cost` (the float32 class cost `match_cost` computes)
/// and the float64 reference, over a dense set of float32 logits: it must stay below both for every
/// logit and α, and close to the cost where logits usually are.
final class ClassCostBoundTests: XCTestCase {
    static let alphas: [Double] = [0, 0.1, 0.25, 0.5, 0.9, 1]

    /// Every 111th float32 in [−32, 32] (about 20 million), and the places where something happens:
    /// ±0, tiny and huge magnitudes, |x| near 8 and 9, ±18.42 (−log ε), the bound's clamp points
    /// (18.5, −17.920937), where its chord starts (x = −11.503, where x = 0.8730545·x − 1.4602945) and
    /// ends (x = −18.854, where that line reaches −17.920937), each with its 64 neighbours on both sides.
    static func logits() -> [Float] {
        var values: [Float] = []
        let top = Float(32).bitPattern
        values.reserveCapacity(Int(2 * top / 111) + 4096)
        for bits in stride(from: UInt32(0), through: top, by: 111) {
            let x = Float(bitPattern: bits)
            values.append(x)
            values.append(-x)
        }
        let points: [Float] = [0, .leastNonzeroMagnitude, .leastNormalMagnitude, 1e-30, 1e-8, 1e-3, 0.5, 1, 8, 9, 9.21, 11.5129,
                               18.420681, 18.5, 17.920937, 11.503, 18.854, 32, 87.3, 88.8, 1e4, 1e10, .greatestFiniteMagnitude]
        for point in points {
            for center in [point, -point] {
                var up = center, down = center
                values.append(center)
                for _ in 0..<64 {
                    up = up.nextUp; down = down.nextDown
                    if up.isFinite { values.append(up) }
                    if down.isFinite { values.append(down) }
                }
            }
        }
        return values
    }

    func testBoundIsBelowTheCostAndClose() {
        let logits = Self.logits()
        let chunk = 1 << 20
        var exact = [Float](repeating: .nan, count: chunk), bound = [Float](repeating: .nan, count: chunk)
        var parts = [(positive: Double, negative: Double)](repeating: (0, 0), count: chunk)
        // the smallest cost − bound (kernel, reference) and the largest reference − bound for |x| ≤ 8, per α
        var slackKernel = [Double](repeating: .infinity, count: Self.alphas.count)
        var slackReference = slackKernel
        var gap = [Double](repeating: -.infinity, count: Self.alphas.count)
        var worst = [Float](repeating: .nan, count: Self.alphas.count)
        var start = 0
        while start < logits.count {
            let n = min(chunk, logits.count - start)
            logits.withUnsafeBufferPointer { all in
                let x = UnsafeBufferPointer(rebasing: all[start..<(start + n)])
                for i in 0..<n { parts[i] = Reference.matchingClassCostParts(Double(x[i])) }
                for (a, alpha) in Self.alphas.enumerated() {
                    dino_matching_class_cost(1, Int64(n), x.baseAddress, alpha, &exact)
                    dino_matching_class_bound(1, Int64(n), x.baseAddress, alpha, &bound)
                    for i in 0..<n {
                        let b = Double(bound[i])
                        let reference = alpha * parts[i].positive - (1 - alpha) * parts[i].negative
                        if !(Double(exact[i]) - b >= slackKernel[a]) { slackKernel[a] = Double(exact[i]) - b; worst[a] = x[i] }
                        slackReference[a] = min(slackReference[a], reference - b)
                        if Swift.abs(x[i]) <= 8 { gap[a] = max(gap[a], reference - b) }
                    }
                }
            }
            start += n
        }
        for (a, alpha) in Self.alphas.enumerated() {
            XCTAssertGreaterThanOrEqual(slackKernel[a], 0, "α = \(alpha): the bound is above the float32 cost at x = \(worst[a])")
            XCTAssertGreaterThanOrEqual(slackReference[a], 0, "α = \(alpha): the bound is above the float64 cost")
            // at most the fit's error (0.0055) plus the margin (0.0056) for every α
            XCTAssertLessThanOrEqual(gap[a], 0.0115, "α = \(alpha): the bound is loose for |x| ≤ 8")
            if alpha == 0.25 { XCTAssertLessThanOrEqual(gap[a], 0.02, "DINO's α: the bound is loose for |x| ≤ 8") }
        }
    }
}
