/// The p-th percentile (0...100) by linear interpolation between order statistics (numpy's default).
public func percentile(_ values: [Float], _ p: Double) -> Float {
    precondition(!values.isEmpty)
    let sorted = values.sorted()
    let position = p / 100 * Double(sorted.count - 1)
    let lo = Int(position.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
    let f = Float(position - Double(lo))
    return sorted[lo] + (sorted[hi] - sorted[lo]) * f
}
