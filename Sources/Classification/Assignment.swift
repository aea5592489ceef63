import Foundation

/// Linear assignment (the Hungarian method with potentials, in the shortest-augmenting-path form of
/// Jonker & Volgenant 1987, O(rows^2 cols)): give each of `rows` items a distinct one of `cols >= rows`
/// options so that the total score is largest. No allowed Swift package offers one, so it is written
/// here and tested against brute force.
public enum LinearAssignment {
    /// `scores[r * cols + c]`, row-major. Returns the column of each row. Non-finite scores are treated
    /// as impossible (a very low score).
    public static func maximize(_ scores: [Double], rows: Int, cols: Int) -> [Int] {
        precondition(rows <= cols && scores.count == rows * cols, "assignment needs rows <= cols and a full score matrix")
        if rows == 0 { return [] }
        let finite = scores.lazy.filter(\.isFinite)
        let high = finite.max() ?? 0, low = finite.min() ?? 0
        let impossible = (high - low + 1) * Double(rows + 1)
        // Costs (minimised), 1-based as in the classic formulation: u, v potentials; way[j] the previous column.
        let inf = Double.infinity
        var u = [Double](repeating: 0, count: rows + 1), v = [Double](repeating: 0, count: cols + 1)
        var match = [Int](repeating: 0, count: cols + 1)   // match[j]: the row assigned to column j (0: none)
        var way = [Int](repeating: 0, count: cols + 1)
        var minv = [Double](repeating: inf, count: cols + 1)
        var used = [Bool](repeating: false, count: cols + 1)
        @inline(__always) func cost(_ i: Int, _ j: Int) -> Double {
            let s = scores[(i - 1) * cols + (j - 1)]
            return s.isFinite ? high - s : impossible
        }
        for i in 1...rows {
            match[0] = i
            var j0 = 0
            for j in 0...cols { minv[j] = inf; used[j] = false }
            repeat {
                used[j0] = true
                let i0 = match[j0]
                var delta = inf, j1 = 0
                for j in 1...cols where !used[j] {
                    let current = cost(i0, j) - u[i0] - v[j]
                    if current < minv[j] { minv[j] = current; way[j] = j0 }
                    if minv[j] < delta { delta = minv[j]; j1 = j }
                }
                for j in 0...cols {
                    if used[j] { u[match[j]] += delta; v[j] -= delta } else { minv[j] -= delta }
                }
                j0 = j1
            } while match[j0] != 0
            repeat {
                let j1 = way[j0]
                match[j0] = match[j1]
                j0 = j1
            } while j0 != 0
        }
        var result = [Int](repeating: -1, count: rows)
        for j in 1...cols where match[j] != 0 { result[match[j] - 1] = j - 1 }
        return result
    }

    /// The best assignment by trying every one (for tests; rows, cols <= 8).
    public static func bruteForce(_ scores: [Double], rows: Int, cols: Int) -> (assignment: [Int], total: Double) {
        var best = (assignment: [Int](), total: -Double.infinity)
        var current = [Int](), taken = [Bool](repeating: false, count: cols)
        func visit(_ r: Int, _ total: Double) {
            if r == rows {
                if total > best.total { best = (current, total) }
                return
            }
            for c in 0..<cols where !taken[c] {
                taken[c] = true; current.append(c)
                visit(r + 1, total + scores[r * cols + c])
                taken[c] = false; current.removeLast()
            }
        }
        visit(0, 0)
        return best
    }
}
