/// A box as (center x, center y, width, height), the layout DETR-family models predict.
public struct BoxCXCYWH: Sendable {
    /// Coordinates.
    public var cx, cy, w, h: Expr
    /// A box from four expressions.
    public init(_ cx: Expr, _ cy: Expr, _ w: Expr, _ h: Expr) { self.cx = cx; self.cy = cy; self.w = w; self.h = h }
    /// Row `row` of a tensor whose last dimension holds cx, cy, w, h.
    public init(_ tensor: Tensor, _ leading: Expr...) {
        func coordinate(_ k: Int) -> Expr { tensor.load(leading + [Expr(.integer(k))], guardedBy: nil) }
        self.init(coordinate(0), coordinate(1), coordinate(2), coordinate(3))
    }
    /// The four coordinates in order.
    public var coordinates: [Expr] { [cx, cy, w, h] }
    /// Corners: (cx − w/2, cy − h/2, cx + w/2, cy + h/2).
    public var xyxy: BoxXYXY { BoxXYXY(cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h) }
}

/// A box as corners (x0, y0, x1, y1).
public struct BoxXYXY: Sendable {
    /// Corners.
    public var x0, y0, x1, y1: Expr
    private var knownArea: Expr?
    /// A box from its corners.
    public init(_ x0: Expr, _ y0: Expr, _ x1: Expr, _ y1: Expr) { self.x0 = x0; self.y0 = y0; self.x1 = x1; self.y1 = y1 }
    /// A box from its corners and its area (x1 − x0)·(y1 − y0), computed elsewhere (once per box, say).
    public init(_ x0: Expr, _ y0: Expr, _ x1: Expr, _ y1: Expr, area: Expr) {
        self.init(x0, y0, x1, y1)
        knownArea = area
    }
    /// (x1 − x0)·(y1 − y0).
    public var area: Expr { knownArea ?? (x1 - x0) * (y1 - y0) }
}

/// Area of the overlap of two boxes (0 when apart).
public func intersection(_ a: BoxXYXY, _ b: BoxXYXY) -> Expr {
    max(min(a.x1, b.x1) - max(a.x0, b.x0), 0) * max(min(a.y1, b.y1) - max(a.y0, b.y0), 0)
}

/// Area covered by either box.
public func union(_ a: BoxXYXY, _ b: BoxXYXY) -> Expr { a.area + b.area - intersection(a, b) }

/// Area of the smallest box enclosing both. Its sides are never negative for boxes with x0 ≤ x1 and
/// y0 ≤ y1 (in float arithmetic too: max(a.x1, b.x1) ≥ a.x1 ≥ a.x0 ≥ min(a.x0, b.x0)), the only boxes
/// the criterion accepts, so upstream's clamp at 0 would change nothing and is left out.
public func enclosingArea(_ a: BoxXYXY, _ b: BoxXYXY) -> Expr {
    (max(a.x1, b.x1) - min(a.x0, b.x0)) * (max(a.y1, b.y1) - min(a.y0, b.y0))
}

/// Intersection over union, with DINO's `+ 1e-6` in the denominator.
public func iou(_ a: BoxXYXY, _ b: BoxXYXY) -> Expr { intersection(a, b) / (union(a, b) + 1e-6) }

/// Generalized IoU (Rezatofighi et al.) with DINO's two `+ 1e-6` terms:
/// iou − (enclosing − union) / (enclosing + 1e-6).
public func giou(_ a: BoxXYXY, _ b: BoxXYXY) -> Expr {
    let enclosing = enclosingArea(a, b)
    return (iou(a, b) - (enclosing - union(a, b)) / (enclosing + 1e-6)).named("GIoU")
}
