/// How the criterion is configured: DINO_4scale's defaults, each overridable from the command line.
public struct CriterionOptions: Sendable {
    /// Which matcher pairs predictions with targets.
    public enum Matcher: String, Sendable, CaseIterable {
        /// A minimum-total-cost one-to-one assignment (upstream's HungarianMatcher).
        case hungarian
        /// For each target, its cheapest query (upstream's SimpleMinsumMatcher).
        case minsum
    }

    /// The matcher (default hungarian).
    public var matcher: Matcher = .hungarian
    /// Weight of the focal class cost in the matching (2).
    public var costClass = 2.0
    /// Weight of the L1 box cost in the matching (5).
    public var costBbox = 5.0
    /// Weight of the GIoU cost in the matching (2).
    public var costGiou = 2.0
    /// Focal α, for the matching cost and the label and mask losses (0.25).
    public var focalAlpha = 0.25
    /// Focal γ (2).
    public var focalGamma = 2.0
    /// Weight of `loss_ce` in the total (1).
    public var clsLossCoef = 1.0
    /// Weight of `loss_bbox` in the total (5).
    public var bboxLossCoef = 5.0
    /// Weight of `loss_giou` in the total (2).
    public var giouLossCoef = 2.0
    /// Factor on the `_interm` weights (1).
    public var intermLossCoef = 1.0
    /// Gives `loss_bbox_interm` and `loss_giou_interm` weight 0.
    public var noIntermBoxLoss = false
    /// Weight of `loss_mask` (1).
    public var maskLossCoef = 1.0
    /// Weight of `loss_dice` (1).
    public var diceLossCoef = 1.0
    /// The normalizer, when given (a distributed run's all-reduced average); clamped at 1.
    public var numBoxes: Double? = nil
    /// Threads for the kernels and the solver; nil uses every core.
    public var threads: Int? = nil

    /// DINO_4scale's defaults.
    public init() {}
}
