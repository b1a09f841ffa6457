import Foundation
import XCTest

/// `dino-gen eval --json` prints the same bytes on every run and for every thread count: sums are
/// accumulated per fixed block in double and the blocks added in a fixed order (DESIGN §6). The AVX2
/// and AVX-512 rows of the kernels, compiled from one text, give the same bytes too.
final class DeterminismTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = try temporaryFolder(self)
    }

    /// Runs `eval --json --indices ARGS` with 1 and 2 threads, twice each (the second time with the
    /// kernels' AVX2 rows, DINO_GEN_ISA=avx2, where the CPU would run AVX-512 ones); asserts all four
    /// outputs are byte-identical and returns one (one line per input).
    private func identicalOutputs(_ arguments: [String], line: UInt = #line) throws -> [String] {
        var outputs: [Data] = []
        for (threads, isa) in [("1", nil), ("2", nil), ("1", "avx2"), ("2", "avx2")] {
            let run = try CLIRun.run(["eval", "--json", "--indices", "--threads", threads] + arguments, in: folder,
                                     environment: isa.map { ["DINO_GEN_ISA": $0] } ?? [:])
            XCTAssertEqual(run.status, 0, run.standardError, line: line)
            XCTAssertEqual(run.stderr.count, 0, run.standardError, line: line)
            outputs.append(run.stdout)
        }
        XCTAssertFalse(outputs[0].isEmpty, line: line)
        for (k, output) in outputs.enumerated().dropFirst() {
            XCTAssertEqual(output, outputs[0], "run \(k + 1) (--threads \(k % 2 == 0 ? 1 : 2)\(k >= 2 ? ", AVX2" : "")) printed different bytes "
                           + "from run 1 (--threads 1)", line: line)
        }
        return String(decoding: outputs[0], as: UTF8.self).split(separator: "\n").map(String.init)
    }

    private func object(_ line: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line.prefix(200))")
    }

    /// The built-in W0 example, and the same batch written to a file and read back: identical bytes
    /// across runs and thread counts, and the same losses and matchings from memory and from the file.
    func testSyntheticExample() throws {
        let builtIn = try identicalOutputs([])
        XCTAssertEqual(builtIn.count, 1)
        let example = folder.appendingPathComponent("example.safetensors")
        let written = try CLIRun.run(["eval", "--write-example", example.path], in: folder)
        XCTAssertEqual(written.status, 0, written.standardError)
        let fromFile = try identicalOutputs([example.path])
        XCTAssertEqual(fromFile.count, 1)
        guard let a = builtIn.first, let b = fromFile.first else { return }
        let memory = try object(a), file = try object(b)
        XCTAssertEqual(file["input"] as? String, example.path)
        XCTAssertEqual(memory["losses"] as? [String: Double], file["losses"] as? [String: Double])
        XCTAssertEqual(memory["loss"] as? Double, file["loss"] as? Double)
        XCTAssertEqual((memory["indices"] as? NSDictionary), (file["indices"] as? NSDictionary))
        // The W0 example has 6 layers, interm and dn: 5 aux heads and 5 dn aux heads.
        let losses = try XCTUnwrap(memory["losses"] as? [String: Double])
        XCTAssertNotNil(losses["loss_giou_4"])
        XCTAssertNotNil(losses["loss_giou_dn_4"])
        XCTAssertNil(losses["loss_giou_5"])
    }

    /// A small batch with masks (the mask kernel's sums too), with both matchers and another γ.
    func testMasksAndFlags() throws {
        let file = folder.appendingPathComponent("small.safetensors")
        try write(SmallBatch().safetensors, to: file)
        for flags in [[], ["--matcher", "minsum"], ["--focal-gamma", "1.5"]] {
            let lines = try identicalOutputs(flags + [file.path])
            XCTAssertEqual(lines.count, 1)
            let losses = try XCTUnwrap(try object(lines[0])["losses"] as? [String: Double])
            XCTAssertNotNil(losses["loss_mask"], "\(flags)")
            XCTAssertNotNil(losses["loss_dice"], "\(flags)")
        }
    }

    /// Small conformance cases (copied from the upstream-computed set): identical bytes across runs and
    /// thread counts, and the values agree with upstream's (float64 or float32 reference, rtol 1e-5).
    func testSmallFixtures() throws {
        let names = ["few_queries", "more_targets_than_queries"]
        let paths = try names.map { try fixture("\($0).safetensors").path }
        let lines = try identicalOutputs(paths)
        XCTAssertEqual(lines.count, names.count)
        for (name, line) in zip(names, lines) {
            let got = try object(line)
            let expected = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: try fixture("\(name).expected.json"))) as? [String: Any])
            XCTAssertEqual(expected["flags"] as? [String], [], "\(name) needs flags this test does not pass")
            let losses = try XCTUnwrap(got["losses"] as? [String: Double])
            let reference = try XCTUnwrap(expected["losses"] as? [String: Double])
            let reference32 = try XCTUnwrap(expected["losses_float32"] as? [String: Double])
            XCTAssertEqual(Set(losses.keys), Set(reference.keys), name)
            for (key, value) in reference {
                guard let ours = losses[key] else { continue }
                XCTAssertTrue(close(ours, value) || close(ours, reference32[key] ?? .nan), "\(name) \(key): \(ours) vs upstream \(value)")
            }
            let total = try XCTUnwrap(got["loss"] as? Double)
            let total64 = try XCTUnwrap(expected["loss"] as? Double), total32 = try XCTUnwrap(expected["loss_float32"] as? Double)
            XCTAssertTrue(close(total, total64) || close(total, total32), "\(name) loss \(total) vs upstream \(total64)")
            // The final matching, as sets of (query, target) pairs per image.
            let final = try XCTUnwrap((got["indices"] as? [String: Any])?["final"] as? [[[Int]]])
            let reference64 = try XCTUnwrap(expected["indices"] as? [[[Int]]])
            let referenceF32 = try XCTUnwrap(expected["indices_float32"] as? [[[Int]]])
            XCTAssertTrue(pairs(final) == pairs(reference64) || pairs(final) == pairs(referenceF32), "\(name) final matching \(final)")
        }
    }

    private func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-5 * max(1, abs(b)) }

    private func pairs(_ indices: [[[Int]]]) -> [Set<[Int]>] {
        indices.map { image in Set(zip(image[0], image[1]).map { [$0, $1] }) }
    }
}
