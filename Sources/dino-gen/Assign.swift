import ArgumentParser
import Assignment
import Foundation
import TensorIO

/// `dino-gen assign`: solves one assignment problem read from a file.
struct Assign: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Solve one assignment problem (a minimum-cost matching) from a file.",
        discussion: """
            FILE holds one 2-D cost matrix, F32 or F64: a .npy file, or a .safetensors (or .npz) file with
            exactly one tensor. +inf marks a forbidden pair; NaN and -inf are errors. Prints the min(rows, cols)
            pairs sorted by row and the total cost, as scipy.optimize.linear_sum_assignment would.

            Examples:
              dino-gen assign cost.npy
              dino-gen assign cost.safetensors --json --repeat 50
            """)

    @Argument(help: "The cost matrix (.npy, or .safetensors with exactly one 2-D tensor).")
    var file: String
    @Flag(help: "Print {\"rows\": [...], \"cols\": [...], \"cost\": x} (and the median time with --repeat).")
    var json = false
    @Option(name: .customLong("repeat"), help: "Solve N times and also report the median solve time.")
    var repeatCount: Int?

    func validate() throws {
        if let n = repeatCount, n < 1 { throw ValidationError("--repeat must be at least 1") }
    }

    mutating func run() throws {
        let problem = try CostMatrixFile.read(file)
        let solution: Assignment
        do { solution = try AssignmentSolver.solve(problem.matrix) } catch { throw CommandFailure("\(problem.label): \(error)") }
        var median: Double?
        if let n = repeatCount {
            var seconds: [Double] = []
            seconds.reserveCapacity(n)
            for _ in 0..<n {
                let start = Clock.now()
                _ = try? AssignmentSolver.solve(problem.matrix)
                seconds.append(Clock.now() - start)
            }
            median = Clock.median(seconds)
        }
        if json {
            var text = "{\"rows\": [" + solution.rows.map(String.init).joined(separator: ", ") + "], \"cols\": ["
                + solution.cols.map(String.init).joined(separator: ", ") + "], \"cost\": " + JSONNumber.text(solution.cost)
            if let median { text += ", \"median_ms\": " + JSONNumber.text(median * 1000) + ", \"repeat\": \(repeatCount ?? 1)" }
            print(text + "}")
            return
        }
        let m = problem.matrix
        print("\(problem.label): \(m.rows)×\(m.cols), \(solution.rows.count) pairs")
        print("  row    col  cost")
        for (r, c) in zip(solution.rows, solution.cols) {
            print(String(format: "%5d  %5d  ", r, c) + "\(m.values[r * m.cols + c])")
        }
        print("total cost: \(solution.cost)")
        if let median, let n = repeatCount { print(String(format: "median solve time: %.4f ms over %d runs", median * 1000, n)) }
    }
}

/// Reads the single 2-D float matrix of a tensor file, with errors that name the file and tensor.
enum CostMatrixFile {
    /// The matrix and a label for messages (`FILE: tensor 'NAME'`).
    static func read(_ path: String) throws -> (matrix: CostMatrix, label: String) {
        let file: TensorFile
        do { file = try TensorFile.open(path: path) } catch { throw CommandFailure("\(error)") }
        guard file.names.count == 1, let view = file[file.names[0]] else {
            let listed = file.names.prefix(5).map { "'\($0)'" }.joined(separator: ", ") + (file.names.count > 5 ? ", …" : "")
            throw CommandFailure("\(path): expected exactly one tensor (the cost matrix), found \(file.names.count)"
                                 + (file.names.isEmpty ? "" : ": \(listed)"))
        }
        let label = "\(path): tensor '\(view.name)'"
        guard view.dtype == .f32 || view.dtype == .f64 else {
            throw CommandFailure("\(label): dtype \(view.dtype.rawValue) is not supported (F32 or F64 needed)")
        }
        guard view.shape.count == 2 else {
            throw CommandFailure("\(label): a cost matrix must be 2-D, this one has shape [\(view.shape.map(String.init).joined(separator: ", "))]")
        }
        let values: [Double]
        do { values = try view.float64Array() } catch { throw CommandFailure("\(error)") }
        return (CostMatrix(rows: view.shape[0], cols: view.shape[1], values: values), label)
    }
}

/// Monotonic wall-clock time.
enum Clock {
    /// Seconds since an arbitrary fixed point.
    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// The median of `values` (the mean of the middle two for an even count); 0 when empty.
    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let s = values.sorted(), k = s.count / 2
        return s.count % 2 == 1 ? s[k] : (s[k - 1] + s[k]) / 2
    }
}

/// JSON numbers that read back to the same double.
enum JSONNumber {
    /// `v` as JSON (`null` when not finite).
    static func text(_ v: Double) -> String {
        guard v.isFinite else { return "null" }
        if v == v.rounded(), Swift.abs(v) < 1e15 { return String(format: "%.1f", v) }
        return "\(v)"
    }
}
