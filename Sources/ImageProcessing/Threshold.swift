/// Automatic thresholds on a histogram of `bins` equal bins between the minimum and maximum of the
/// values, returning a bin centre, as scikit-image's `threshold_otsu` / `threshold_multiotsu` do for
/// floating-point images.
public enum Otsu {
    /// Counts in equal bins from `lo`, each `width` wide.
    public struct Histogram: Sendable {
        public var counts: [Double]
        public var lo: Double, width: Double
    }

    /// A histogram of `values` over [min, max] in `bins` bins; nil when the values are constant or empty.
    public static func histogram(_ values: [Float], bins: Int) -> Histogram? {
        values.withUnsafeBufferPointer { v in
            var (lo, hi) = extremes(v)
            if !lo.isFinite || !hi.isFinite {  // infinities do not count
                (lo, hi) = (.infinity, -.infinity)
                for x in v where x.isFinite { lo = min(lo, x); hi = max(hi, x) }
            }
            guard hi > lo else { return nil }
            // Four histograms filled in turn, so that runs of equal bins do not wait on each other's stores.
            var counts = [Int](repeating: 0, count: 4 * bins)
            let scale = Double(bins) / Double(hi - lo), last = bins - 1
            let finite = firstNonFinite(v) == nil
            counts.withUnsafeMutableBufferPointer { c in
                let c0 = c.baseAddress!, c1 = c0 + bins, c2 = c1 + bins, c3 = c2 + bins
                @inline(__always) func bin(_ x: Float) -> Int { min(last, Int(Double(x - lo) * scale)) }
                let whole = v.count / 4 * 4
                if finite {  // the common case, without a test per value
                    for k in stride(from: 0, to: whole, by: 4) {
                        c0[bin(v[k])] += 1; c1[bin(v[k + 1])] += 1; c2[bin(v[k + 2])] += 1; c3[bin(v[k + 3])] += 1
                    }
                    for k in whole..<v.count { c0[bin(v[k])] += 1 }
                } else {
                    for x in v where x.isFinite { c0[bin(x)] += 1 }
                }
            }
            let merged = (0..<bins).map { Double(counts[$0] + counts[bins + $0] + counts[2 * bins + $0] + counts[3 * bins + $0]) }
            return Histogram(counts: merged, lo: Double(lo), width: Double(hi - lo) / Double(bins))
        }
    }

    /// Two-class Otsu (1979): the bin centre t maximising the between-class variance
    /// w0(t) w1(t) (mu0(t) - mu1(t))^2; foreground is `value > t`. Nil for constant images.
    public static func threshold(_ values: [Float], bins: Int = 256) -> Float? {
        histogram(values, bins: bins).map(threshold)
    }

    /// Two-class Otsu on a histogram.
    public static func threshold(_ histogram: Histogram) -> Float {
        let (counts, lo, width, bins) = (histogram.counts, histogram.lo, histogram.width, histogram.counts.count)
        let centres = (0..<bins).map { lo + (Double($0) + 0.5) * width }
        let total = counts.reduce(0, +)
        let totalSum = zip(counts, centres).reduce(0) { $0 + $1.0 * $1.1 }
        var w0 = 0.0, sum0 = 0.0, best = -1.0, bestIndex = 0
        for i in 0..<(bins - 1) {
            w0 += counts[i]; sum0 += counts[i] * centres[i]
            let w1 = total - w0
            guard w0 > 0, w1 > 0 else { continue }
            let d = sum0 / w0 - (totalSum - sum0) / w1
            let between = w0 * w1 * d * d
            if between > best { best = between; bestIndex = i }
        }
        return Float(centres[bestIndex])
    }

    /// Three-class Otsu (Liao et al. 2001): the pair of bin centres (t1 < t2) maximising the
    /// between-class variance of the three classes. Nil for constant images.
    public static func thresholds3(_ values: [Float], bins: Int = 128) -> (low: Float, high: Float)? {
        histogram(values, bins: bins).map(thresholds3)
    }

    /// Three-class Otsu on a histogram.
    public static func thresholds3(_ histogram: Histogram) -> (low: Float, high: Float) {
        let (counts, lo, width, bins) = (histogram.counts, histogram.lo, histogram.width, histogram.counts.count)
        var cw = [Double](repeating: 0, count: bins + 1), cs = cw
        for i in 0..<bins {
            cw[i + 1] = cw[i] + counts[i]
            cs[i + 1] = cs[i] + counts[i] * (lo + (Double(i) + 0.5) * width)
        }
        func term(_ a: Int, _ b: Int) -> Double {  // w * mu^2 of bins a..<b
            let w = cw[b] - cw[a]
            return w > 0 ? (cs[b] - cs[a]) * (cs[b] - cs[a]) / w : 0
        }
        var best = -1.0, bi = 0, bj = 1
        for i in 1..<(bins - 1) {
            for j in (i + 1)..<bins {
                let v = term(0, i) + term(i, j) + term(j, bins)
                if v > best { best = v; bi = i; bj = j }
            }
        }
        return (Float(lo + (Double(bi - 1) + 0.5) * width), Float(lo + (Double(bj - 1) + 0.5) * width))
    }

    /// The histogram of each of nx x ny blocks of a w x h image (block (bx, by) spans columns
    /// bx w / nx ..< (bx + 1) w / nx and rows likewise), each over its own [min, max] of finite values
    /// in `bins` bins as `histogram` bins that block's values (in Float arithmetic); nil for a
    /// constant block. Two raster passes (extremes, then counts) instead of copying every block out.
    public static func blockHistograms(_ values: [Float], width w: Int, height h: Int, nx: Int, ny: Int, bins: Int) -> [Histogram?] {
        precondition(values.count == w * h && nx >= 1 && ny >= 1 && nx <= w && ny <= h)
        let x0 = (0...nx).map { $0 * w / nx }, y0 = (0...ny).map { $0 * h / ny }
        var lo = [Float](repeating: .infinity, count: nx * ny), hi = [Float](repeating: -.infinity, count: nx * ny)
        var counts = [Int32](repeating: 0, count: nx * ny * bins)
        let last = bins - 1
        values.withUnsafeBufferPointer { v in
            lo.withUnsafeMutableBufferPointer { lo in
                hi.withUnsafeMutableBufferPointer { hi in
                    for by in 0..<ny {
                        for y in y0[by]..<y0[by + 1] {
                            for bx in 0..<nx {
                                let b = by * nx + bx
                                var l = lo[b], u = hi[b]
                                for value in UnsafeBufferPointer(rebasing: v[(y * w + x0[bx])..<(y * w + x0[bx + 1])]) where value.isFinite {
                                    l = min(l, value); u = max(u, value)
                                }
                                lo[b] = l; hi[b] = u
                            }
                        }
                    }
                    counts.withUnsafeMutableBufferPointer { c in
                        for by in 0..<ny {
                            for y in y0[by]..<y0[by + 1] {
                                for bx in 0..<nx {
                                    let b = by * nx + bx, l = lo[b]
                                    guard hi[b] > l else { continue }
                                    let scale = Float(bins) / (hi[b] - l), counts = c.baseAddress! + b * bins
                                    for value in UnsafeBufferPointer(rebasing: v[(y * w + x0[bx])..<(y * w + x0[bx + 1])]) where value.isFinite {
                                        counts[min(last, Int((value - l) * scale))] += 1
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (0..<(nx * ny)).map { b in
            guard hi[b] > lo[b] else { return nil }
            return Histogram(counts: counts[(b * bins)..<((b + 1) * bins)].map(Double.init), lo: Double(lo[b]),
                             width: Double(hi[b] - lo[b]) / Double(bins))
        }
    }
}
