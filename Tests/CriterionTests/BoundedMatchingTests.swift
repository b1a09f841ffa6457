import Assignment
@testable import Criterion
import Foundation
import TensorIO
import XCTest

/// The bounded matching (bounds, candidate lists, whole matrices only where the lists prove nothing)
/// against solving every whole cost matrix: the same matchings, on W0-shaped batches and on batches where
/// the lists often do not settle the problem.
final class BoundedMatchingTests: XCTestCase {
    /// Per matched head and image, the (query, target) pairs of the whole matrix's optimum, by query.
    func wholeMatchings(_ input: CriterionInput, _ criterion: Criterion) throws -> [[[Int]]] {
        try criterion.costMatrices(input).map { m in
            let a = try AssignmentSolver.solve(m)
            // rows are targets, columns queries
            return zip(a.cols, a.rows).sorted { $0.0 < $1.0 }.map { [$0.0, $0.1] }
        }
    }

    func boundedMatchings(_ result: CriterionResult) -> [[[Int]]] {
        result.matchings.flatMap { head in head.images.map { image in zip(image.queries, image.targets).map { [$0, $1] } } }
    }

    func testBoundedMatchingEqualsTheWholeMatrices() throws {
        var settled = 0, problems = 0
        for (batch, seed, targets) in [(2, 0, nil), (2, 1, nil), (4, 2, nil), (1, 3, 29), (3, 4, 1), (2, 5, 0), (16, 6, nil)] as [(Int, UInt64, Int?)] {
            let input = CriterionInput.synthetic(batch: batch, seed: seed, targets: targets)
            for threads in [1, 2] {
                var options = CriterionOptions()
                options.threads = threads
                let criterion = Criterion(options: options)
                let result = try criterion.evaluate(input)
                XCTAssertEqual(boundedMatchings(result), try wholeMatchings(input, criterion), "batch \(batch), seed \(seed), \(threads) threads")
                if threads == 1 {
                    problems += result.problems
                    settled += result.problems - result.wholeMatrices
                }
            }
        }
        // the lists settle most problems of W0-shaped batches: the point of the bounds
        XCTAssertGreaterThan(Double(settled), 0.8 * Double(problems), "\(settled) of \(problems) problems settled by the lists")
    }

    /// At B = 16 the table of label logits outgrows the budget and the matched heads go in groups (one
    /// head each here): every loss, the total and the matchings are those of one group of all heads.
    func testHeadGroupsGiveTheSameResults() throws {
        let input = CriterionInput.synthetic(batch: 16, seed: 7)
        for threads in [1, 2] {
            var options = CriterionOptions()
            options.threads = threads
            let grouped = Criterion(options: options)
            var single = grouped
            single.labelTableBudget = .max
            let a = try grouped.evaluate(input), b = try single.evaluate(input)
            XCTAssertEqual(a.losses.map(\.key), b.losses.map(\.key))
            for (x, y) in zip(a.losses, b.losses) { XCTAssertEqual(x.value, y.value, "\(x.key), \(threads) threads") }
            XCTAssertEqual(a.total, b.total)
            XCTAssertEqual(boundedMatchings(a), boundedMatchings(b))
            XCTAssertGreaterThan(a.losses.count, 60)
        }
        // the budget splits this batch's seven matched heads: 4 bytes × J labels × 900 queries each
        let labels = (0..<16).reduce(0) { $0 + Set(input.targets.labels[$1]).count }
        XCTAssertLessThan(Criterion().labelTableBudget / (4 * labels * 900), 7, "the batch should need more than one group")
    }

    /// The table budget: half an L2 at one thread, a whole L2 per thread at more, saturating rather than
    /// overflowing.
    func testLabelTableBudgetPerThreadCount() {
        var criterion = Criterion()
        criterion.labelTableBudget = 300 << 10
        XCTAssertEqual(criterion.labelTableBudget(threads: 1), 300 << 10)
        XCTAssertEqual(criterion.labelTableBudget(threads: 2), 1200 << 10)
        XCTAssertEqual(criterion.labelTableBudget(threads: 3), 1800 << 10)
        criterion.labelTableBudget = .max / 3
        XCTAssertEqual(criterion.labelTableBudget(threads: 1), .max / 3)
        XCTAssertEqual(criterion.labelTableBudget(threads: 2), .max)
        XCTAssertGreaterThanOrEqual(Criterion().labelTableBudget, 32 << 10)
    }

    /// Many queries with the same box and logits: the bounds cannot tell them apart, the lists leave equal
    /// costs out, and the whole matrices decide; the matchings still equal the whole matrices' optimum.
    func testCrowdedQueriesFallBackToTheWholeMatrices() throws {
        // the synthetic batch with queries 1 ..< 60 of every image of every matched head copies of query 0
        let tensors = CriterionInput.syntheticTensors(batch: 2, seed: 9).map { entry -> SafetensorsWriter.Entry in
            guard !entry.name.hasPrefix("dn_meta"), entry.name.hasSuffix("pred_logits") || entry.name.hasSuffix("pred_boxes") else { return entry }
            let (images, queries, width) = (entry.shape[0], entry.shape[1], entry.shape[2])
            var bytes = entry.bytes
            let row = 4 * width
            for b in 0..<images {
                let first = (b * queries) * row
                for q in 1..<60 { bytes.replaceSubrange((first + q * row)..<(first + (q + 1) * row), with: bytes[first..<(first + row)]) }
            }
            return SafetensorsWriter.Entry(name: entry.name, dtype: entry.dtype, shape: entry.shape, bytes: bytes)
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("crowded-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafetensorsWriter.write(tensors, to: path)
        let input = try CriterionInput.load(path: path)
        var options = CriterionOptions()
        options.threads = 1
        let criterion = Criterion(options: options)
        let result = try criterion.evaluate(input)
        // equal costs leave a choice among optima: compare the optimal totals, and the matchings elsewhere
        let costs = criterion.costMatrices(input)
        for (k, (m, pairs)) in zip(costs, boundedMatchings(result)).enumerated() {
            let optimum = try AssignmentSolver.solve(m).cost
            let total = pairs.reduce(0.0) { $0 + m.values[$1[1] * m.cols + $1[0]] }
            XCTAssertEqual(total, optimum, accuracy: 1e-9 * Swift.max(1, Swift.abs(optimum)), "problem \(k)")
            XCTAssertEqual(Set(pairs.map { $0[1] }).count, pairs.count, "problem \(k): every target once")
            XCTAssertEqual(Set(pairs.map { $0[0] }).count, pairs.count, "problem \(k): every query once")
        }
        XCTAssertGreaterThan(result.wholeMatrices, 0, "copies of one query should need some whole matrices")
    }
}
