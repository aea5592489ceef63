import Foundation

/// SplitMix64 (Steele, Lea & Flood 2014): a fast 64-bit generator with a 64-bit state. Every
/// stochastic step in Morpho takes a seed and derives its own generator, so the same seed gives the
/// same bytes whatever the thread schedule.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// A generator for one named sub-stream of `seed` (e.g. one field of one plate).
    public init(seed: UInt64, stream: String) {
        state = seed ^ stableHash(stream) &* 0x9E37_79B9_7F4A_7C15
        _ = next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Uniform in [a, b).
    public mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * uniform() }

    /// Standard normal by the Box-Muller transform.
    public mutating func normal() -> Double {
        var u1 = uniform()
        while u1 <= .leastNonzeroMagnitude { u1 = uniform() }
        let u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }

    /// Poisson(lambda): Knuth's product method below 30, else the normal approximation rounded and
    /// clamped at 0 (enough for shot noise at camera count levels).
    public mutating func poisson(_ lambda: Double) -> Double {
        if lambda <= 0 { return 0 }
        if lambda < 30 {
            let limit = exp(-lambda)
            var k = 0.0
            var p = uniform()
            while p > limit { k += 1; p *= uniform() }
            return k
        }
        return max(0, (lambda + lambda.squareRoot() * normal()).rounded())
    }
}

/// FNV-1a 64-bit hash of a string's UTF-8 bytes: stable across runs and platforms (unlike `Hasher`).
public func stableHash(_ s: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return h
}

