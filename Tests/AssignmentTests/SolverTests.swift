import Criterion
import XCTest

@testable import Assignment

/// The solver against independent references: every optimum is compared with brute force or the
/// textbook Hungarian algorithm, never with stored numbers.
final class SolverTests: XCTestCase {
    /// Solves through the public API and checks the answer against `expected` (nil: infeasible).
    /// `firstList` forces the length of the first, verified candidate lists (exercising the checks
    /// and the retries behind the public API). Returns false (after recording failures) on a mismatch.
    @discardableResult
    func check(rows: Int, cols: Int, values: [Double], expected: Double?, firstList: Int? = nil, _ context: @autoclosure () -> String,
               file: StaticString = #filePath, line: UInt = #line) -> Bool {
        let outcome: Result<Assignment, AssignmentError>
        do {
            let answer = try values.withUnsafeBufferPointer { buffer -> Assignment in
                if let firstList {
                    return try Solver.solve(Orientation(costs: buffer.baseAddress!, rows: rows, cols: cols), firstList: firstList)
                }
                return try AssignmentSolver.solve(CostMatrix(rows: rows, cols: cols, values: values))
            }
            outcome = .success(answer)
        } catch let error as AssignmentError {
            outcome = .failure(error)
        } catch {
            XCTFail("unexpected error \(error): \(context())", file: file, line: line)
            return false
        }
        guard let expected else {
            if case .failure(.infeasible) = outcome { return true }
            XCTFail("expected infeasible, got \(outcome): \(context())", file: file, line: line)
            return false
        }
        guard case .success(let a) = outcome else {
            XCTFail("expected cost \(expected), got \(outcome): \(context())", file: file, line: line)
            return false
        }
        let problems = Self.validate(a, rows: rows, cols: cols, values: values)
        if !problems.isEmpty {
            XCTFail("invalid answer (\(problems.joined(separator: "; "))): \(context())", file: file, line: line)
            return false
        }
        var magnitude = 0.0
        for (r, c) in zip(a.rows, a.cols) { magnitude += abs(values[r * cols + c]) }
        let scale = max(abs(a.cost), abs(expected), magnitude)
        if abs(a.cost - expected) > 1e-12 * scale {
            XCTFail("cost \(a.cost) ≠ optimum \(expected) (difference \(a.cost - expected)): \(context())", file: file, line: line)
            return false
        }
        return true
    }

    /// What is wrong with an answer's pairs: their count, order, ranges, repeats, and the reported cost.
    static func validate(_ a: Assignment, rows: Int, cols: Int, values: [Double]) -> [String] {
        var problems: [String] = []
        let n = min(rows, cols)
        if a.rows.count != n || a.cols.count != n { problems.append("\(a.rows.count) pairs, not \(n)") }
        if zip(a.rows, a.rows.dropFirst()).contains(where: { $0 >= $1 }) { problems.append("rows not strictly ascending") }
        if a.rows.contains(where: { $0 < 0 || $0 >= rows }) || a.cols.contains(where: { $0 < 0 || $0 >= cols }) {
            problems.append("index out of range")
            return problems
        }
        if Set(a.cols).count != a.cols.count { problems.append("a column is used twice") }
        var total = 0.0
        for (r, c) in zip(a.rows, a.cols) { total += values[r * cols + c] }
        if total != a.cost { problems.append("reported cost \(a.cost) but the pairs cost \(total)") }
        if !total.isFinite { problems.append("a forbidden pair") }
        return problems
    }

    /// ≥ 6 000 small problems (each side 0 … 8) of every family against exhaustive search, each
    /// solved as given and with forced one-, two- and three-long first lists.
    func testAgainstBruteForce() {
        var random = TestRandom(seed: 1)
        var instances = 0, runs = 0, infeasible = 0
        for round in 0..<700 {
            for family in Family.allCases {
                let rows = random.int(0...8), cols = random.int(0...8)
                let values = family.matrix(rows: rows, cols: cols, &random)
                let expected = BruteForce.optimum(rows: rows, cols: cols, values: values)
                instances += 1
                if expected == nil { infeasible += 1 }
                let context = "brute force round \(round), \(family), \(rows)×\(cols): \(values)"
                // the two references agree, so each of these instances is checked against both
                let hungarian = ReferenceHungarian.optimum(rows: rows, cols: cols, values: values)
                switch (expected, hungarian) {
                case (nil, nil): break
                case let (e?, h?) where abs(e - h) <= 1e-12 * max(1, values.filter(\.isFinite).map(abs).reduce(0, +)): break
                default: XCTFail("the references disagree (\(String(describing: expected)) vs \(String(describing: hungarian))): \(context)"); return
                }
                if !check(rows: rows, cols: cols, values: values, expected: expected, context) { return }
                runs += 1
                if min(rows, cols) >= 2 {
                    let k = random.int(1...3)
                    if !check(rows: rows, cols: cols, values: values, expected: expected, firstList: k, context + ", first lists \(k)") { return }
                    runs += 1
                }
            }
        }
        XCTAssertGreaterThanOrEqual(instances, 6000)
        XCTAssertGreaterThan(infeasible, 300)
        print("brute force: \(instances) instances (\(infeasible) infeasible), \(runs) solves")
    }

    /// ≥ 4 000 problems up to 40 × 120 (square, wide, tall) of every family against the reference
    /// Hungarian algorithm, as given and with forced short first lists.
    func testAgainstReferenceHungarian() {
        var random = TestRandom(seed: 2)
        var instances = 0, runs = 0, infeasible = 0
        for round in 0..<460 {
            for family in Family.allCases {
                let shape = random.below(4)
                let small = random.int(1...(round % 10 == 0 ? 40 : 16))
                let (rows, cols): (Int, Int)
                switch shape {
                case 0: (rows, cols) = (small, small)                              // square
                case 1: (rows, cols) = (small, small + random.int(1...(3 * small + 8)))  // wide
                case 2: (rows, cols) = (small + random.int(1...(3 * small + 8)), small)  // tall (DINO's orientation)
                default: (rows, cols) = (random.int(1...24), random.int(1...24))
                }
                let values = family.matrix(rows: rows, cols: cols, &random)
                let expected = ReferenceHungarian.optimum(rows: rows, cols: cols, values: values)
                instances += 1
                if expected == nil { infeasible += 1 }
                let context = "reference round \(round), \(family), \(rows)×\(cols)"
                if !check(rows: rows, cols: cols, values: values, expected: expected, context) { return }
                runs += 1
                if min(rows, cols) >= 3 {
                    let k = [1, 2, 4][random.below(3)]
                    if !check(rows: rows, cols: cols, values: values, expected: expected, firstList: k, context + ", first lists \(k)") { return }
                    runs += 1
                }
            }
        }
        XCTAssertGreaterThanOrEqual(instances, 4000)
        XCTAssertGreaterThan(infeasible, 200)
        print("reference Hungarian: \(instances) instances (\(infeasible) infeasible), \(runs) solves")
    }

    /// DINO-like matrices from the real matching-cost kernel (every matched head of synthetic batches,
    /// T = 0 … 100 targets for 900 queries), as given and transposed, against the reference.
    func testDINOLikeMatrices() {
        let criterion = Criterion(options: CriterionOptions())
        var instances = 0
        for (seed, targets) in [(1, 0), (2, 1), (3, 2), (4, 5), (5, 10), (6, 30), (7, 60), (8, 100)] as [(UInt64, Int)] {
            let matrices = criterion.costMatrices(CriterionInput.synthetic(batch: 1, seed: seed, targets: targets))
            XCTAssertEqual(matrices.count, 7)
            for (head, m) in matrices.enumerated() where head == 0 || targets <= 30 || head == 6 {
                let expected = ReferenceHungarian.optimum(rows: m.rows, cols: m.cols, values: m.values)
                XCTAssertNotNil(expected)
                check(rows: m.rows, cols: m.cols, values: m.values, expected: expected, "DINO seed \(seed), T \(targets), head \(head)")
                var transposed = [Double](repeating: 0, count: m.values.count)
                for i in 0..<m.rows { for j in 0..<m.cols { transposed[j * m.rows + i] = m.values[i * m.cols + j] } }
                check(rows: m.cols, cols: m.rows, values: transposed, expected: expected, "DINO seed \(seed), T \(targets), head \(head), transposed")
                instances += 1
            }
        }
        print("DINO-like: \(instances) matrices")
    }

    /// Square problems of 256 and more, where the auction scales ε (also with a huge dynamic range,
    /// where inflated prices would cost precision), against the reference.
    func testScaledAuction() throws {
        var random = TestRandom(seed: 7)
        for (family, n) in [(Family.uniform, 300), (.dynamicRange, 256), (.mixedSign, 260), (.smallIntegers, 256)] {
            let values = family.matrix(rows: n, cols: n, &random)
            // The first try's lists make the auction scale ε (except where every kept cost is the
            // same: the integers' zeros).
            let arena = Arena()
            let scales = try values.withUnsafeBufferPointer { buffer -> Bool in
                let o = Orientation(costs: buffer.baseAddress!, rows: n, cols: n)
                let problem = try Solver.lists(o, k: Solver.firstListLength(bidders: n, objects: n), truncated: true,
                                               validated: false, arena: arena)
                return !Auction.schedule(for: problem).isEmpty
            }
            XCTAssertEqual(scales, family != .smallIntegers, "\(family) \(n)×\(n)")
            let expected = ReferenceHungarian.optimum(rows: n, cols: n, values: values)
            check(rows: n, cols: n, values: values, expected: expected, "scaled \(family) \(n)×\(n)")
        }
    }

    /// Larger square and near-square problems against the reference.
    func testLargerProblems() {
        var random = TestRandom(seed: 3)
        let cases: [(Family, Int, Int)] = [
            (.uniform, 80, 80), (.smallIntegers, 90, 90), (.uniform, 100, 100), (.mixedSign, 70, 70), (.duplicated, 64, 64),
            (.fewForbidden, 72, 72), (.dynamicRange, 80, 80), (.negative, 66, 66), (.uniform, 70, 140), (.smallIntegers, 150, 75),
            (.manyForbidden, 64, 64), (.allEqual, 64, 64),
        ]
        for (family, rows, cols) in cases {
            let values = family.matrix(rows: rows, cols: cols, &random)
            let expected = ReferenceHungarian.optimum(rows: rows, cols: cols, values: values)
            check(rows: rows, cols: cols, values: values, expected: expected, "larger \(family) \(rows)×\(cols)")
            check(rows: rows, cols: cols, values: values, expected: expected, firstList: 2, "larger \(family) \(rows)×\(cols), first lists 2")
        }
    }

    /// Empty shapes give no pairs and cost 0.
    func testEmptyShapes() throws {
        for (rows, cols) in [(0, 0), (0, 5), (7, 0)] {
            let a = try AssignmentSolver.solve(CostMatrix(rows: rows, cols: cols, values: []))
            XCTAssertEqual(a.rows, [])
            XCTAssertEqual(a.cols, [])
            XCTAssertEqual(a.cost, 0)
        }
    }

    /// NaN and −∞ are reported at the first such entry in row-major order, whatever else is wrong.
    func testInvalidEntries() {
        var random = TestRandom(seed: 4)
        for round in 0..<400 {
            let rows = random.int(1...30), cols = random.int(1...30)
            var values = Family.allCases[round % Family.allCases.count].matrix(rows: rows, cols: cols, &random)
            for _ in 0..<random.int(1...3) {
                values[random.below(values.count)] = random.chance(0.5) ? .nan : -.infinity
            }
            let first = values.firstIndex { $0.isNaN || $0 == -.infinity }!
            do {
                _ = try AssignmentSolver.solve(CostMatrix(rows: rows, cols: cols, values: values))
                XCTFail("no error for a bad entry at \(first) in \(rows)×\(cols)")
            } catch let AssignmentError.invalidEntry(row, col, value) {
                XCTAssertEqual(row * cols + col, first, "\(rows)×\(cols)")
                XCTAssertEqual(value.isNaN, values[first].isNaN)
            } catch {
                XCTFail("unexpected \(error)")
            }
        }
    }

    /// `solveBatch` gives what solving one by one gives, in order, failures included.
    func testBatchEqualsOneByOne() {
        var random = TestRandom(seed: 5)
        var problems: [CostMatrix] = []
        for k in 0..<120 {
            let family = Family.allCases[k % Family.allCases.count]
            let rows = random.int(0...40), cols = random.int(0...40)
            var values = family.matrix(rows: rows, cols: cols, &random)
            if k % 17 == 3 && !values.isEmpty { values[random.below(values.count)] = .nan }
            problems.append(CostMatrix(rows: rows, cols: cols, values: values))
        }
        let single = problems.map { p -> Result<Assignment, AssignmentError> in
            Result { try AssignmentSolver.solve(p) }.mapError { $0 as! AssignmentError }
        }
        for threads in [1, 2, 5] {
            let batch = AssignmentSolver.solveBatch(problems, threads: threads)
            XCTAssertEqual(batch.count, problems.count)
            for (k, (a, b)) in zip(batch, single).enumerated() {
                switch (a, b) {
                case (.success(let x), .success(let y)): XCTAssertEqual(x, y, "problem \(k), \(threads) threads")
                case (.failure(let x), .failure(let y)): XCTAssertEqual(x, y, "problem \(k), \(threads) threads")
                default: XCTFail("problem \(k), \(threads) threads: \(a) vs \(b)")
                }
            }
        }
        XCTAssertTrue(AssignmentSolver.solveBatch([], threads: 4).isEmpty)
    }

    /// The buffer entry point answers as the matrix one does.
    func testBufferAPIMatchesMatrixAPI() throws {
        var random = TestRandom(seed: 6)
        for _ in 0..<50 {
            let rows = random.int(1...20), cols = random.int(1...20)
            let values = Family.uniform.matrix(rows: rows, cols: cols, &random)
            let a = try AssignmentSolver.solve(CostMatrix(rows: rows, cols: cols, values: values))
            let b = try values.withUnsafeBufferPointer { try AssignmentSolver.solve(rows: rows, cols: cols, costs: $0) }
            XCTAssertEqual(a, b)
        }
    }
}
