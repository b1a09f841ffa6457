/// The matching of one head: per image, the paired queries and targets.
public struct HeadMatching: Sendable {
    /// The head's label ("final", "aux_0", "interm", "enc_0").
    public var head: String
    /// Per image: (queries, targets), in the matcher's order.
    public var images: [(queries: [Int], targets: [Int])]
}

/// What the criterion computed: the loss dict, the weighted total and every head's matching.
public struct CriterionResult: Sendable {
    /// Loss keys and values in upstream's order.
    public var losses: [(key: String, value: Double)]
    /// Σ value·weight over the keys that have a weight.
    public var total: Double
    /// The matching of every matched head.
    public var matchings: [HeadMatching]
    /// Seconds spent per stage: "label losses", "cost matrices", "assignment", "pair losses", "mask losses".
    public var stageSeconds: [(stage: String, seconds: Double)]
    /// The assignment problems (matched heads × images).
    public var problems = 0
    /// The problems whose whole cost matrix was computed: all of them without the bounded matching (see
    /// `Matcher`), else those that the candidate lists did not settle.
    public var wholeMatrices = 0

    /// The value of a key.
    public subscript(key: String) -> Double? { losses.first { $0.key == key }?.value }
}
