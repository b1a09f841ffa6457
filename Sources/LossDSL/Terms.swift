/// The standard terms of DETR-family criteria, written in the DSL.

/// Binary cross-entropy with logits, in the stable form max(x, 0) − x·y + log(1 + e^−|x|).
public func binaryCrossEntropy(logit x: Expr, target y: Expr) -> Expr { softplus(x) - x * y }

/// Sigmoid focal loss (Lin et al.) of one logit against a target in [0, 1]:
/// α_t · (1 − p_t)^γ · BCE(x, y), with p = σ(x), p_t = p·y + (1−p)(1−y), α_t = α·y + (1−α)(1−y).
///
/// 1 − p_t is written as p·(1 − y) + (1 − p)·y, the same value: for the constant targets 0 and 1 it
/// folds to p and 1 − p, where 1 − (1 − p) would cost two operations and, for small p, its precision.
public func sigmoidFocalLoss(logit x: Expr, target y: Expr, alpha: Expr, gamma: Expr) -> Expr {
    let p = sigmoid(x)
    let oneMinusPt = p * (1 - y) + (1 - p) * y
    let alphaT = alpha * y + (1 - alpha) * (1 - y)
    return (alphaT * oneMinusPt.pow(gamma) * binaryCrossEntropy(logit: x, target: y)).named("sigmoid focal loss")
}

/// The focal classification cost of DINO's Hungarian matcher for one logit of the target's class:
/// α·(1−p)^γ·(−log(p + ε)) − (1−α)·p^γ·(−log(1 − p + ε)), ε = 1e-8, p = σ(x).
///
/// Both logs come from the ones softplus needs, with no general log. With e = e^−|x|, the smaller
/// of p and 1 − p is s = e/(1 + e) and the larger is 1/(1 + e), so that, with L = log(1 + e):
/// - log(1/(1 + e) + ε) = −L + log(1 + ε(1 + e)) = −L + ε(1 + e), exact but for ε² < 1e-15;
/// - log(s + ε) = log(max(s, ε)) + log(1 + min(s, ε)/max(s, ε)), where log s = −|x| − L.
public func focalMatchingCost(logit x: Expr, alpha: Expr, gamma: Expr) -> Expr {
    let epsilon: Expr = 1e-8
    let e = exp(-abs(x))
    let r = 1 / (1 + e)
    let small = e * r                                   // min(p, 1 − p)
    let l = log1pUnit(e)                                // log(1 + e)
    let logLarge = -l + epsilon * (1 + e)               // log(max(p, 1 − p) + ε)
    let logSmall = select(small >= epsilon, -abs(x) - l, log(epsilon))
        + log1pUnit(min(small, epsilon) / max(small, epsilon))   // log(min(p, 1 − p) + ε)
    let positiveSide = x >= 0
    let p = select(positiveSide, r, small), q = select(positiveSide, small, r)   // p and 1 − p
    let logP = select(positiveSide, logLarge, logSmall), logQ = select(positiveSide, logSmall, logLarge)
    let positive = alpha * q.pow(gamma) * -logP
    let negative = (1 - alpha) * p.pow(gamma) * -logQ
    return (positive - negative).named("focal matching cost")
}

/// A lower bound of ``focalMatchingCost(logit:alpha:gamma:)`` for γ = 2, below the float32 cost for
/// every finite x and every α in [0, 1], within 0.0111 of it for |x| ≤ 8 and 0.75 everywhere, with no
/// division and no log: what a matcher can charge every pair before it computes exact costs for a few.
///
/// The cost is α·P(x) − (1−α)·P(−x) with P(y) = σ(−y)²·(−log(σ(y) + ε)) ≥ 0, decreasing, so
/// α·(P̃(x) − δ) − (1−α)·(P̃(−x) + δ) is below it for every α when |P̃ − P| ≤ δ. With t = |x| and
/// u = e^−t, and ε left out, P is u²·k(u) on the side of x's sign and t·r(u) + k(u) on the other, where
/// r = 1/(1 + u)² and k = r·log(1 + u). So P̃ is t·R(u) + K(u) and u²·K(u), R a cubic and K a quadratic
/// fitted together (minimax, by linear programming, with u from ``expCoarse(_:)``) to within 0.00544 of
/// both for t ≤ 18.6. The margin δ = 0.0056 covers that, ε and float32 rounding: without it, the bound
/// exceeds the float32 cost by at most 0.00544 over all float32 x.
///
/// ε only lowers P, so leaving it out keeps P̃(−x) an upper bound. As x → +∞ the cost falls to
/// −(1−α)·(−log ε) = −(1−α)·18.42; x is clamped at 18.5, where P̃(−x) is above that (the bound is up to
/// 0.73·(1−α) low from x = 16 on). Where ε matters below (x < −11.5, σ(x) ≈ e^x towards ε), x is first
/// raised along a chord of t ↦ −log(e^−t + ε), t → min(t, 0.873·t + 1.46, 17.92), which starts 0.001
/// below it: P is decreasing, so P̃ at the raised x is below P at x, and the bound is up to 0.51·α low
/// there.
public func focalMatchingCostLowerBound(logit x: Expr, alpha: Expr) -> Expr {
    let raised = min(max(max(x, 0.8730545 * x - 1.4602945), -17.920937), 18.5)
    let minusT = -abs(raised)
    let u = expCoarse(minusT)
    let r = ((-1.3678102 * u + 2.174583) * u - 1.7823133) * u + 0.99970764   // ≈ 1/(1 + u)²
    let k = (-0.2862832 * u + 0.46296933) * u                               // ≈ log(1 + u)/(1 + u)²
    let large = k - minusT * r                                              // ≈ P(−|x|)
    let small = u.pow(2) * k                                                // ≈ P(|x|)
    let positiveSide = x >= 0
    let largeWeight = select(positiveSide, alpha - 1, alpha), smallWeight = select(positiveSide, alpha, alpha - 1)
    let margin: Expr = 0.0056
    return (largeWeight * large + (smallWeight * small - margin)).named("focal matching cost, lower bound")
}

/// Σ_k |a_k − b_k| over the four coordinates.
public func l1(_ a: BoxCXCYWH, _ b: BoxCXCYWH) -> Expr {
    zip(a.coordinates, b.coordinates).map { abs($0 - $1) }.reduce(0, +).named("L1")
}

/// |a.cx − b.cx| + |a.cy − b.cy|.
public func l1Center(_ a: BoxCXCYWH, _ b: BoxCXCYWH) -> Expr { abs(a.cx - b.cx) + abs(a.cy - b.cy) }

/// |a.w − b.w| + |a.h − b.h|.
public func l1Size(_ a: BoxCXCYWH, _ b: BoxCXCYWH) -> Expr { abs(a.w - b.w) + abs(a.h - b.h) }

/// The GIoU loss 1 − giou of two cxcywh boxes.
public func giouLoss(_ a: BoxCXCYWH, _ b: BoxCXCYWH) -> Expr { (1 - giou(a.xyxy, b.xyxy)).named("GIoU loss") }

/// The dice loss from its three sums: 1 − (2·Σ σ(s)·t + 1) / (Σ σ(s) + Σ t + 1).
public func diceLoss(overlap: Expr, predicted: Expr, target: Expr) -> Expr {
    (1 - (2 * overlap + 1) / (predicted + target + 1)).named("dice loss")
}

/// Bilinear sampling coordinates of PyTorch's `interpolate(mode: "bilinear", align_corners: false)`
/// along one dimension: output index `dst` of `outSize`, input of `inSize`.
///
/// src = (dst + 0.5)·in/out − 0.5, clamped at 0; i0 = ⌊src⌋, i1 = min(i0 + 1, in − 1), weight = src − i0.
public func bilinearSource(dst: Expr, inSize: Expr, outSize: Expr) -> (i0: Expr, i1: Expr, weight: Expr) {
    let src = max((dst.real + 0.5) * (inSize.real / outSize.real) - 0.5, 0)
    let i0 = src.index
    let i1 = min(i0 + Expr(.integer(1)), inSize - Expr(.integer(1)))
    return (i0, i1, src - i0.real)
}
