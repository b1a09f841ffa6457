/// The input matrix seen as `bidders` × `objects` with bidders ≤ objects: the rows when there are no
/// more rows than columns, otherwise the columns (then the matrix is read transposed, without a copy).
struct Orientation {
    /// The caller's row-major costs.
    let costs: UnsafePointer<Double>
    /// The caller's shape.
    let rows: Int, cols: Int
    /// True when the bidders are the caller's columns.
    let transposed: Bool

    init(costs: UnsafePointer<Double>, rows: Int, cols: Int) {
        self.costs = costs
        self.rows = rows
        self.cols = cols
        self.transposed = rows > cols
    }

    /// The smaller side.
    var bidders: Int { transposed ? cols : rows }
    /// The larger side.
    var objects: Int { transposed ? rows : cols }

    /// The cost of bidder `i` for object `j`.
    @inline(__always) func cost(_ i: Int, _ j: Int) -> Double {
        transposed ? costs[j &* cols &+ i] : costs[i &* cols &+ j]
    }

    /// The error for a bad entry of bidder `i`, object `j`, in the caller's coordinates.
    func invalid(_ i: Int, _ j: Int, _ value: Double) -> AssignmentError {
        transposed ? .invalidEntry(row: j, col: i, value: value) : .invalidEntry(row: i, col: j, value: value)
    }
}

/// The (restricted) problem the auction and the augmentation solve: `bidders` bidders, `objects`
/// objects numbered 0 ..< objects, and for each bidder a list of edges (object, cost). The lists are
/// either *dense* (every bidder has an edge to every object, edge e of bidder i is object e and costs
/// `cost[i * stride + e]`) or *sparse* (bidder i's edges are `start[i] ..< start[i] + count[i]`, with
/// objects `object[e]`). Forbidden (+∞) costs may appear in dense lists; sparse lists hold finite costs.
struct Problem {
    /// Number of bidders (rows of the restricted problem).
    let bidders: Int
    /// Number of objects (columns of the restricted problem).
    let objects: Int
    /// Edge costs.
    let cost: UnsafePointer<Double>
    /// Dense: the distance between two bidders' rows in `cost`.
    let stride: Int
    /// Sparse: the first edge of each bidder (nil: dense).
    let start: UnsafePointer<Int>?
    /// Sparse: the number of edges of each bidder.
    let count: UnsafePointer<Int32>?
    /// Sparse: the object of each edge.
    let object: UnsafePointer<Int32>?
    /// The caller's index of each object (nil: the identity).
    let original: UnsafePointer<Int32>?
    /// For truncated lists: a lower bound of every cost left out of bidder i's list (+∞ when none
    /// was left out). Nil when the lists need no check (see ``Solver``).
    let outside: UnsafePointer<Double>?
    /// max − min over the finite edge costs (0 when all are equal).
    let span: Double

    /// A dense problem over `bidders` rows of `objects` costs, `stride` apart.
    init(dense cost: UnsafePointer<Double>, bidders: Int, objects: Int, stride: Int, span: Double) {
        self.bidders = bidders
        self.objects = objects
        self.cost = cost
        self.stride = stride
        self.start = nil
        self.count = nil
        self.object = nil
        self.original = nil
        self.outside = nil
        self.span = span
    }

    /// A sparse problem.
    init(bidders: Int, objects: Int, cost: UnsafePointer<Double>, start: UnsafePointer<Int>, count: UnsafePointer<Int32>,
         object: UnsafePointer<Int32>, original: UnsafePointer<Int32>, outside: UnsafePointer<Double>?, span: Double) {
        self.bidders = bidders
        self.objects = objects
        self.cost = cost
        self.stride = 0
        self.start = start
        self.count = count
        self.object = object
        self.original = original
        self.outside = outside
        self.span = span
    }

    /// The first edge of bidder `i` and the number of its edges.
    @inline(__always) func edges(_ i: Int) -> (first: Int, count: Int) {
        if let start, let count { return (start[i], Int(count[i])) }
        return (i &* stride, objects)
    }

    /// The caller's index of object `j`.
    @inline(__always) func callerIndex(ofObject j: Int) -> Int {
        if let original { return Int(original[j]) }
        return j
    }

    /// The object of edge `e` of a bidder whose edges start at `first`.
    @inline(__always) func objectOf(edge e: Int, first: Int) -> Int {
        if let object { return Int(object[e]) }
        return e &- first
    }
}
