import Criterion
import Foundation
import XCTest

/// The whole criterion: against upstream's own numbers where the project has them (two cases of the
/// conformance set), and against the float64 `ReferenceCriterion` for every layout, loss family and flag.
final class CriterionTests: XCTestCase {

    func fixture(_ path: String) throws -> String {
        guard let folder = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            throw XCTSkip("fixtures are missing from the test bundle")
        }
        return folder.appendingPathComponent(path).path
    }

    /// Every key of `expected` is in `got` with a value within `rtol` (relative to max(1, |expected|)), and
    /// there are no other keys.
    func assertLosses(_ got: CriterionResult, _ expected: [String: Double], rtol: Double = 1e-5,
                      file: StaticString = #filePath, line: UInt = #line, _ context: String) {
        XCTAssertEqual(Set(got.losses.map(\.key)), Set(expected.keys), "key set, \(context)", file: file, line: line)
        XCTAssertEqual(got.losses.count, Set(got.losses.map(\.key)).count, "keys are unique, \(context)", file: file, line: line)
        for (key, want) in expected {
            guard let value = got[key] else { continue }
            XCTAssertLessThanOrEqual(abs(value - want) / max(1, abs(want)), rtol, "\(key): \(value) vs \(want), \(context)",
                                     file: file, line: line)
        }
    }

    func matching(_ result: CriterionResult, _ head: String) -> [[(Int, Int)]] {
        result.matchings.first { $0.head == head }!.images.map { zip($0.queries, $0.targets).map { ($0, $1) } }
    }

    func same(_ a: [[(Int, Int)]], _ b: [[(Int, Int)]]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { x, y in
            x.sorted { $0 < $1 }.elementsEqual(y.sorted { $0 < $1 }) { $0 == $1 }
        }
    }

    // MARK: - Upstream's numbers

    func testUpstreamCases() throws {
        for name in ["few_queries", "more_targets_than_queries"] {
            let data = try Data(contentsOf: URL(fileURLWithPath: try fixture("upstream/\(name).expected.json")))
            let expected = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
            XCTAssertEqual(expected["flags"] as? [String], [], "the copied cases use the default flags")
            let result = try Criterion().evaluate(try CriterionInput.load(path: try fixture("upstream/\(name).safetensors")))
            let losses64 = try XCTUnwrap(expected["losses"] as? [String: Double])
            let losses32 = try XCTUnwrap(expected["losses_float32"] as? [String: Double])
            XCTAssertEqual(Set(result.losses.map(\.key)), Set(losses64.keys), name)
            for (key, want) in losses64 {
                let value = try XCTUnwrap(result[key], key)
                let close = [want, losses32[key]!].contains { abs(value - $0) <= 1e-5 * max(1, abs($0)) }
                XCTAssertTrue(close, "\(name) \(key): \(value) vs \(want)")
            }
            let total = [expected["loss"] as! Double, expected["loss_float32"] as! Double]
            XCTAssertTrue(total.contains { abs(result.total - $0) <= 1e-5 * max(1, abs($0)) }, "\(name) total \(result.total) vs \(total)")
            func pairs(_ key: String) -> [[(Int, Int)]] {
                (expected[key] as! [[[Int]]]).map { zip($0[0], $0[1]).map { ($0, $1) } }
            }
            let final = matching(result, "final")
            XCTAssertTrue(same(final, pairs("indices")) || same(final, pairs("indices_float32")), "\(name) final matching \(final)")
        }
    }

    // MARK: - Against the float64 reference

    /// Runs both on `path` with the same settings and compares losses, total and the final matching.
    func compareWithReference(_ path: String, _ options: CriterionOptions, _ settings: ReferenceCriterion.Settings,
                              _ context: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try Criterion(options: options).evaluate(try CriterionInput.load(path: path))
        let reference = ReferenceCriterion(settings: settings)
        let expected = reference.evaluate(try ReferenceCriterion.read(path))
        assertLosses(result, expected.losses, file: file, line: line, context)
        XCTAssertLessThanOrEqual(abs(result.total - expected.total) / max(1, abs(expected.total)), 1e-5, "total, \(context)",
                                 file: file, line: line)
        XCTAssertTrue(same(matching(result, "final"), expected.final), "final matching, \(context)", file: file, line: line)
    }

    func testEveryLayoutMatchesTheReference() throws {
        // stacked decoder output (F32 classes, F16 coordinates) with dn and interm, as safetensors and as npz;
        // the flattened layout with BF16/F16/F64/F32 heads, two enc heads, masks (U8 and float) and no dn;
        // the flattened layout with dn and auxiliary layers
        for name in ["inputs/stacked.safetensors", "inputs/stacked.npz", "inputs/mixed.safetensors", "upstream/few_queries.safetensors"] {
            try compareWithReference(try fixture(name), CriterionOptions(), ReferenceCriterion.Settings(), name)
        }
    }

    func testFlagsMatchTheReference() throws {
        var o = CriterionOptions()
        var s = ReferenceCriterion.Settings()
        o.matcher = .minsum; s.minsum = true
        try compareWithReference(try fixture("inputs/mixed.safetensors"), o, s, "minsum")
        try compareWithReference(try fixture("upstream/few_queries.safetensors"), o, s, "minsum with dn")

        o = CriterionOptions(); s = ReferenceCriterion.Settings()
        o.focalGamma = 1.5; s.gamma = 1.5
        o.focalAlpha = 0.4; s.alpha = 0.4
        o.costClass = 1; s.costClass = 1
        o.costBbox = 3; s.costBbox = 3
        o.costGiou = 4; s.costGiou = 4
        try compareWithReference(try fixture("inputs/mixed.safetensors"), o, s, "γ 1.5, α 0.4, cost weights (masks too)")
        try compareWithReference(try fixture("inputs/stacked.safetensors"), o, s, "γ 1.5, α 0.4, cost weights")

        o = CriterionOptions(); s = ReferenceCriterion.Settings()
        o.numBoxes = 0.25; s.numBoxes = 0.25   // clamped at 1
        o.clsLossCoef = 2; s.clsCoef = 2
        o.bboxLossCoef = 3; s.bboxCoef = 3
        o.giouLossCoef = 0.5; s.giouCoef = 0.5
        o.intermLossCoef = 0.7; s.intermCoef = 0.7
        o.noIntermBoxLoss = true; s.noIntermBoxLoss = true
        try compareWithReference(try fixture("inputs/stacked.safetensors"), o, s, "normalizer and loss weights")
        o.numBoxes = 7.5; s.numBoxes = 7.5
        o.maskLossCoef = 3; s.maskCoef = 3
        o.diceLossCoef = 0.25; s.diceCoef = 0.25
        try compareWithReference(try fixture("inputs/mixed.safetensors"), o, s, "num_boxes and mask weights")
    }

    func testMoreTargetsThanQueriesMatchesTheReference() throws {
        try compareWithReference(try fixture("upstream/more_targets_than_queries.safetensors"), CriterionOptions(),
                                 ReferenceCriterion.Settings(), "more targets than queries")
    }

    // MARK: - The built-in example

    func testSyntheticExampleIsW0ShapedAndDeterministic() throws {
        let input = CriterionInput.synthetic()
        XCTAssertEqual(input.batch, 2)
        XCTAssertEqual(input.queries, 900)
        XCTAssertEqual(input.classes, 91)
        XCTAssertEqual(input.aux.count, 5)
        XCTAssertNotNil(input.interm)
        let dn = try XCTUnwrap(input.denoising)
        XCTAssertEqual(dn.aux.count, 5)
        XCTAssertEqual(dn.padSize % dn.groups, 0)
        XCTAssertTrue((1...200).contains(dn.padSize), "pad_size \(dn.padSize)")
        XCTAssertTrue(input.targets.labels.allSatisfy { (0..<30).contains($0.count) })

        let first = try Criterion().evaluate(input)
        let again = try Criterion().evaluate(CriterionInput.synthetic())
        XCTAssertEqual(first.losses.map(\.value.bitPattern), again.losses.map(\.value.bitPattern), "same batch, same numbers")
        // the key set of a W0 batch: 7 final + 6 dn + (6 + 6 dn) per auxiliary layer + 6 interm (upstream's 79 keys)
        XCTAssertEqual(first.losses.count, 7 + 6 + 5 * (6 + 6) + 6)
        XCTAssertTrue(first.losses.allSatisfy { $0.value.isFinite })
        XCTAssertTrue(first.total.isFinite && first.total > 0)

        // written to a file and read back, it gives the same numbers
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("synthetic-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try CriterionInput.writeSynthetic(to: path)
        let fromFile = try Criterion().evaluate(try CriterionInput.load(path: path))
        XCTAssertEqual(fromFile.losses.map(\.key), first.losses.map(\.key))
        XCTAssertEqual(fromFile.losses.map(\.value.bitPattern), first.losses.map(\.value.bitPattern))
    }
}
