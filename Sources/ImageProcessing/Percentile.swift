/// The p-th percentile (0...100) by linear interpolation between order statistics (numpy's default).
/// The k-th order statistic is found by quickselect (expected O(n), no full sort); the next one is
/// the minimum of the part above it.
public func percentile(_ values: [Float], _ p: Double) -> Float {
    precondition(!values.isEmpty)
    var a = values
    return a.withUnsafeMutableBufferPointer { percentileInPlace($0, p) }
}

/// `percentile` of the values in `b`, which it reorders (no copy).
public func percentileInPlace(_ b: UnsafeMutableBufferPointer<Float>, _ p: Double) -> Float {
    precondition(!b.isEmpty)
    let position = p / 100 * Double(b.count - 1)
    let lo = Int(position.rounded(.down)), hi = min(lo + 1, b.count - 1)
    let f = Float(position - Double(lo))
    select(b, lo)
    let low = b[lo]
    guard hi > lo else { return low }
    var high = b[hi]
    for i in (lo + 1)..<b.count where b[i] < high { high = b[i] }
    return low + (high - low) * f
}

/// Percentiles of many values from a histogram of `bins` equal bins over [lo, hi], the values
/// spread evenly inside a bin: within (hi - lo) / bins of the exact percentile (about one unit of a
/// 16-bit image with the default 65536 bins). For statistics of whole images, where copying and
/// selecting millions of pixels would cost more than the work they describe.
public struct BinnedValues: Sendable {
    /// Maps a value in [lo, hi] to its bin (clamped).
    public struct Binning: Sendable {
        public let lo: Float, width: Float, bins: Int
        @usableFromInline let scale: Float
        @inlinable @inline(__always) public func bin(_ v: Float) -> Int { min(bins - 1, max(0, Int((v - lo) * scale))) }
    }
    public let binning: Binning
    public private(set) var counts: [Int32]
    public private(set) var total = 0

    public init(lo: Float, hi: Float, bins: Int = 1 << 16) {
        let width = hi > lo ? (hi - lo) / Float(bins) : 1
        binning = Binning(lo: lo, width: width, bins: bins, scale: 1 / width)
        counts = [Int32](repeating: 0, count: bins)
    }

    /// Fills the histogram through a pointer to its counts (for hot loops, with `binning.bin`);
    /// `body` returns how many values it added.
    public mutating func fill(_ body: (UnsafeMutableBufferPointer<Int32>) -> Int) {
        total += counts.withUnsafeMutableBufferPointer { body($0) }
    }

    /// Both histograms' values together (same binning).
    public func merged(_ other: BinnedValues) -> BinnedValues {
        precondition(binning.lo == other.binning.lo && binning.width == other.binning.width && counts.count == other.counts.count)
        var out = self
        out.counts = zip(counts, other.counts).map(+)
        out.total += other.total
        return out
    }

    /// The p-th percentile (0...100), nil when empty.
    public func percentile(_ p: Double) -> Float? {
        guard total > 0 else { return nil }
        let rank = p / 100 * Double(total - 1)
        var below = 0
        for (k, c) in counts.enumerated() where c > 0 {
            if Double(below + Int(c)) > rank {
                return binning.lo + (Float(k) + Float((rank - Double(below) + 0.5) / Double(c))) * binning.width
            }
            below += Int(c)
        }
        return binning.lo + Float(counts.count) * binning.width
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
