extension Expr {
    /// This expression with a name that the generated C shows as a comment above it.
    public func named(_ name: String) -> Expr { Expr(.label(name, self)) }
    /// An integer constant (for index arithmetic).
    public static func int(_ value: Int) -> Expr { Expr(.integer(value)) }
}
