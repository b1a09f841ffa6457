/// An integer extent known at run time (an argument of the generated function) or a constant.
public enum Extent: Hashable, Sendable {
    /// A named size argument, such as `Q` or `C`.
    case size(String)
    /// A fixed count, such as 4 box coordinates.
    case fixed(Int)
    /// The product of two extents (for dense strides).
    indirect case product(Extent, Extent)
    /// Any integer expression, which may depend on the enclosing loops' indices (for an inner axis
    /// whose length varies from row to row, such as the last, shorter segment of a split axis).
    case expression(Expr)

    /// The extent as an integer expression.
    public var expr: Expr {
        switch self {
        case .size(let name): return Expr(.size(name))
        case .fixed(let n): return Expr(.integer(n))
        case .product(let a, let b): return Expr(.binary(.multiply, a.expr, b.expr))
        case .expression(let e): return e
        }
    }
}

/// A loop axis: a name and how far it runs. Its index is an integer expression.
///
/// ```swift
/// let q = Axis("q", .size("Q"))
/// ```
public struct Axis: Hashable, Sendable {
    /// The loop variable's name in the generated C.
    public let name: String
    /// How many iterations.
    public let extent: Extent
    /// An axis named `name` running over `extent`.
    public init(_ name: String, _ extent: Extent) { self.name = name; self.extent = extent }
    /// The current index, as an integer expression.
    public var i: Expr { Expr(.index(name)) }
}

/// Element types of kernel inputs and outputs.
public enum ElementType: String, Hashable, Sendable {
    case float32, float64, int64, int32, uint8
    /// True for float32 and float64.
    public var isReal: Bool { self == .float32 || self == .float64 }
}

/// An input tensor of a kernel: a pointer argument with a shape and strides (dense row-major by default).
///
/// Indexing it with expressions gives a load: `logits[q, labels[t]]` is a gather.
public struct Tensor: Hashable, Sendable {
    /// The argument name.
    public let name: String
    /// Element type.
    public let type: ElementType
    /// Extent of each dimension.
    public let shape: [Extent]
    /// Stride of each dimension, in elements.
    public let strides: [Extent]
    /// A one-line description for the generated header.
    public let doc: String
    /// True for a list of tensors (one pointer per element of the first dimension, such as one per
    /// head): `t[h, i]` is element i of the h-th tensor, each addressed by the other indices.
    public let isList: Bool

    /// A tensor; `strided: true` makes every stride but the last a run-time argument (`NAME_s0`, …),
    /// so that windows into larger tensors need no copy.
    public init(_ name: String, _ type: ElementType, _ shape: [Extent], strided: Bool = false, doc: String = "") {
        self.init(name, type, shape, strided: strided, list: false, doc: doc)
    }

    /// A list of `count` tensors of the same element type, each dense over `shape` (one pointer each):
    /// `t[h, i, …]`. The tensors may live anywhere, like the heads of a batch, each in its own
    /// buffer; per-tensor strides, if any, are ordinary integer inputs indexed by h.
    ///
    /// ```swift
    /// let logits = Tensor(list: .size("H"), "logits", .float32, [.size("N")], doc: "each head's logits")
    /// let x = logits[h.i, imageStride[h.i] * b.i + k.i]
    /// ```
    public init(list count: Extent, _ name: String, _ type: ElementType, _ shape: [Extent], doc: String = "") {
        self.init(name, type, [count] + shape, strided: false, list: true, doc: doc)
    }

    private init(_ name: String, _ type: ElementType, _ shape: [Extent], strided: Bool, list: Bool, doc: String) {
        self.name = name
        self.type = type
        self.shape = shape
        self.doc = doc
        self.isList = list
        var strides: [Extent] = []
        var running = Extent.fixed(1)
        for (k, extent) in shape.enumerated().reversed() {
            if strided && k < shape.count - 1 {
                strides.append(.size("\(name)_s\(k)"))
            } else {
                strides.append(running)
            }
            if case .fixed(1) = running { running = extent } else { running = .product(extent, running) }
        }
        self.strides = strides.reversed()
    }

    /// The element at the given indices.
    public subscript(_ indices: Expr...) -> Expr { load(indices, guardedBy: nil) }

    /// The element at the given indices where `condition` holds, else 0 (no memory is read then).
    public func load(_ indices: [Expr], guardedBy condition: Expr?) -> Expr {
        precondition(indices.count == shape.count, "tensor \(name) has \(shape.count) dimensions")
        return Expr(.load(tensor: name, indices: indices, guarded: condition))
    }
}

/// What a kernel produces, per row of its parallel axes.
public enum Output: Hashable, Sendable {
    /// Σ over all rows of a row-level expression, one double.
    case total(name: String, Expr, doc: String)
    /// One value per row (dense over the row axes).
    case perRow(name: String, ElementType, Expr, doc: String)
    /// One value per row and per element of `axes` (dense, row-major).
    case map(name: String, ElementType, over: [Axis], Expr, doc: String)
    /// For each element of `axes` (per row), `value` written at the position `index` (an integer
    /// expression of the row and loop indices) of the output array: a map laid out as the consumer
    /// wants it, such as a table indexed by query across a row's segments.
    case store(name: String, ElementType, over: [Axis], at: Expr, Expr, doc: String)
    /// Per row, the `count` smallest values of `value` over `axis`, ascending (the first index among
    /// equal values), as two arrays: `NAME_value` (float) and `NAME_index` (int32), `count` per row;
    /// +∞ and −1 pad them when the axis is shorter than `count`.
    case smallest(name: String, count: Int, over: Axis, Expr, doc: String)
    /// Per row, some columns of a block of float32 rows, transposed (see ``ColumnGather``): the table
    /// another kernel reads column by column. Like ``smallest(name:count:over:_:doc:)`` it is one
    /// helper call (`dg_gather_columns_f32`), whose AVX-512 variant takes 16 rows at a time.
    case gather(name: String, ColumnGather, doc: String)

    /// The output argument's name.
    public var name: String {
        switch self {
        case .total(let n, _, _), .perRow(let n, _, _, _), .map(let n, _, _, _, _), .store(let n, _, _, _, _, _),
             .smallest(let n, _, _, _, _), .gather(let n, _, _): return n
        }
    }
}

/// Which elements a ``Output/gather(name:_:doc:)`` output copies, and where to: for each column j <
/// `count` and row r < `rows`, the element in row r and column `columns[columnsStart + j]` of the block
/// of `source` that starts at element `start` and whose rows are `rowLength` elements apart, written to
/// the output at `at + j·stride + r`.
///
/// ```swift
/// // the logit of each label of the image, query by query: a table indexed by label, then query
/// ColumnGather(source: logits, list: h.i, start: imageStride[h.i] * b.i, rowLength: C.expr, rows: Q.expr,
///              columns: labelClass, columnsStart: labelStart[b.i], count: labelCount[b.i],
///              at: labelStart[b.i] * Q.expr, stride: Q.expr)
/// ```
public struct ColumnGather: Hashable, Sendable {
    /// The float32 tensor read (a list of tensors: `list` chooses one).
    public var source: Tensor
    /// The element of a list tensor read (nil for a plain tensor).
    public var list: Expr?
    /// The block's first element, as an index into the (chosen) tensor.
    public var start: Expr
    /// Elements from one row of the block to the next.
    public var rowLength: Expr
    /// Rows of the block.
    public var rows: Expr
    /// The int64 tensor holding the column indices.
    public var columns: Tensor
    /// Where the columns start in `columns`.
    public var columnsStart: Expr
    /// How many columns.
    public var count: Expr
    /// Where column 0, row 0 goes in the output.
    public var at: Expr
    /// Output elements from one column to the next (rows are consecutive).
    public var stride: Expr

    /// A gather of `count` columns of a `rows`-row block.
    public init(source: Tensor, list: Expr? = nil, start: Expr, rowLength: Expr, rows: Expr, columns: Tensor, columnsStart: Expr,
                count: Expr, at: Expr, stride: Expr) {
        precondition(source.type == .float32, "a gather copies float32 elements")
        precondition(columns.type == .int64, "a gather's column indices are int64")
        precondition((list != nil) == source.isList, "a list tensor needs `list`, a plain tensor none")
        self.source = source
        self.list = list
        self.start = start
        self.rowLength = rowLength
        self.rows = rows
        self.columns = columns
        self.columnsStart = columnsStart
        self.count = count
        self.at = at
        self.stride = stride
    }

    /// The row-level integer expressions, in the helper's argument order (the list element last, if any).
    public var operands: [Expr] { [start, rowLength, rows, columnsStart, count, at, stride] + (list.map { [$0] } ?? []) }
}

/// How a kernel is run — kept apart from its math.
///
/// Rows (the kernel's row axes, flattened) are split into fixed blocks of `blockRows`; blocks are
/// spread over OpenMP threads; each block sums its totals in double and the block sums are added in
/// block order, so results do not depend on the thread count. Inner reductions and maps are
/// vectorized with `#pragma omp simd`.
public struct Schedule: Hashable, Sendable {
    /// Rows per block of the fixed-order reduction.
    public var blockRows: Int
    /// Whether rows run in parallel.
    public var parallel: Bool
    /// Whether inner sums and maps carry `#pragma omp simd`.
    public var vectorize: Bool
    /// Lanes per vector (`simdlen`); nil: 16 floats or 8 doubles, one AVX-512 register (two AVX2 ones: the
    /// same C is compiled for both instruction sets). Loops dominated by gathers do better with 8, as
    /// 16-lane gathers are slow on some CPUs.
    public var vectorWidth: Int?
    /// Vector iterations in flight per step of an inner loop (`interleave_count`): enough independent
    /// work to hide the latency of the math inside, such as the polynomial of an exp.
    public var interleave: Int
    /// Lanes for the loops of particular outputs (by name), where they differ from `vectorWidth`.
    public var outputLanes: [String: Int] = [:]
    /// Whether the loop over a store's items is preceded by a scalar pass that prefetches, into L2, each
    /// item's first element of each list tensor it reads: for gathers from memory that is not in cache
    /// (the pairs' logits and boxes in a batch larger than the cache).
    public var prefetch: Bool
    /// A schedule.
    public init(blockRows: Int = 32, parallel: Bool = true, vectorize: Bool = true, vectorWidth: Int? = nil, interleave: Int = 4,
                outputLanes: [String: Int] = [:], prefetch: Bool = false) {
        self.outputLanes = outputLanes
        self.prefetch = prefetch
        self.blockRows = blockRows
        self.parallel = parallel
        self.vectorize = vectorize
        self.vectorWidth = vectorWidth
        self.interleave = interleave
    }
}

/// Real precision of a kernel's arithmetic (sums are always accumulated in double).
public enum Precision: String, Hashable, Sendable {
    case float32, float64
}

/// A kernel: a name, an iteration space of row axes, inputs, parameters and outputs.
///
/// ```swift
/// let kernel = Kernel(
///     name: "focal_floor", doc: "Σ of the focal term with no positives.",
///     rows: [b, q], inputs: [logits], parameters: ["alpha"],
///     outputs: [.total(name: "sum", sum(over: c, of: focalLoss(logits[b.i, q.i, c.i], target: 0)), doc: "")])
/// ```
public struct Kernel: Hashable, Sendable {
    /// The C function is named `dino_` + name.
    public let name: String
    /// The doc comment of the generated function.
    public let doc: String
    /// The parallel row axes, outermost first.
    public let rows: [Axis]
    /// Input tensors, in argument order.
    public let inputs: [Tensor]
    /// Real scalar parameters, in argument order.
    public let parameters: [String]
    /// Outputs, in argument order.
    public let outputs: [Output]
    /// Arithmetic precision.
    public let precision: Precision
    /// How it runs.
    public let schedule: Schedule

    /// A kernel.
    public init(name: String, doc: String, rows: [Axis], inputs: [Tensor], parameters: [String] = [],
                outputs: [Output], precision: Precision = .float32, schedule: Schedule = Schedule()) {
        self.name = name
        self.doc = doc
        self.rows = rows
        self.inputs = inputs
        self.parameters = parameters
        self.outputs = outputs
        self.precision = precision
        self.schedule = schedule
    }
}
