import Foundation

/// Small statistics on Double samples, with R's conventions (sample sd with n - 1, median of the two
/// middle values for even n), used by the profile stages and their reference protocols.
public enum Stats {
    /// Arithmetic mean; NaN for an empty sample.
    public static func mean(_ x: [Double]) -> Double {
        x.isEmpty ? .nan : x.reduce(0, +) / Double(x.count)
    }

    /// Sample standard deviation sqrt(sum (x - mean)^2 / (n - 1)); NaN for n < 2.
    public static func sd(_ x: [Double]) -> Double {
        guard x.count > 1 else { return .nan }
        let m = mean(x)
        var s = 0.0
        for v in x { s += (v - m) * (v - m) }
        return (s / Double(x.count - 1)).squareRoot()
    }

    /// Median; NaN for an empty sample.
    public static func median(_ x: [Double]) -> Double {
        guard !x.isEmpty else { return .nan }
        let s = x.sorted()
        let n = s.count
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
    }

    /// Median absolute deviation scaled by 1.4826, a consistent estimator of the standard deviation
    /// for normal data: 1.4826 * median(|x - median(x)|).
    public static func mad(_ x: [Double]) -> Double {
        let m = median(x)
        return 1.4826 * median(x.map { abs($0 - m) })
    }

    /// Mean of every column of a row-major Float matrix with `cols` columns, over the given rows,
    /// accumulated in Double row by row (cache-friendly); NaN values are skipped, and a column with no
    /// other value gives NaN.
    public static func columnMeans(_ x: [Float], cols: Int, rows: [Int]) -> [Double] {
        var sum = [Double](repeating: 0, count: cols), count = [Int](repeating: 0, count: cols)
        x.withUnsafeBufferPointer { p in
            for r in rows {
                let row = p.baseAddress! + r * cols
                for j in 0..<cols where !row[j].isNaN { sum[j] += Double(row[j]); count[j] += 1 }
            }
        }
        return (0..<cols).map { count[$0] == 0 ? .nan : sum[$0] / Double(count[$0]) }
    }

    /// Pearson correlation of two equal-length samples; NaN when either is constant.
    public static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        precondition(x.count == y.count)
        let mx = mean(x), my = mean(y)
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in x.indices {
            let a = x[i] - mx, b = y[i] - my
            sxy += a * b; sxx += a * a; syy += b * b
        }
        return sxy / (sxx * syy).squareRoot()
    }
}

/// A dense row-major Double matrix: `values[r * cols + c]`.
public struct Matrix: Sendable, Equatable {
    public var rows: Int
    public var cols: Int
    public var values: [Double]

    public init(rows: Int, cols: Int, values: [Double]) {
        precondition(values.count == rows * cols)
        self.rows = rows; self.cols = cols; self.values = values
    }

    public init(rows: Int, cols: Int, value: Double = 0) {
        self.init(rows: rows, cols: cols, values: [Double](repeating: value, count: rows * cols))
    }

    public subscript(r: Int, c: Int) -> Double {
        get { values[r * cols + c] }
        set { values[r * cols + c] = newValue }
    }

    /// Column c as an array.
    public func column(_ c: Int, rows subset: [Int]? = nil) -> [Double] {
        (subset ?? Array(0..<rows)).map { values[$0 * cols + c] }
    }
}
