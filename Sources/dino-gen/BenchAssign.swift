import ArgumentParser
import Assignment
import Criterion
import Foundation
import TensorIO

/// `dino-gen bench-assign`: our solver against scipy's `linear_sum_assignment` on the same matrices.
struct BenchAssign: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-assign",
        abstract: "Time the assignment solver against scipy's linear_sum_assignment on the same matrices.",
        discussion: """
            Matrices: DINO-like 900 × 1, 10, 30, 100 (the final head's cost matrix of a synthetic batch,
            from the real matching-cost kernel) and square uniform random 100, 500, 1000. They are written to
            temporary .npy files; scipy is timed inside one python3 process (time.perf_counter around
            linear_sum_assignment), ours in this process; both report the median of --repeat runs.
            Without python3 and scipy the scipy column is left out.
            """)

    @Option(name: .customLong("repeat"), help: "Runs per matrix (the median is reported).")
    var repeatCount: Int = 21
    @Flag(help: "One JSON object per matrix, one per line.") var json = false
    @Option(help: "Seed of the synthetic batches and the random matrices.") var seed: UInt64 = 0
    @Option(help: "Keep the .npy matrices in this folder instead of a temporary one.") var keep: String?

    func validate() throws {
        if repeatCount < 1 { throw ValidationError("--repeat must be at least 1") }
    }

    /// One benchmark matrix.
    struct Case {
        let name: String
        let kind: String
        let matrix: CostMatrix
    }

    /// One row of the table.
    struct Row {
        let name: String, kind: String, rows: Int, cols: Int
        let oursSeconds: Double, oursCost: Double
        let scipySeconds: Double?, scipyCost: Double?
        var ratio: Double? { scipySeconds.map { $0 / oursSeconds } }
        var agree: Bool? {
            guard let s = scipyCost else { return nil }
            return Swift.abs(s - oursCost) <= 1e-12 * max(Swift.abs(s), Swift.abs(oursCost), 1e-300)
        }
    }

    mutating func run() throws {
        let cases = Self.cases(seed: seed)
        let folder: String
        if let keep {
            folder = keep
        } else {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("dino-gen-bench-assign-\(UUID().uuidString)").path
        }
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw CommandFailure("cannot create \(folder): \(error.localizedDescription)")
        }
        defer { if keep == nil { try? FileManager.default.removeItem(atPath: folder) } }
        for c in cases {
            let path = folder + "/" + c.name + ".npy"
            do { try NpyWriter.write(doubles: c.matrix.values, rows: c.matrix.rows, cols: c.matrix.cols, to: path) } catch {
                throw CommandFailure("cannot write \(path): \(error)")
            }
        }
        let scipy = ScipyTimer.run(folder: folder, names: cases.map(\.name), repeatCount: repeatCount)
        var rows: [Row] = []
        for c in cases {
            let (seconds, cost) = try Self.timeOurs(c, repeatCount: repeatCount)
            let theirs = scipy.results[c.name]
            rows.append(Row(name: c.name, kind: c.kind, rows: c.matrix.rows, cols: c.matrix.cols, oursSeconds: seconds, oursCost: cost,
                            scipySeconds: theirs?.seconds, scipyCost: theirs?.cost))
        }
        if json {
            for r in rows {
                var fields = ["\"matrix\": \"\(r.name)\"", "\"kind\": \"\(r.kind)\"", "\"rows\": \(r.rows)", "\"cols\": \(r.cols)",
                              "\"ours_ms\": " + JSONNumber.text(r.oursSeconds * 1000), "\"ours_cost\": " + JSONNumber.text(r.oursCost)]
                if let s = r.scipySeconds, let c = r.scipyCost, let ratio = r.ratio, let agree = r.agree {
                    fields += ["\"scipy_ms\": " + JSONNumber.text(s * 1000), "\"scipy_cost\": " + JSONNumber.text(c),
                               "\"ratio\": " + JSONNumber.text(ratio), "\"costs_agree\": \(agree)"]
                }
                print("{" + fields.joined(separator: ", ") + ", \"repeat\": \(repeatCount)}")
            }
            if let note = scipy.note { FileHandle.standardError.write(note + "\n") }
            return
        }
        print("assignment solver vs scipy.optimize.linear_sum_assignment (median of \(repeatCount) runs; ratio = scipy / ours)")
        print("shape        kind      ours ms    scipy ms   ratio   costs agree")
        for r in rows {
            let shape = "\(r.rows)×\(r.cols)".padding(toLength: 12, withPad: " ", startingAt: 0)
            let kind = r.kind.padding(toLength: 8, withPad: " ", startingAt: 0)
            var line = "\(shape) \(kind) " + String(format: "%9.4f", r.oursSeconds * 1000)
            if let s = r.scipySeconds, let ratio = r.ratio, let agree = r.agree {
                line += String(format: "  %9.4f  %6.2f×  ", s * 1000, ratio) + (agree ? "yes" : "NO (\(r.oursCost) vs \(r.scipyCost ?? .nan))")
            } else {
                line += "          —       —   —"
            }
            print(line)
        }
        if let note = scipy.note { print(note) }
    }

    /// The benchmark matrices: DINO-like from the real cost kernel, then square uniform random.
    static func cases(seed: UInt64) -> [Case] {
        var cases: [Case] = []
        let criterion = Criterion(options: CriterionOptions())
        for t in [1, 10, 30, 100] {
            let input = CriterionInput.synthetic(batch: 1, seed: seed, targets: t)
            // the kernel lays the matrix out target by target (T × 900); upstream hands scipy 900 × T
            let m = criterion.costMatrices(input)[0]
            let queriesByTargets = (0..<(m.rows * m.cols)).map { k in m.values[(k % m.rows) * m.cols + k / m.rows] }
            cases.append(Case(name: "dino_900x\(t)", kind: "DINO", matrix: CostMatrix(rows: m.cols, cols: m.rows, values: queriesByTargets)))
        }
        var random = SplitMix64(seed: seed)
        for n in [100, 500, 1000] {
            let values = (0..<(n * n)).map { _ in random.unit() }
            cases.append(Case(name: "uniform_\(n)x\(n)", kind: "uniform", matrix: CostMatrix(rows: n, cols: n, values: values)))
        }
        return cases
    }

    /// The median time of our solver on `c` (after one warm-up run) and the cost it finds.
    static func timeOurs(_ c: Case, repeatCount: Int) throws -> (Double, Double) {
        let first: Assignment
        do { first = try AssignmentSolver.solve(c.matrix) } catch { throw CommandFailure("\(c.name): \(error)") }
        var seconds: [Double] = []
        for _ in 0..<repeatCount {
            let start = Clock.now()
            _ = try? AssignmentSolver.solve(c.matrix)
            seconds.append(Clock.now() - start)
        }
        return (Clock.median(seconds), first.cost)
    }
}

/// Times scipy's `linear_sum_assignment` on .npy files in one python3 process.
enum ScipyTimer {
    /// Per matrix name: the median seconds and the cost scipy found; `note` says why results are missing.
    struct Outcome {
        var results: [String: (seconds: Double, cost: Double)] = [:]
        var note: String?
    }

    static let script = """
        import json, sys, time
        try:
            import numpy as np
            from scipy.optimize import linear_sum_assignment
        except Exception as e:
            print(json.dumps({"error": "python3 has no scipy/numpy (%s)" % e})); sys.exit(0)
        folder, repeat, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
        for name in names:
            c = np.load(folder + "/" + name + ".npy")
            r, k = linear_sum_assignment(c)
            times = []
            for _ in range(repeat):
                t = time.perf_counter(); linear_sum_assignment(c); times.append(time.perf_counter() - t)
            times.sort()
            n = len(times)
            median = times[n // 2] if n % 2 else (times[n // 2 - 1] + times[n // 2]) / 2
            print(json.dumps({"name": name, "seconds": median, "cost": float(c[r, k].sum())}))
            sys.stdout.flush()
        """

    static func run(folder: String, names: [String], repeatCount: Int) -> Outcome {
        var outcome = Outcome()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, folder, String(repeatCount)] + names
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do { try process.run() } catch {
            outcome.note = "note: python3 could not be started (\(error.localizedDescription)); scipy column skipped"
            return outcome
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        _ = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { continue }
            if let error = object["error"] as? String { outcome.note = "note: \(error); scipy column skipped"; continue }
            if let name = object["name"] as? String, let s = object["seconds"] as? Double, let c = object["cost"] as? Double {
                outcome.results[name] = (s, c)
            }
        }
        if outcome.results.isEmpty && outcome.note == nil {
            outcome.note = process.terminationStatus == 127
                ? "note: python3 was not found; scipy column skipped"
                : "note: python3 with scipy gave no results (exit \(process.terminationStatus)); scipy column skipped"
        }
        return outcome
    }
}
