import Foundation
import XCTest

/// Flags out of range are usage errors (exit 2); values that validate but overflow float32 arithmetic
/// are a clear error (exit 1), never a `null` or `inf` in the output.
final class FlagTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = try temporaryFolder(self)
    }

    func testFlagsOutOfRangeAreUsageErrors() throws {
        let file = folder.appendingPathComponent("batch.safetensors")
        try write(SmallBatch().safetensors, to: file)
        let cases: [([String], String)] = [
            (["--focal-alpha", "1.5"], "--focal-alpha must be between 0 and 1"),
            (["--focal-alpha", "1e300"], "--focal-alpha must be between 0 and 1"),
            (["--focal-gamma=-1"], "--focal-gamma must be between 0 and 100"),
            (["--cls-loss-coef", "1e308"], "--cls-loss-coef must be between -1e6 and 1e6"),
            (["--cost-bbox", "nan"], "--cost-bbox must be a finite number"),
            (["--num-boxes=-3"], "--num-boxes must not be negative"),
            (["--matcher", "greedy"], "--matcher must be hungarian or minsum"),
            (["--threads", "0"], "--threads must be at least 1"),
        ]
        for (flags, message) in cases {
            let run = try CLIRun.run(["eval", "--json"] + flags + [file.path], in: folder)
            XCTAssertEqual(run.status, 2, "\(flags): \(run.standardError)")
            XCTAssertTrue(run.stdout.isEmpty, "\(flags) printed \(run.standardOutput)")
            XCTAssertTrue(run.standardError.contains(message), "\(flags): \(run.standardError)")
        }
        // the edges of the ranges are fine, and --num-boxes 0 is clamped at 1 as upstream clamps it
        for flags in [["--focal-alpha", "0"], ["--focal-alpha", "1"], ["--num-boxes", "0"], ["--cls-loss-coef", "1e6"]] {
            let run = try CLIRun.run(["eval", "--json"] + flags + [file.path], in: folder)
            XCTAssertEqual(run.status, 0, "\(flags): \(run.standardError)")
            XCTAssertFalse(run.standardOutput.contains("null"), "\(flags): \(run.standardOutput)")
        }
    }

    func testValuesTooLargeForFloat32AreAnError() throws {
        // finite boxes with w, h ≥ 0, but every final-layer box 1e38 wide: its L1 costs overflow float32
        var huge = SmallBatch()
        for box in 0..<(SmallBatch.batch * SmallBatch.queries) { huge = huge.settingFloat("pred_boxes", at: 4 * box + 2, to: 1e38) }
        let file = folder.appendingPathComponent("huge.safetensors")
        try write(huge.safetensors, to: file)
        let run = try CLIRun.run(["eval", "--json", "--cost-bbox", "1e6", file.path], in: folder)
        XCTAssertEqual(run.status, 1, run.standardError)
        XCTAssertNil(run.signal)
        XCTAssertTrue(run.stdout.isEmpty, run.standardOutput)
        XCTAssertTrue(run.standardError.hasPrefix("Error: \(file.path): "), run.standardError)
        XCTAssertTrue(run.standardError.contains("too large for float32 arithmetic"), run.standardError)
    }
}
