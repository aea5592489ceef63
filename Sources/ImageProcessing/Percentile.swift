/// The p-th percentile (0...100) by linear interpolation between order statistics (numpy's default).
/// The k-th order statistic is found by quickselect (expected O(n), no full sort); the next one is
/// the minimum of the part above it.
public func percentile(_ values: [Float], _ p: Double) -> Float {
    precondition(!values.isEmpty)
    var a = values
    let position = p / 100 * Double(a.count - 1)
    let lo = Int(position.rounded(.down)), hi = min(lo + 1, a.count - 1)
    let f = Float(position - Double(lo))
    return a.withUnsafeMutableBufferPointer { b -> Float in
        select(b, lo)
        let low = b[lo]
        guard hi > lo else { return low }
        var high = b[hi]
        for i in (lo + 1)..<b.count where b[i] < high { high = b[i] }
        return low + (high - low) * f
    }
}

/// Reorders `a` so that a[k] is the value a sorted copy would hold there, with nothing larger before
/// it and nothing smaller after it (Hoare's quickselect, median-of-three pivots).
func select(_ a: UnsafeMutableBufferPointer<Float>, _ k: Int) {
    var left = 0, right = a.count - 1
    while right > left {
        let mid = left + (right - left) / 2
        if a[mid] < a[left] { a.swapAt(mid, left) }
        if a[right] < a[left] { a.swapAt(right, left) }
        if a[right] < a[mid] { a.swapAt(right, mid) }
        let pivot = a[mid]
        var i = left, j = right
        while i <= j {
            while a[i] < pivot { i += 1 }
            while pivot < a[j] { j -= 1 }
            if i <= j { a.swapAt(i, j); i += 1; j -= 1 }
        }
        if k <= j { right = j } else if k >= i { left = i } else { return }
    }
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
