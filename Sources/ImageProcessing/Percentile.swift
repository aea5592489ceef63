/// The p-th percentile (0...100) by linear interpolation between order statistics (numpy's default).
public func percentile(_ values: [Float], _ p: Double) -> Float {
    precondition(!values.isEmpty)
    let sorted = values.sorted()
    let position = p / 100 * Double(sorted.count - 1)
    let lo = Int(position.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
    let f = Float(position - Double(lo))
    return sorted[lo] + (sorted[hi] - sorted[lo]) * f
}

/// Minimum and maximum of the values, NaN ignored ((inf, -inf) when there is none), in four
/// independent chains: one chain would wait on every comparison.
public func extremes(_ p: UnsafeBufferPointer<Float>) -> (lo: Float, hi: Float) {
    var lo = (Float.infinity, Float.infinity, Float.infinity, Float.infinity)
    var hi = (-Float.infinity, -Float.infinity, -Float.infinity, -Float.infinity)
    let whole = p.count / 4 * 4
    for k in stride(from: 0, to: whole, by: 4) {
        let a = p[k], b = p[k + 1], c = p[k + 2], d = p[k + 3]
        lo.0 = a < lo.0 ? a : lo.0; hi.0 = a > hi.0 ? a : hi.0
        lo.1 = b < lo.1 ? b : lo.1; hi.1 = b > hi.1 ? b : hi.1
        lo.2 = c < lo.2 ? c : lo.2; hi.2 = c > hi.2 ? c : hi.2
        lo.3 = d < lo.3 ? d : lo.3; hi.3 = d > hi.3 ? d : hi.3
    }
    var low = min(min(lo.0, lo.1), min(lo.2, lo.3)), high = max(max(hi.0, hi.1), max(hi.2, hi.3))
    for v in p[whole...] where !v.isNaN { low = min(low, v); high = max(high, v) }
    return (low, high)
}
