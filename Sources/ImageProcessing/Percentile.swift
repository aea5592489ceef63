/// The p-th percentile (0...100) by linear interpolation between order statistics (numpy's default).
public func percentile(_ values: [Float], _ p: Double) -> Float {
    precondition(!values.isEmpty)
    let sorted = values.sorted()
    let position = p / 100 * Double(sorted.count - 1)
    let lo = Int(position.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
    let f = Float(position - Double(lo))
    return sorted[lo] + (sorted[hi] - sorted[lo]) * f
}

/// Minimum and maximum of the values, NaN ignored ((inf, -inf) when there is none), 16 lanes at a
/// time (a NaN fails both comparisons and never replaces a lane).
public func extremes(_ p: UnsafeBufferPointer<Float>) -> (lo: Float, hi: Float) {
    var lo = SIMD16<Float>(repeating: .infinity), hi = SIMD16<Float>(repeating: -.infinity)
    let whole = p.count / 16 * 16
    if whole > 0 {
        let raw = UnsafeRawPointer(p.baseAddress!)
        for k in stride(from: 0, to: whole, by: 16) {
            let v = raw.loadUnaligned(fromByteOffset: 4 * k, as: SIMD16<Float>.self)
            lo.replace(with: v, where: v .< lo)
            hi.replace(with: v, where: v .> hi)
        }
    }
    var low = lo.min(), high = hi.max()
    for v in p[whole...] where !v.isNaN { low = min(low, v); high = max(high, v) }
    return (low, high)
}

/// Index of the first NaN or infinity, or nil. Checks 16 lanes at a time (v - v is 0 for a finite
/// v and NaN otherwise) and scans for the index only when something is found.
public func firstNonFinite(_ p: UnsafeBufferPointer<Float>) -> Int? {
    var sum = SIMD16<Float>(repeating: 0)
    let whole = p.count / 16 * 16
    if whole > 0 {
        let raw = UnsafeRawPointer(p.baseAddress!)
        for k in stride(from: 0, to: whole, by: 16) {
            let v = raw.loadUnaligned(fromByteOffset: 4 * k, as: SIMD16<Float>.self)
            sum += v - v
        }
    }
    guard sum == SIMD16(repeating: 0), p[whole...].allSatisfy(\.isFinite) else { return p.firstIndex { !$0.isFinite } }
    return nil
}
