import ArgumentParser
import Criterion
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `dino-gen bench`: stage timings of the criterion and its distance from the hardware floor.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time the criterion's stages on one input and compare it with the floor pass.",
        discussion: """
            Times, inside this process, the load of FILE (mapping and validation), the whole criterion on the
            loaded input (matching and every loss), its stages (cost matrices, assignment, label losses, box
            losses, mask losses), and the floor: one vectorized pass of the focal term over every logit of
            every head, the least any implementation of loss_ce must do. Every figure is the median of
            --repeat runs after --warmup runs. With no FILE, the built-in W0-shaped example (written to a
            temporary file, so that the load is timed as for a real one; --batch sets its batch size).

            Examples:
              dino-gen bench                                  # the built-in W0 example
              dino-gen bench step.safetensors --threads 1 --repeat 50
              dino-gen bench --batch 16 --json
            """)

    @Argument(help: "The input file (.safetensors or .npz). None: the built-in example batch.")
    var file: String?
    @Option(help: "Timed runs of each figure (the median is reported).") var `repeat` = 20
    @Option(help: "Untimed runs before timing.") var warmup = 3
    @Option(help: "Without FILE: the example's batch size.") var batch = 2
    @Flag(help: "One JSON object instead of the table.") var json = false
    @OptionGroup var criterion: CriterionFlags

    func validate() throws {
        guard self.repeat >= 1 else { throw ValidationError("--repeat must be at least 1") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        if file != nil && batch != 2 { throw ValidationError("--batch applies to the built-in example only, not to FILE") }
    }

    mutating func run() throws {
        var temporary: URL? = nil
        defer { if let folder = temporary { try? FileManager.default.removeItem(at: folder) } }
        let path: String
        if let file {
            path = file
        } else {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dino-gen-bench-\(getpid())")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            temporary = folder
            path = folder.appendingPathComponent("example.safetensors").path
            do { try CriterionInput.writeSynthetic(to: path, batch: batch) } catch { throw CommandFailure("\(error)") }
        }
        let engine = Criterion(options: criterion.options)
        func load() throws -> CriterionInput {
            do { return try CriterionInput.load(path: path) } catch { throw CommandFailure("\(error)") }
        }

        var input = try load()
        let loadSeconds = try Self.median(repeat: self.repeat, warmup: warmup) { input = try load() }

        // the floor and the criterion alternate, run by run, so that both see the machine in the same state
        var floorSum = 0.0
        var floorRuns: [Double] = []
        var stages: [String: [Double]] = [:]
        var order: [String] = []
        var wholeRuns: [Double] = []
        var result: CriterionResult? = nil
        for run in 0..<(warmup + self.repeat) {
            let floorStart = Self.now()
            floorSum += engine.focalFloor(input)
            let floorEnd = Self.now()
            do { result = try engine.evaluate(input) } catch { throw CommandFailure("\(input.source): \(error)") }
            let seconds = Self.now() - floorEnd
            guard run >= warmup, let result else { continue }
            floorRuns.append(floorEnd - floorStart)
            wholeRuns.append(seconds)
            for (stage, s) in result.stageSeconds {
                if stages[stage] == nil { order.append(stage); stages[stage] = [] }
                stages[stage]!.append(s)
            }
        }
        let whole = Self.median(wholeRuns), floorSeconds = Self.median(floorRuns)

        let report = Report(
            input: file ?? CriterionInput.syntheticName, threads: engine.threads, repeat: self.repeat, batch: input.batch,
            fileBytes: (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0,
            stages: [("load", loadSeconds)] + order.map { ($0, Self.median(stages[$0]!)) } + [("criterion", whole)],
            floor: floorSeconds, peakResidentBytes: Self.peakResidentBytes(), total: result?.total ?? .nan,
            problems: result?.problems ?? 0, wholeMatrices: result?.wholeMatrices ?? 0)
        print(json ? report.json : report.table)
    }

    /// What `bench` measured; every time is a median in seconds.
    struct Report {
        let input: String
        let threads: Int
        let `repeat`: Int
        let batch: Int
        let fileBytes: Int
        let stages: [(name: String, seconds: Double)]
        let floor: Double
        let peakResidentBytes: Int
        let total: Double
        /// Assignment problems, and those solved on their whole cost matrix (the last run's).
        let problems: Int, wholeMatrices: Int

        var criterion: Double { stages.last?.seconds ?? .nan }

        var json: String {
            let stageText = stages.map { "\(OutputFormat.quoted($0.name)): \(OutputFormat.number($0.seconds))" }.joined(separator: ", ")
            return "{\"input\": \(OutputFormat.quoted(input)), \"threads\": \(threads), \"repeat\": \(self.repeat), \"batch\": \(batch), "
                + "\"file_bytes\": \(fileBytes), \"stages\": {\(stageText)}, \"floor\": \(OutputFormat.number(floor)), "
                + "\"criterion_over_floor\": \(OutputFormat.number(criterion / floor)), \"peak_rss_bytes\": \(peakResidentBytes), "
                + "\"problems\": \(problems), \"whole_matrices\": \(wholeMatrices), \"loss\": \(OutputFormat.number(total))}"
        }

        var table: String {
            var lines = ["\(input): batch \(batch), \(threads) thread\(threads == 1 ? "" : "s"), median of \(self.repeat) runs"]
            let width = max(stages.map(\.name.count).max() ?? 0, "floor (focal pass)".count)
            func row(_ name: String, _ seconds: Double, _ note: String = "") -> String {
                "  " + name.padding(toLength: width, withPad: " ", startingAt: 0) + String(format: "  %9.3f ms", seconds * 1000) + note
            }
            for (name, seconds) in stages where name != "criterion" { lines.append(row(name, seconds)) }
            lines.append(row("criterion", criterion, "   (matching and every loss, without the load)"))
            lines.append(row("floor (focal pass)", floor, String(format: "   criterion / floor = %.2f", criterion / floor)))
            lines.append("  assignment problems \(problems), of which \(wholeMatrices) solved on the whole cost matrix")
            lines.append(String(format: "  peak resident memory %.1f MB; input file %.1f MB", Double(peakResidentBytes) / 1e6, Double(fileBytes) / 1e6))
            return lines.joined(separator: "\n")
        }
    }

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// The median of `values` (the mean of the middle two for an even count).
    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    /// The median seconds of `body` over `repeat` runs after `warmup` untimed ones.
    static func median(repeat count: Int, warmup: Int, _ body: () throws -> Void) rethrows -> Double {
        for _ in 0..<warmup { try body() }
        var runs: [Double] = []
        for _ in 0..<count {
            let start = now()
            try body()
            runs.append(now() - start)
        }
        return median(runs)
    }

    /// The process's peak resident set size so far, in bytes.
    static func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }
}
