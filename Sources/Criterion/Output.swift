import Foundation
import TensorIO

/// The output formats of `dino-gen eval` (DESIGN §4).
public enum OutputFormat {
    /// One JSON object on one line: `{"input": PATH, "losses": {…}, "loss": x}` (+ `"indices"`).
    public static func json(_ result: CriterionResult, input: String, indices: Bool) -> String {
        var text = "{\"input\": \(quoted(input)), \"losses\": {"
        text += result.losses.map { "\(quoted($0.key)): \(number($0.value))" }.joined(separator: ", ")
        text += "}, \"loss\": \(number(result.total))"
        if indices {
            text += ", \"indices\": {"
            text += result.matchings.map { m in
                let images = m.images.map { "[[\($0.queries.map(String.init).joined(separator: ", "))], [\($0.targets.map(String.init).joined(separator: ", "))]]" }
                return "\(quoted(m.head)): [\(images.joined(separator: ", "))]"
            }.joined(separator: ", ")
            text += "}"
        }
        return text + "}"
    }

    /// A table for people: heads as rows, loss terms as columns, then class_error and the total.
    public static func table(_ result: CriterionResult, input: String, seconds: Double) -> String {
        let columns = [("ce", "loss_ce"), ("bbox", "loss_bbox"), ("giou", "loss_giou"), ("xy", "loss_xy"), ("hw", "loss_hw"),
                       ("cardinality", "cardinality_error")]
        var heads: [(String, String)] = [("final", "")]
        var k = 0
        while result["loss_ce_\(k)"] != nil { heads.append(("aux_\(k)", "_\(k)")); k += 1 }
        if result["loss_ce_interm"] != nil { heads.append(("interm", "_interm")) }
        var j = 0
        while result["loss_ce_enc_\(j)"] != nil { heads.append(("enc_\(j)", "_enc_\(j)")); j += 1 }
        heads.append(("dn", "_dn"))
        for i in 0..<k { heads.append(("dn_\(i)", "_dn_\(i)")) }
        var rows = [["head"] + columns.map(\.0)]
        for (name, suffix) in heads {
            rows.append([name] + columns.map { c in result[c.1 + suffix].map { String(format: "%.6f", $0) } ?? "-" })
        }
        let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max() ?? 0 }
        var lines = ["\(input)"]
        for (r, row) in rows.enumerated() {
            let cells = row.enumerated().map { c, cell in c == 0 ? cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                : String(repeating: " ", count: widths[c] - cell.count) + cell }
            lines.append("  " + cells.joined(separator: "  "))
            if r == 0 { lines.append("  " + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
        if let mask = result["loss_mask"], let dice = result["loss_dice"] {
            lines.append(String(format: "  loss_mask %.6f   loss_dice %.6f", mask, dice))
        }
        lines.append(String(format: "  class_error %.4f   weighted total (loss) %.6f   %.2f ms", result["class_error"] ?? 0, result.total, seconds * 1000))
        return lines.joined(separator: "\n")
    }

    /// `s` as a JSON string literal.
    public static func quoted(_ s: String) -> String { jsonStringLiteral(s) }

    /// A JSON number that reads back to the same double (`null` for NaN and infinities).
    public static func number(_ v: Double) -> String {
        guard v.isFinite else { return "null" }
        if v == v.rounded(), Swift.abs(v) < 1e15 { return String(format: "%.1f", v) }
        return "\(v)"
    }
}
