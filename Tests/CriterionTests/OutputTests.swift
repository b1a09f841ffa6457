import Criterion
import Foundation
import XCTest

/// The output formats of `dino-gen eval` (DESIGN §4).
final class OutputTests: XCTestCase {
    func testJSONLineParsesAndHoldsEveryKeyAndMatching() throws {
        let input = CriterionInput.synthetic()
        let result = try Criterion().evaluate(input)
        let line = OutputFormat.json(result, input: "a \"quoted\" path\\name", indices: true)
        XCTAssertFalse(line.contains("\n"), "one object, one line")
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(object["input"] as? String, "a \"quoted\" path\\name")
        let losses = try XCTUnwrap(object["losses"] as? [String: Double])
        XCTAssertEqual(Set(losses.keys), Set(result.losses.map(\.key)))
        for (key, value) in result.losses {
            XCTAssertEqual(Float(losses[key]!), Float(value), key)
        }
        XCTAssertEqual(Float(try XCTUnwrap(object["loss"] as? Double)), Float(result.total))
        let indices = try XCTUnwrap(object["indices"] as? [String: [[[Int]]]])
        XCTAssertEqual(Set(indices.keys), ["final", "aux_0", "aux_1", "aux_2", "aux_3", "aux_4", "interm"])
        for m in result.matchings {
            let images = try XCTUnwrap(indices[m.head])
            XCTAssertEqual(images.map { $0[0] }, m.images.map(\.queries), m.head)
            XCTAssertEqual(images.map { $0[1] }, m.images.map(\.targets), m.head)
        }
        let plain = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(OutputFormat.json(result, input: "x", indices: false).utf8)) as? [String: Any])
        XCTAssertNil(plain["indices"])
    }

    func testTableHasARowPerHeadAndTheTotal() throws {
        let result = try Criterion().evaluate(CriterionInput.synthetic())
        let table = OutputFormat.table(result, input: "example", seconds: 0.001)
        let lines = table.split(separator: "\n").map(String.init)
        for head in ["final", "aux_0", "aux_4", "interm", "dn", "dn_0", "dn_4"] {
            XCTAssertTrue(lines.contains { $0.trimmingCharacters(in: .whitespaces).hasPrefix(head + " ") }, "row \(head)\n\(table)")
        }
        let finalRow = try XCTUnwrap(lines.first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("final ") })
        XCTAssertTrue(finalRow.contains(String(format: "%.6f", result["loss_ce"]!)), finalRow)
        XCTAssertTrue(table.contains(String(format: "%.6f", result.total)), table)
    }
}
