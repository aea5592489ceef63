import Foundation

/// Post-processing that uses the design of an RxRx1-like screen: on every plate each treatment class
/// occurs exactly once, and a plate holds the classes of one of a few fixed plate groups (RxRx1: 4 groups
/// of 277 siRNAs). Inputs are class probabilities, one row per well of one plate.
public enum PlatePrior {
    /// The class with the largest score in `row`, after multiplying class k by `coefficients[k]`.
    public static func argmax(row: [Double], coefficients: [Double]? = nil) -> Int {
        var best = 0, bestValue = -Double.infinity
        for k in row.indices {
            let v = row[k] * (coefficients?[k] ?? 1)
            if v > bestValue { bestValue = v; best = k }
        }
        return best
    }

    /// Argmax of each row of `probabilities` (wells x classes).
    public static func argmax(_ probabilities: [[Double]], coefficients: [Double]? = nil) -> [Int] {
        probabilities.map { argmax(row: $0, coefficients: coefficients) }
    }

    /// How far predictions are from "each class at most once": sum over classes of (count - 1)+.
    static func excess(_ predictions: [Int]) -> Int {
        var counts = [Int: Int]()
        for p in predictions { counts[p, default: 0] += 1 }
        return counts.values.reduce(0) { $0 + max(0, $1 - 1) }
    }

    /// DeepNoise's iterative rebalancing (Yang et al., 2nd place on RxRx1): while some class is predicted
    /// more than once, lower the score coefficient of the most-predicted class by `alpha`; keep the change
    /// unless it makes the excess worse, else undo it and halve `alpha` (from 0.01). Stops when every class
    /// is predicted at most once, `alpha` falls below `minimumAlpha`, or after `maxSteps` changes.
    public static func rebalance(_ probabilities: [[Double]], alpha start: Double = 0.01, minimumAlpha: Double = 1e-6,
                                 maxSteps: Int = 100_000) -> [Int] {
        guard let classes = probabilities.first?.count else { return [] }
        var coefficients = [Double](repeating: 1, count: classes)
        var predictions = argmax(probabilities)
        var current = excess(predictions)
        var alpha = start
        var steps = 0
        while current > 0 && alpha >= minimumAlpha && steps < maxSteps {
            steps += 1
            var counts = [Int](repeating: 0, count: classes)
            for p in predictions { counts[p] += 1 }
            let most = counts.indices.max { counts[$0] < counts[$1] }!
            coefficients[most] -= alpha
            let trial = argmax(probabilities, coefficients: coefficients)
            let trialExcess = excess(trial)
            if trialExcess <= current {
                predictions = trial
                current = trialExcess
            } else {
                coefficients[most] += alpha
                alpha /= 2
            }
        }
        return predictions
    }

    /// Each well gets a distinct class (wells <= classes): the assignment that maximises the summed log
    /// probability, i.e. the most probable joint labelling under the one-per-plate constraint.
    /// `allowed` restricts the classes (a plate group); predictions are indices into the full class list.
    public static func assign(_ probabilities: [[Double]], allowed: [Int]? = nil) -> [Int] {
        guard let classes = probabilities.first?.count else { return [] }
        let columns = allowed ?? Array(0..<classes)
        let rows = probabilities.count
        precondition(rows <= columns.count, "a plate with \(rows) wells cannot hold \(columns.count) classes once each")
        var scores = [Double](repeating: 0, count: rows * columns.count)
        for r in 0..<rows {
            for (c, k) in columns.enumerated() { scores[r * columns.count + c] = Foundation.log(max(probabilities[r][k], 1e-30)) }
        }
        return LinearAssignment.maximize(scores, rows: rows, cols: columns.count).map { columns[$0] }
    }

    /// The plate group whose classes explain the plate best: the group whose best one-class-per-well
    /// assignment has the largest summed log probability (the constraint sharpens the evidence far more
    /// than the probability mass alone; the mass is used when a group has fewer classes than the plate
    /// has wells). `groups` lists each group's classes.
    public static func inferGroup(_ probabilities: [[Double]], groups: [[Int]]) -> Int {
        var best = 0, bestScore = -Double.infinity
        for (g, members) in groups.enumerated() {
            var score = 0.0
            if probabilities.count <= members.count {
                let chosen = assign(probabilities, allowed: members)
                for (row, k) in zip(probabilities, chosen) { score += Foundation.log(max(row[k], 1e-30)) }
            } else {
                for row in probabilities { score += Foundation.log(max(members.reduce(0) { $0 + row[$1] }, 1e-30)) }
            }
            if score > bestScore { bestScore = score; best = g }
        }
        return best
    }
}
