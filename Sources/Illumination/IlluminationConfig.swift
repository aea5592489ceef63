import MorphoCore

/// Parameters of the illumination function (Singh et al. 2014, CellProfiler's
/// CorrectIlluminationCalculate with "All" images, median smoothing and robust-minimum rescaling).
public struct IlluminationConfig: Codable, Sendable, Hashable {
    /// Fields are averaged after shrinking by this factor (area averaging), as DeepProfiler does;
    /// 1 averages at full resolution.
    public var downscale = 4
    /// Side of the square median filter in full-resolution pixels (applied at the shrunk scale).
    public var medianFilterSize = 101
    /// The function is divided by this percentile of its positive values (and clamped below it), so
    /// that it is >= 1 and dividing by it never amplifies the dim corners beyond the robust minimum.
    public var robustMinimumPercentile = 2.0
    /// Channels to correct; nil: every channel of the experiment.
    public var channels: [String]?

    public init() {}

    public func validate() throws {
        func check(_ ok: Bool, _ key: String, _ problem: String) throws {
            if !ok { throw MorphoError.config(key: "illumination.\(key)", problem: problem) }
        }
        try check((1...64).contains(downscale), "downscale", "must be in 1...64, got \(downscale)")
        try check(medianFilterSize >= 1, "medianFilterSize", "must be >= 1, got \(medianFilterSize)")
        try check(robustMinimumPercentile >= 0 && robustMinimumPercentile < 100, "robustMinimumPercentile",
                  "must be in [0, 100), got \(robustMinimumPercentile)")
        if let channels { try check(!channels.isEmpty, "channels", "must name at least one channel") }
    }
}
