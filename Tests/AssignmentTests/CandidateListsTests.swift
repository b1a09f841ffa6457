import Criterion
import XCTest

@testable import Assignment

/// `AssignmentSolver.solve(candidates:)` against independent references: the lists are made as the
/// criterion's kernels make them (each bidder's K objects of smallest lower bound, the bound the
/// (K+1)-th smallest lower bound) from a full exact matrix whose optimum brute force or the reference
/// Hungarian algorithm knows. An answer must be a valid assignment of that optimum; nil is allowed
/// (the caller then solves the whole matrix), but not in the easy regimes, where it is counted.
final class CandidateListsTests: XCTestCase {
    /// Lists of length k from `exact` (n × m, row-major) and lower bounds `lower` of its entries:
    /// each row's k objects of smallest lower bound (the lower index first among equal ones), their
    /// exact costs, and the (k+1)-th smallest lower bound (+∞ when k = m).
    static func lists(n: Int, m: Int, k: Int, exact: [Double], lower: [Double]) -> CandidateLists {
        var candidates: [Int32] = [], costs: [Double] = [], bounds: [Double] = []
        for i in 0..<n {
            // The k + 1 smallest (lower bound, object), ascending, by insertion in object order.
            var best: [(Double, Int)] = []
            for j in 0..<m {
                let x = lower[i * m + j]
                if best.count == k + 1 {
                    if !(x < best[k].0) { continue }
                    best.removeLast()
                }
                var p = best.count
                best.append((x, j))
                while p > 0 && best[p - 1].0 > x { best[p] = best[p - 1]; p -= 1 }
                best[p] = (x, j)
            }
            for (_, j) in best.prefix(k) {
                candidates.append(Int32(j))
                costs.append(exact[i * m + j])
            }
            bounds.append(best.count > k ? best[k].0 : .infinity)
        }
        return CandidateLists(bidders: n, objects: m, listLength: k, candidates: candidates, costs: costs, bounds: bounds)
    }

    /// Lower bounds `exact − slack` with slack drawn by `regime`: 0 (exact), up to `scale`·0.01, up
    /// to `scale`·10, a mix of these three entry by entry, or up to `scale`·0.3.
    static func lower(_ exact: [Double], regime: Int, scale: Double, _ random: inout TestRandom) -> [Double] {
        exact.map { c -> Double in
            let r = regime == 3 ? random.below(3) : regime
            switch r {
            case 0: return c
            case 1: return c - 0.01 * scale * random.unit()
            case 2: return c - 10 * scale * random.unit()
            default: return c - 0.3 * scale * random.unit()
            }
        }
    }

    /// True when some bidder's list is not its k cheapest exact costs, or holds a cost above its bound.
    static func unusual(_ lists: CandidateLists, exact: [Double]) -> Bool {
        let n = lists.bidders, m = lists.objects, k = lists.listLength
        return lists.withBuffers { _, costs, bounds in
            (0..<n).contains { i in
                let list = costs[(i * k)..<(i * k + k)]
                // Not the k cheapest: k costs of the row lie below the list's largest.
                let largest = list.max()!
                return largest > bounds[i] || exact[(i * m)..<(i * m + m)].lazy.filter { $0 < largest }.count >= k
            }
        }
    }

    /// Checks an answer against the optimum: valid pairs (rows 0 ..< n in order, distinct objects,
    /// the reported cost their sum) and the optimal total. False after recording a failure.
    @discardableResult
    func check(_ a: Assignment, n: Int, m: Int, exact: [Double], optimum: Double, _ context: @autoclosure () -> String,
               file: StaticString = #filePath, line: UInt = #line) -> Bool {
        let problems = SolverTests.validate(a, rows: n, cols: m, values: exact)
        if !problems.isEmpty {
            XCTFail("invalid answer (\(problems.joined(separator: "; "))): \(context())", file: file, line: line)
            return false
        }
        if a.rows != Array(0..<n) {
            XCTFail("rows \(a.rows), not 0 ..< \(n): \(context())", file: file, line: line)
            return false
        }
        var magnitude = 0.0
        for (r, c) in zip(a.rows, a.cols) { magnitude += abs(exact[r * m + c]) }
        if abs(a.cost - optimum) > 1e-12 * max(abs(a.cost), abs(optimum), magnitude) {
            XCTFail("cost \(a.cost) ≠ optimum \(optimum) (difference \(a.cost - optimum)): \(context())", file: file, line: line)
            return false
        }
        return true
    }

    /// Well-separated costs: each row a random permutation of 0, 0.05, 0.1, … plus noise below 0.001,
    /// so that slack up to 0.01 cannot reorder a row's cheapest objects.
    static func separated(rows n: Int, cols m: Int, _ random: inout TestRandom) -> [Double] {
        var values: [Double] = []
        for _ in 0..<n {
            for rank in (0..<m).shuffled(using: &random) { values.append(0.05 * Double(rank) + 0.001 * random.unit()) }
        }
        return values
    }

    /// ≥ 14 000 small problems (1 … 8 bidders, up to 12 objects, every list length) of several
    /// families and slack regimes: against brute force where at most 6 720 assignments are to be
    /// enumerated (and then the reference Hungarian agrees), against the reference Hungarian
    /// otherwise. With exact lower bounds and lists of at least n objects (which then hold an
    /// optimal assignment), nearly every answer must come back.
    func testSmallAgainstReferences() {
        var random = TestRandom(seed: 11)
        let families: [Family] = [.uniform, .smallIntegers, .duplicated, .allEqual, .dynamicRange, .negative, .mixedSign]
        var instances = 0, answered = 0, easy = 0, easyAnswered = 0, enumerated = 0
        var unusual = 0  // answered though some list is not the cheapest or exceeds its bound
        for round in 0..<2000 {
            for family in families {
                let n = random.int(1...8), m = random.int(n...12), k = random.int(1...m)
                let exact = family.matrix(rows: n, cols: m, &random)
                // Enumeration where it is cheap, otherwise (and always as a cross-check) the Hungarian.
                let hungarian = ReferenceHungarian.optimum(rows: n, cols: m, values: exact)
                var reference = hungarian
                if (0..<n).reduce(1, { $0 * (m - $1) }) <= 6720 {
                    enumerated += 1
                    reference = BruteForce.optimum(rows: n, cols: m, values: exact)
                    guard let e = reference, let h = hungarian, abs(e - h) <= 1e-12 * max(1, exact.map(abs).reduce(0, +)) else {
                        XCTFail("the references disagree (\(String(describing: reference)) vs \(String(describing: hungarian)))"); return
                    }
                }
                guard let optimum = reference else {
                    XCTFail("a matrix of finite costs without an assignment"); return
                }
                let regime = random.below(4)
                let scale = max(1e-300, exact.map(abs).max()!)
                let lower = Self.lower(exact, regime: regime, scale: scale, &random)
                let lists = Self.lists(n: n, m: m, k: k, exact: exact, lower: lower)
                instances += 1
                let isEasy = regime == 0 && k >= n
                if isEasy { easy += 1 }
                guard let a = AssignmentSolver.solve(candidates: lists) else { continue }
                answered += 1
                if isEasy { easyAnswered += 1 }
                if Self.unusual(lists, exact: exact) { unusual += 1 }
                if !check(a, n: n, m: m, exact: exact, optimum: optimum,
                          "round \(round), \(family), \(n)×\(m), k \(k), regime \(regime): \(exact) / \(lower)") { return }
            }
        }
        XCTAssertGreaterThanOrEqual(instances, 14000)
        XCTAssertGreaterThan(enumerated, 7000)
        XCTAssertGreaterThan(answered, instances / 4)
        XCTAssertLessThan(answered, instances)  // loose bounds and short lists must fail sometimes
        XCTAssertGreaterThan(unusual, 500)
        XCTAssertGreaterThan(easy, 1000)
        XCTAssertGreaterThanOrEqual(Double(easyAnswered), 0.95 * Double(easy))
        print("candidate lists, small: \(instances) instances (\(enumerated) also enumerated), \(instances - answered) nil (\(unusual) answered with lists not the cheapest or above their bound); exact bounds with k ≥ n: \(easy), \(easy - easyAnswered) nil")
    }

    /// DINO's matching costs (the real kernel on synthetic batches, 1 … 40 targets × 900 queries,
    /// every matched head) and well-separated random costs of the same shapes, with lists of 4 (and
    /// 2 and 8), against the reference Hungarian. With slack at most 0.01 and lists of 4 at least 95%
    /// of either kind must be answered.
    func testDINOLikeAgainstReferenceHungarian() {
        let criterion = Criterion(options: CriterionOptions())
        var random = TestRandom(seed: 12)
        var matrices: [(CostMatrix, dino: Bool)] = []
        for seed in 0..<8 {
            let targets = [1, 2, 5, 12, 20, 29, 34, 40][seed]
            let heads = criterion.costMatrices(CriterionInput.synthetic(batch: 1, seed: UInt64(100 + seed), targets: targets))
            XCTAssertEqual(heads.count, 7)
            for (h, m) in heads.enumerated() where h % 2 == 0 || targets <= 12 {
                XCTAssertEqual(m.rows, targets)
                XCTAssertEqual(m.cols, 900)
                matrices.append((m, true))
            }
            for n in [random.int(1...40), random.int(1...40)] {
                matrices.append((CostMatrix(rows: n, cols: 900, values: Self.separated(rows: n, cols: 900, &random)), false))
            }
        }
        var instances = 0, answered = 0
        var tight = [0, 0], tightAnswered = [0, 0]  // separated, DINO
        var byRegime: [String: (Int, Int)] = [:], order: [String] = []  // instances, answered
        var unusual = 0  // answered though some list is not the cheapest or exceeds its bound
        for (index, (matrix, dino)) in matrices.enumerated() {
            let n = matrix.rows, m = matrix.cols, exact = matrix.values
            guard let optimum = ReferenceHungarian.optimum(rows: n, cols: m, values: exact) else {
                XCTFail("no reference optimum for matrix \(index)"); return
            }
            let span = exact.max()! - exact.min()!
            for regime in 0..<5 {
                for k in regime == 1 ? [4, 2, 8] : [4] {
                    let lower = Self.lower(exact, regime: regime, scale: regime == 1 || regime == 4 ? 1 : span, &random)
                    let lists = Self.lists(n: n, m: m, k: k, exact: exact, lower: lower)
                    instances += 1
                    let label = ["exact", "slack ≤ 0.01", "slack ≤ 10 span", "mixed", "slack ≤ 0.3"][regime] + ", k \(k)"
                    if byRegime[label] == nil { order.append(label) }
                    byRegime[label, default: (0, 0)].0 += 1
                    let isTight = regime <= 1 && k == 4
                    if isTight { tight[dino ? 1 : 0] += 1 }
                    guard let a = AssignmentSolver.solve(candidates: lists) else { continue }
                    answered += 1
                    byRegime[label]!.1 += 1
                    if Self.unusual(lists, exact: exact) { unusual += 1 }
                    if isTight { tightAnswered[dino ? 1 : 0] += 1 }
                    if !check(a, n: n, m: m, exact: exact, optimum: optimum, "matrix \(index) (\(n)×\(m)), regime \(regime), k \(k)") {
                        return
                    }
                }
            }
        }
        XCTAssertGreaterThanOrEqual(matrices.count, 60)
        XCTAssertGreaterThan(answered, instances / 2)
        XCTAssertLessThan(answered, instances)  // loose bounds must fail sometimes
        XCTAssertGreaterThan(unusual, 10)
        for kind in 0..<2 {
            XCTAssertGreaterThanOrEqual(tight[kind], 30)
            XCTAssertGreaterThanOrEqual(Double(tightAnswered[kind]), 0.95 * Double(tight[kind]), kind == 1 ? "DINO" : "separated")
        }
        print("candidate lists, DINO-like: \(instances) instances, \(instances - answered) nil; slack ≤ 0.01 with k = 4: DINO \(tight[1]), \(tight[1] - tightAnswered[1]) nil; separated \(tight[0]), \(tight[0] - tightAnswered[0]) nil")
        print("  \(unusual) answered with lists not the cheapest or above their bound; by regime: " + order.map { "\($0): \(byRegime[$0]!.0 - byRegime[$0]!.1) nil of \(byRegime[$0]!.0)" }.joined(separator: "; "))
    }

    /// A useless bound (−∞) for one bidder, or for all, never lets an answer through.
    func testUselessBoundGivesNil() {
        var random = TestRandom(seed: 13)
        var answeredBefore = 0
        for round in 0..<300 {
            let n = random.int(1...20), m = random.int((n + 1)...60), k = random.int(1...min(m - 1, 6))
            let exact = Family.uniform.matrix(rows: n, cols: m, &random)
            let lists = Self.lists(n: n, m: m, k: k, exact: exact, lower: exact)
            if AssignmentSolver.solve(candidates: lists) != nil { answeredBefore += 1 }
            var bounds = lists.withBuffers { _, _, b in Array(b) }
            if random.chance(0.5) { bounds[random.below(n)] = -.infinity } else { bounds = bounds.map { _ in -.infinity } }
            let (candidates, costs) = lists.withBuffers { c, x, _ in (Array(c), Array(x)) }
            let useless = CandidateLists(bidders: n, objects: m, listLength: k, candidates: candidates, costs: costs, bounds: bounds)
            XCTAssertNil(AssignmentSolver.solve(candidates: useless), "round \(round), \(n)×\(m), k \(k)")
        }
        XCTAssertGreaterThan(answeredBefore, 150)  // the same lists with their real bounds mostly succeed
    }

    /// Lists holding every object (bound +∞) are the whole problem: always answered, optimally.
    func testFullListsAlwaysAnswer() {
        var random = TestRandom(seed: 14)
        for round in 0..<300 {
            let family: Family = [.uniform, .smallIntegers, .allEqual, .mixedSign][round % 4]
            let n = random.int(1...6), m = random.int(n...8)
            let exact = family.matrix(rows: n, cols: m, &random)
            let optimum = BruteForce.optimum(rows: n, cols: m, values: exact)!
            // Any order of the objects, and any lower bounds: with k = m nothing is left out.
            let lower = Self.lower(exact, regime: 3, scale: 5, &random)
            let lists = Self.lists(n: n, m: m, k: m, exact: exact, lower: lower)
            guard let a = AssignmentSolver.solve(candidates: lists) else {
                XCTFail("nil for complete lists, round \(round), \(n)×\(m)"); return
            }
            check(a, n: n, m: m, exact: exact, optimum: optimum, "round \(round), \(family), \(n)×\(m)")
        }
    }

    /// The example of the documentation.
    func testDocumentationExample() throws {
        let lists = CandidateLists(bidders: 2, objects: 5, listLength: 2,
                                   candidates: [3, 0, 3, 4], costs: [0.2, 0.5, 0.1, 0.7], bounds: [1.0, 2.0])
        let a = try XCTUnwrap(AssignmentSolver.solve(candidates: lists))
        XCTAssertEqual(a.rows, [0, 1])
        XCTAssertEqual(a.cols, [0, 3])
        XCTAssertEqual(a.cost, 0.5 + 0.1)
    }

    /// No bidders: the empty assignment, whatever the objects.
    func testNoBidders() throws {
        for (m, k) in [(0, 0), (5, 0), (5, 2)] {
            let a = try XCTUnwrap(AssignmentSolver.solve(candidates: CandidateLists(
                bidders: 0, objects: m, listLength: k, candidates: [], costs: [], bounds: [])))
            XCTAssertEqual(a, Assignment(rows: [], cols: [], cost: 0))
        }
    }

    /// One bidder gets its cheapest candidate, when that is at most its bound.
    func testOneBidder() throws {
        let lists = CandidateLists(bidders: 1, objects: 900, listLength: 4,
                                   candidates: [17, 3, 600, 42], costs: [0.3, 0.25, 0.9, 0.4], bounds: [0.26])
        let a = try XCTUnwrap(AssignmentSolver.solve(candidates: lists))
        XCTAssertEqual(a, Assignment(rows: [0], cols: [3], cost: 0.25))
        // The bound below the cheapest candidate: an object left out may be cheaper.
        XCTAssertNil(AssignmentSolver.solve(candidates: CandidateLists(
            bidders: 1, objects: 900, listLength: 4, candidates: [17, 3, 600, 42], costs: [0.3, 0.25, 0.9, 0.4], bounds: [0.2])))
        // Equal to it: as good as anything left out.
        let equal = try XCTUnwrap(AssignmentSolver.solve(candidates: CandidateLists(
            bidders: 1, objects: 900, listLength: 1, candidates: [899], costs: [-2], bounds: [-2])))
        XCTAssertEqual(equal, Assignment(rows: [0], cols: [899], cost: -2))
    }

    /// Equal costs everywhere (and equal to the bounds): an answer of n times that cost, with
    /// distinct objects.
    func testTiesAndDuplicateCosts() throws {
        let n = 5, k = 3
        // Overlapping lists: bidder i names objects 2i, 2i+1, 2i+2 of 20.
        let candidates = (0..<n).flatMap { i in (0..<k).map { Int32(2 * i + $0) } }
        let lists = CandidateLists(bidders: n, objects: 20, listLength: k, candidates: candidates,
                                   costs: [Double](repeating: 1.5, count: n * k), bounds: [Double](repeating: 1.5, count: n))
        let a = try XCTUnwrap(AssignmentSolver.solve(candidates: lists))
        XCTAssertEqual(a.rows, Array(0..<n))
        XCTAssertEqual(a.cost, 1.5 * Double(n))
        XCTAssertEqual(Set(a.cols).count, n)
        for (i, j) in zip(a.rows, a.cols) { XCTAssertTrue(candidates[(i * k)..<(i * k + k)].contains(Int32(j)), "bidder \(i) got \(j)") }
        // Duplicate costs within lists and across bidders, one best assignment: 0→7, 1→2, 2→5.
        let b = try XCTUnwrap(AssignmentSolver.solve(candidates: CandidateLists(
            bidders: 3, objects: 10, listLength: 2, candidates: [2, 7, 2, 9, 5, 2],
            costs: [1, 1, 0, 3, 1, 1], bounds: [4, 4, 4])))
        XCTAssertEqual(b, Assignment(rows: [0, 1, 2], cols: [7, 2, 5], cost: 2))
    }

    /// List costs above the bound: harmless where the bidder gets a cheaper candidate; nil where
    /// every candidate of a bidder costs more than its bound.
    func testCostsAboveTheBound() throws {
        let a = try XCTUnwrap(AssignmentSolver.solve(candidates: CandidateLists(
            bidders: 2, objects: 50, listLength: 3, candidates: [10, 11, 12, 20, 10, 21],
            costs: [5.0, 0.1, 9.0, 7.0, 0.2, 8.0], bounds: [1.0, 1.0])))
        XCTAssertEqual(a, Assignment(rows: [0, 1], cols: [11, 10], cost: 0.1 + 0.2))
        // Bidder 1's candidates all cost more than its bound.
        XCTAssertNil(AssignmentSolver.solve(candidates: CandidateLists(
            bidders: 2, objects: 50, listLength: 3, candidates: [10, 11, 12, 20, 10, 21],
            costs: [5.0, 0.1, 9.0, 7.0, 1.5, 8.0], bounds: [1.0, 1.0])))
        // Bidder 1's only cheap candidate is bidder 0's too, and bidder 0 has no other: bidder 1
        // would pay at least its bound elsewhere, more than its list offers — still proven, as the
        // left-out objects cost at least 3.
        let c = try XCTUnwrap(AssignmentSolver.solve(candidates: CandidateLists(
            bidders: 2, objects: 50, listLength: 2, candidates: [10, 11, 10, 12],
            costs: [0.0, 9.0, 0.5, 2.5], bounds: [3.0, 3.0])))
        XCTAssertEqual(c, Assignment(rows: [0, 1], cols: [10, 12], cost: 2.5))
        // The same with bidder 1's bound at 2: an object left out might cost 2 < 2.5.
        XCTAssertNil(AssignmentSolver.solve(candidates: CandidateLists(
            bidders: 2, objects: 50, listLength: 2, candidates: [10, 11, 10, 12],
            costs: [0.0, 9.0, 0.5, 2.5], bounds: [3.0, 2.0])))
    }

    /// Lists admitting no complete assignment (Hall's condition fails) give nil, though the whole
    /// matrix has assignments.
    func testInfeasibleListsGiveNil() {
        // Three bidders, one candidate each, all the same object (sorted compaction).
        XCTAssertNil(AssignmentSolver.solve(candidates: CandidateLists(
            bidders: 3, objects: 900, listLength: 1, candidates: [7, 7, 7], costs: [0, 0, 0], bounds: [1, 1, 1])))
        // Three bidders sharing two objects.
        XCTAssertNil(AssignmentSolver.solve(candidates: CandidateLists(
            bidders: 3, objects: 900, listLength: 2, candidates: [1, 2, 2, 1, 1, 2], costs: [0, 0, 0, 0, 0, 0], bounds: [5, 5, 5])))
        // The same through the table compaction (few objects).
        XCTAssertNil(AssignmentSolver.solve(candidates: CandidateLists(
            bidders: 3, objects: 4, listLength: 2, candidates: [1, 2, 2, 1, 1, 2], costs: [0, 0, 0, 0, 0, 0], bounds: [5, 5, 5])))
        // Bidder 2 with another object: feasible, the control.
        XCTAssertNotNil(AssignmentSolver.solve(candidates: CandidateLists(
            bidders: 3, objects: 4, listLength: 2, candidates: [1, 2, 2, 1, 1, 3], costs: [0, 0, 0, 0, 0, 0], bounds: [5, 5, 5])))
    }

    /// Lists that break the rules give nil instead of trapping.
    func testBadInputGivesNil() {
        func solve(_ n: Int, _ m: Int, _ k: Int, _ c: [Int32], _ x: [Double], _ b: [Double]) -> Assignment? {
            AssignmentSolver.solve(candidates: CandidateLists(bidders: n, objects: m, listLength: k, candidates: c, costs: x, bounds: b))
        }
        // A valid control, then one thing wrong at a time.
        XCTAssertNotNil(solve(2, 10, 2, [0, 1, 2, 3], [1, 2, 3, 4], [5, 5]))
        XCTAssertNil(solve(2, 10, 2, [0, 1, 2, 3], [1, .nan, 3, 4], [5, 5]))
        XCTAssertNil(solve(2, 10, 2, [0, 1, 2, 3], [1, 2, .infinity, 4], [5, 5]))
        XCTAssertNil(solve(2, 10, 2, [0, 1, 2, 3], [-.infinity, 2, 3, 4], [5, 5]))
        XCTAssertNil(solve(2, 10, 2, [0, 1, 2, 3], [-1e308, 2, 3, 1e308], [5, 5]))  // span overflows
        XCTAssertNil(solve(2, 10, 2, [0, 1, 2, 3], [1, 2, 3, 4], [5, .nan]))
        XCTAssertNil(solve(2, 10, 2, [0, 1, 2, 10], [1, 2, 3, 4], [5, 5]))
        XCTAssertNil(solve(2, 10, 2, [0, -1, 2, 3], [1, 2, 3, 4], [5, 5]))
        XCTAssertNil(solve(2, 10, 2, [0, 1, 3, 3], [1, 2, 3, 4], [5, 5]))     // repeated in a list (sorted)
        XCTAssertNil(solve(2, 3, 2, [0, 1, 2, 2], [1, 2, 3, 4], [5, 5]))      // repeated in a list (table)
        XCTAssertNil(solve(2, 10, 2, [0, 1, 2], [1, 2, 3, 4], [5, 5]))
        XCTAssertNil(solve(2, 10, 2, [0, 1, 2, 3], [1, 2, 3], [5, 5]))
        XCTAssertNil(solve(2, 10, 2, [0, 1, 2, 3], [1, 2, 3, 4], [5]))
        XCTAssertNil(solve(3, 2, 1, [0, 1, 0], [1, 2, 3], [5, 5, 5]))         // more bidders than objects
        XCTAssertNil(solve(1, 2, 3, [0, 1, 0], [1, 2, 3], [5]))               // longer lists than objects
        XCTAssertNil(solve(-1, 10, 2, [], [], []))
        XCTAssertNil(solve(2, 10, -1, [], [], [5, 5]))
        XCTAssertNil(solve(2, 10, 0, [], [], [5, 5]))
        XCTAssertNil(solve(Int.max, Int.max, 2, [], [], []))
        // Empty buffers without a base address.
        XCTAssertNil(AssignmentSolver.solve(candidates: CandidateLists(bidders: 1, objects: 1, listLength: 1,
            candidates: UnsafeBufferPointer(start: nil, count: 0), costs: UnsafeBufferPointer(start: nil, count: 0),
            bounds: UnsafeBufferPointer(start: nil, count: 0))))
    }

    /// The buffer initializer reads the caller's memory in place and answers as the arrays do.
    func testBuffersMatchArrays() {
        var random = TestRandom(seed: 15)
        var answered = 0
        for _ in 0..<100 {
            let n = random.int(1...30), m = 900, k = 4
            let exact = Self.separated(rows: n, cols: m, &random)
            let lists = Self.lists(n: n, m: m, k: k, exact: exact, lower: Self.lower(exact, regime: 1, scale: 1, &random))
            let fromArrays = AssignmentSolver.solve(candidates: lists)
            let (candidates, costs, bounds) = lists.withBuffers { c, x, b in (Array(c), Array(x), Array(b)) }
            let fromBuffers = candidates.withUnsafeBufferPointer { c in
                costs.withUnsafeBufferPointer { x in
                    bounds.withUnsafeBufferPointer { b in
                        AssignmentSolver.solve(candidates: CandidateLists(bidders: n, objects: m, listLength: k,
                                                                          candidates: c, costs: x, bounds: b))
                    }
                }
            }
            XCTAssertEqual(fromArrays, fromBuffers)
            if fromArrays != nil { answered += 1 }
        }
        XCTAssertGreaterThan(answered, 90)
    }
}
