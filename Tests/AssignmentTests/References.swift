import Foundation

// Independent references for the solver tests, written separately from the production code:
// exhaustive enumeration for small problems and a textbook Hungarian algorithm (the O(n²m)
// potentials version) in float64. Neither shares code or ideas with the auction.

/// A deterministic random source (SplitMix64).
struct TestRandom: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed &* 0x2545_F491_4F6C_DD1D &+ 1 }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform in 0 ..< n.
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    /// Uniform in range.
    mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + below(range.count) }

    /// True with probability p.
    mutating func chance(_ p: Double) -> Bool { unit() < p }
}

/// Exhaustive search over every complete assignment of the smaller side.
enum BruteForce {
    /// The least total cost, or nil when every complete assignment uses a forbidden (+∞) entry.
    static func optimum(rows: Int, cols: Int, values: [Double]) -> Double? {
        if rows == 0 || cols == 0 { return 0 }
        let transposed = rows > cols
        let n = min(rows, cols), m = max(rows, cols)
        func cost(_ i: Int, _ j: Int) -> Double { transposed ? values[j * cols + i] : values[i * cols + j] }
        var used = [Bool](repeating: false, count: m)
        var best = Double.infinity
        func visit(_ i: Int, _ sum: Double) {
            if i == n {
                if sum < best { best = sum }
                return
            }
            for j in 0..<m where !used[j] {
                let c = cost(i, j)
                if c == .infinity { continue }
                used[j] = true
                visit(i + 1, sum + c)
                used[j] = false
            }
        }
        visit(0, 0)
        return best < .infinity ? best : nil
    }
}

/// The classic Hungarian algorithm with row and column potentials (one shortest augmenting path
/// per row, O(n²m)), for rectangular problems through the transpose; +∞ marks forbidden entries.
enum ReferenceHungarian {
    /// The column of each row of the smaller side's problem, mapped back to (row, col) pairs, or nil
    /// when no complete assignment exists.
    static func solve(rows: Int, cols: Int, values: [Double]) -> [(Int, Int)]? {
        if rows == 0 || cols == 0 { return [] }
        let transposed = rows > cols
        let n = min(rows, cols), m = max(rows, cols)
        func a(_ i: Int, _ j: Int) -> Double { transposed ? values[j * cols + i] : values[i * cols + j] }
        // 1-based: p[j] is the row holding column j (0 = none), column 0 is the virtual start.
        var u = [Double](repeating: 0, count: n + 1), v = [Double](repeating: 0, count: m + 1)
        var p = [Int](repeating: 0, count: m + 1), way = [Int](repeating: 0, count: m + 1)
        for i in 1...n {
            p[0] = i
            var j0 = 0
            var minv = [Double](repeating: .infinity, count: m + 1)
            var used = [Bool](repeating: false, count: m + 1)
            repeat {
                used[j0] = true
                let i0 = p[j0]
                var delta = Double.infinity
                var j1 = -1
                for j in 1...m where !used[j] {
                    let cur = a(i0 - 1, j - 1) - u[i0] - v[j]
                    if cur < minv[j] { minv[j] = cur; way[j] = j0 }
                    if minv[j] < delta { delta = minv[j]; j1 = j }
                }
                if j1 < 0 || delta == .infinity { return nil }
                for j in 0...m {
                    if used[j] { u[p[j]] += delta; v[j] -= delta } else { minv[j] -= delta }
                }
                j0 = j1
            } while p[j0] != 0
            repeat {
                let j1 = way[j0]
                p[j0] = p[j1]
                j0 = j1
            } while j0 != 0
        }
        var pairs: [(Int, Int)] = []
        for j in 1...m where p[j] != 0 {
            pairs.append(transposed ? (j - 1, p[j] - 1) : (p[j] - 1, j - 1))
        }
        pairs.sort { $0.0 < $1.0 }
        return pairs
    }

    /// The least total cost, or nil when no complete assignment exists.
    static func optimum(rows: Int, cols: Int, values: [Double]) -> Double? {
        guard let pairs = solve(rows: rows, cols: cols, values: values) else { return nil }
        var total = 0.0
        for (r, c) in pairs { total += values[r * cols + c] }
        return total.isFinite ? total : nil
    }
}

/// Families of test matrices.
enum Family: CaseIterable {
    /// Uniform in [0, 1).
    case uniform
    /// Integers 0 … 3: many ties.
    case smallIntegers
    /// Rows and columns copied from a few base rows and columns (integers 0 … 9).
    case duplicated
    /// One value everywhere.
    case allEqual
    /// Some entries forbidden (+∞), the rest small integers.
    case fewForbidden
    /// Half the entries forbidden: often infeasible.
    case manyForbidden
    /// ±10^x with x uniform in [−8, 8]: a huge dynamic range.
    case dynamicRange
    /// All negative.
    case negative
    /// Mixed signs, magnitudes up to 1e3.
    case mixedSign
    /// A few bidders (of the smaller side) whose finite costs lie in one fewer (often infeasible by
    /// Hall's condition) or as many objects; other entries uniform, some forbidden.
    case hallBlocked

    /// A rows × cols matrix of this family, row-major.
    func matrix(rows: Int, cols: Int, _ random: inout TestRandom) -> [Double] {
        let count = rows * cols
        switch self {
        case .uniform:
            return (0..<count).map { _ in random.unit() }
        case .smallIntegers:
            return (0..<count).map { _ in Double(random.int(0...3)) }
        case .duplicated:
            let baseRows = max(1, random.int(1...3)), baseCols = max(1, random.int(1...3))
            let base = (0..<(baseRows * baseCols)).map { _ in Double(random.int(0...9)) }
            let rowOf = (0..<rows).map { _ in random.below(baseRows) }
            let colOf = (0..<cols).map { _ in random.below(baseCols) }
            var values = [Double](repeating: 0, count: count)
            for i in 0..<rows { for j in 0..<cols { values[i * cols + j] = base[rowOf[i] * baseCols + colOf[j]] } }
            return values
        case .allEqual:
            let value = [0.0, 1.0, -2.5, 1e8, 3e-8][random.below(5)]
            return [Double](repeating: value, count: count)
        case .fewForbidden:
            return (0..<count).map { _ in random.chance(0.15) ? .infinity : Double(random.int(0...5)) }
        case .manyForbidden:
            return (0..<count).map { _ in random.chance(0.5) ? .infinity : random.unit() }
        case .dynamicRange:
            return (0..<count).map { _ in
                let magnitude = pow(10, random.unit() * 16 - 8)
                return random.chance(0.25) ? -magnitude : magnitude
            }
        case .negative:
            return (0..<count).map { _ in -10 * random.unit() }
        case .mixedSign:
            return (0..<count).map { _ in random.chance(0.3) ? Double(random.int(-1000...1000)) : (random.unit() - 0.5) * 2000 }
        case .hallBlocked:
            var values = (0..<count).map { _ in random.chance(0.2) ? Double.infinity : random.unit() }
            let n = min(rows, cols), m = max(rows, cols)
            guard n > 0 else { return values }
            let blocked = random.int(1...min(n, 4))
            let allowed = min(m, random.chance(0.6) ? blocked - 1 : blocked)
            let bidders = Array((0..<n).shuffled(using: &random).prefix(blocked))
            let objects = Set((0..<m).shuffled(using: &random).prefix(allowed))
            for i in bidders {
                for j in 0..<m where !objects.contains(j) {
                    values[rows <= cols ? i * cols + j : j * cols + i] = .infinity
                }
            }
            return values
        }
    }
}
