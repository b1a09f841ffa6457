import Criterion
import Foundation
import XCTest

/// The input model: every layout and dtype is read into the heads the criterion uses, element for
/// element as NumPy reads the same files (values.json, written by Fixtures/inputs/make_input_fixtures.py).
final class InputTests: XCTestCase {

    func folder() throws -> URL {
        guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            throw XCTSkip("fixtures are missing from the test bundle")
        }
        return url
    }

    func values() throws -> [String: [String: Any]] {
        let data = try Data(contentsOf: try folder().appendingPathComponent("inputs/values.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
    }

    func head(_ input: CriterionInput, _ label: String) -> Head? {
        input.allHeads.first { $0.label == label }
    }

    func check(_ input: CriterionInput, _ expected: [String: Any], _ context: String) throws {
        XCTAssertEqual(input.batch, expected["batch"] as? Int, context)
        XCTAssertEqual(input.queries, expected["queries"] as? Int, context)
        XCTAssertEqual(input.classes, expected["classes"] as? Int, context)
        XCTAssertEqual(input.aux.count, expected["aux"] as? Int, context)
        XCTAssertEqual(input.enc.count, expected["enc"] as? Int ?? 0, context)
        if let pad = expected["pad_size"] as? Int {
            XCTAssertEqual(input.denoising?.padSize, pad, context)
            XCTAssertEqual(input.denoising?.groups, expected["groups"] as? Int, context)
            XCTAssertEqual(input.denoising?.aux.count, input.aux.count, context)
        } else {
            XCTAssertNil(input.denoising, context)
        }
        XCTAssertEqual(input.targets.labels.map { $0.map(Int.init) }, expected["labels"] as? [[Int]], context)
        let boxes = try XCTUnwrap(expected["target_boxes"] as? [[Double]])
        XCTAssertEqual(input.targets.boxes, boxes.map { $0.map { Float($0) } }, context)
        for entry in try XCTUnwrap(expected["values"] as? [[String: Any]]) {
            let label = entry["head"] as! String, part = entry["part"] as! String
            let index = entry["index"] as! [Int], value = entry["value"] as! Double
            let got: Float
            if label == "masks" {
                let m = try XCTUnwrap(input.masks, context)
                got = m.predicted[index[0], index[1], index[2]]
            } else {
                let h = try XCTUnwrap(head(input, label), "\(context): head \(label)")
                let p = part == "logits" ? h.logits : h.boxes
                got = p[index[0], index[1], index[2]]
            }
            // the values are float32 ones; Foundation's JSON parser may be off in the last digits of a double
            XCTAssertEqual(got, Float(value), "\(context): \(label).\(part)\(index)")
        }
        if let sizes = expected["mask_sizes"] as? [[Int]], let targetMasks = expected["target_masks"] as? [Double] {
            let m = try XCTUnwrap(input.masks, context)
            XCTAssertEqual(zip(m.imageHeights, m.imageWidths).map { [$0, $1] }, sizes, context)
            XCTAssertEqual(m.targets, targetMasks.map { Float($0) }, context)
        }
    }

    func testEveryLayoutReadsAsNumPyReadsIt() throws {
        let all = try values()
        let cases = [("upstream/few_queries.safetensors", "few_queries"), ("inputs/stacked.safetensors", "stacked"),
                     ("inputs/stacked.npz", "stacked"), ("inputs/mixed.safetensors", "mixed")]
        for (file, key) in cases {
            let input = try CriterionInput.load(path: try folder().appendingPathComponent(file).path)
            try check(input, try XCTUnwrap(all[key]), file)
        }
    }

    func testStackedHeadsAreWindowsWithoutCopies() throws {
        let input = try CriterionInput.load(path: try folder().appendingPathComponent("inputs/stacked.safetensors").path)
        let dn = try XCTUnwrap(input.denoising)
        // the matching part of a layer starts pad_size queries after its dn part, in the same buffer
        XCTAssertEqual(input.final.logits.base - dn.final.logits.base, dn.padSize * input.classes)
        XCTAssertEqual(input.final.logits.imageStride, (dn.padSize + input.queries) * input.classes)
    }
}
