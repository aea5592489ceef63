import Foundation
import MorphoCore

/// Feature selection as cytominer and pycytominer do it. Each function returns the indices of the
/// features to drop, so a caller can report them; `FeatureTable.selectingFeatures` applies the choice.
public enum FeatureSelection {
    /// Near-zero variance (caret's `nearZeroVar`, used by cytominer's `variance_threshold`): a feature
    /// is dropped when it has a single distinct value, or when the ratio of the most frequent value's
    /// count to the second's exceeds `freqCut` (95/5) while distinct values are at most `uniqueCut`
    /// (10) percent of the rows. NaN values are ignored.
    public static func nearZeroVariance(_ x: Matrix, freqCut: Double = 95.0 / 5.0, uniqueCut: Double = 10) -> [Int] {
        var drop = [Int]()
        for j in 0..<x.cols {
            var counts = [Double: Int]()
            var present = 0
            for r in 0..<x.rows {
                let v = x[r, j]
                if !v.isNaN { counts[v, default: 0] += 1; present += 1 }
            }
            if counts.count <= 1 { drop.append(j); continue }
            let sorted = counts.values.sorted(by: >)
            let freqRatio = Double(sorted[0]) / Double(sorted[1])
            let percentUnique = 100 * Double(counts.count) / Double(x.rows)
            if freqRatio > freqCut && percentUnique <= uniqueCut { drop.append(j) }
        }
        return drop
    }

    /// Pearson correlation matrix of the columns (d x d), accumulated in Double.
    public static func correlationMatrix(_ x: Matrix) -> Matrix {
        let n = x.rows, d = x.cols
        var z = x.values
        for j in 0..<d {
            var s = 0.0
            for r in 0..<n { s += z[r * d + j] }
            let m = s / Double(n)
            var ss = 0.0
            for r in 0..<n { z[r * d + j] -= m; ss += z[r * d + j] * z[r * d + j] }
            let norm = ss.squareRoot()
            for r in 0..<n { z[r * d + j] /= norm }
        }
        var c = Matrix(rows: d, cols: d)
        for a in 0..<d {
            for b in a..<d {
                var s = 0.0
                for r in 0..<n { s += z[r * d + a] * z[r * d + b] }
                c[a, b] = s; c[b, a] = s
            }
        }
        return c
    }

    /// caret's `findCorrelation` (as copied into cytominer's `correlation_threshold`): removes features
    /// until no pair has |r| > cutoff. `exact` (default: fewer than 100 features, as caret) visits
    /// pairs in order of mean absolute correlation and re-evaluates means as features go; the fast
    /// variant ranks features once by mean |r| (diagonal included) and drops the higher-ranked
    /// feature of every pair above the cutoff. Returns the dropped columns in ascending order.
    public static func correlationThreshold(_ x: Matrix, cutoff: Double = 0.9, exact: Bool? = nil) -> [Int] {
        let corr = correlationMatrix(x)
        let d = corr.rows
        guard d > 1 else { return [] }
        if exact ?? (d < 100) {
            return findCorrelationExact(corr, cutoff: cutoff)
        }
        // Fast: ranks of mean |r| (ties share a rank, as R's as.numeric(as.factor(x))).
        var mean = [Double](repeating: 0, count: d)
        for j in 0..<d { var s = 0.0; for i in 0..<d { s += abs(corr[i, j]) }; mean[j] = s / Double(d) }
        let distinct = Array(Set(mean)).sorted()
        let rank = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, $0) })
        var drop = Set<Int>()
        for col in 0..<d {
            for row in 0..<col where abs(corr[row, col]) > cutoff {
                drop.insert(rank[mean[col]]! > rank[mean[row]]! ? col : row)
            }
        }
        return drop.sorted()
    }

    static func findCorrelationExact(_ corr: Matrix, cutoff: Double) -> [Int] {
        let d = corr.rows
        var x = Matrix(rows: d, cols: d)
        for i in 0..<d { for j in 0..<d { x[i, j] = abs(corr[i, j]) } }
        // Order by mean absolute correlation without the diagonal, decreasing (stable, like R's order).
        let meanOff = (0..<d).map { j in (0..<d).filter { $0 != j }.map { x[$0, j] }.reduce(0, +) / Double(d - 1) }
        let order = (0..<d).sorted { meanOff[$0] != meanOff[$1] ? meanOff[$0] > meanOff[$1] : $0 < $1 }
        var y = Matrix(rows: d, cols: d)
        for i in 0..<d { for j in 0..<d { y[i, j] = x[order[i], order[j]] } }
        var x2: [Double?] = y.values.map { Optional($0) }
        for i in 0..<d { x2[i * d + i] = nil }
        var deleted = [Bool](repeating: false, count: d)
        func meanRow(_ i: Int, excludingRow: Int? = nil) -> Double {
            // mean(x2[i, ]) or, for excludingRow, mean of every entry of x2 outside row j.
            var s = 0.0, n = 0
            if let j = excludingRow {
                for r in 0..<d where r != j { for c in 0..<d { if let v = x2[r * d + c] { s += v; n += 1 } } }
            } else {
                for c in 0..<d { if let v = x2[i * d + c] { s += v; n += 1 } }
            }
            return n == 0 ? .nan : s / Double(n)
        }
        for i in 0..<(d - 1) {
            if !x2.contains(where: { ($0 ?? -1) > cutoff }) { break }
            if deleted[i] { continue }
            for j in (i + 1)..<d where !deleted[i] && !deleted[j] && y[i, j] > cutoff {
                let mn1 = meanRow(i), mn2 = meanRow(i, excludingRow: j)
                let victim = mn1 > mn2 ? i : j
                deleted[victim] = true
                for k in 0..<d { x2[victim * d + k] = nil; x2[k * d + victim] = nil }
            }
        }
        return (0..<d).filter { deleted[$0] }.map { order[$0] }.sorted()
    }

    /// Replicate correlation per feature (cytominer's `replicate_correlation`): among the groups of
    /// `strata` with exactly `replicates` rows, replicate k is each group's k-th row in table order;
    /// for each feature the Pearson correlation between every pair of replicates is taken across
    /// groups, and the median of those pairs is returned (NaN when undefined).
    public static func replicateCorrelation(_ table: FeatureTable, strata: [String], replicates: Int = 3) throws -> [Double] {
        let groups = try RowGroups(table, by: strata).rows.filter { $0.count == replicates }
        guard groups.count >= 3 else {
            throw MorphoError.data(context: "replicate correlation", problem: "only \(groups.count) groups of \(strata.joined(separator: "+")) have \(replicates) replicates")
        }
        var out = [Double]()
        for j in 0..<table.featureCount {
            let columns = (0..<replicates).map { k in groups.map { Double(table[row: $0[k], feature: j]) } }
            var pairs = [Double]()
            for a in 0..<replicates { for b in (a + 1)..<replicates { pairs.append(Stats.pearson(columns[a], columns[b])) } }
            out.append(pairs.contains { $0.isNaN } ? .nan : Stats.median(pairs))
        }
        return out
    }

    /// Features whose fraction of NaN values exceeds `cutoff` (cytominer's `drop_na_columns`, 0.05).
    public static func naColumns(_ x: Matrix, cutoff: Double = 0.05) -> [Int] {
        (0..<x.cols).filter { j in
            Double((0..<x.rows).filter { x[$0, j].isNaN }.count) / Double(max(x.rows, 1)) > cutoff
        }
    }
}
