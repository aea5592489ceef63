import MorphoCore

/// How nuclei are found on the DNA channel. Defaults follow CellProfiler's IdentifyPrimaryObjects with
/// an Otsu global threshold and "intensity / intensity" declumping.
public struct SegmentationConfig: Codable, Sendable, Equatable, Hashable {
    public enum Threshold: String, Codable, Sendable, CaseIterable {
        /// Two-class Otsu.
        case otsu
        /// Three-class Otsu with the middle class counted as foreground (the lower threshold).
        case otsu3Foreground = "otsu3-foreground"
        /// Three-class Otsu with the middle class counted as background (the upper threshold).
        case otsu3Background = "otsu3-background"
    }

    /// Where the seeds of touching nuclei are (CellProfiler's "method to distinguish clumped objects").
    public enum Declump: String, Codable, Sendable, CaseIterable {
        /// Connected components only.
        case none
        /// Maxima of the smoothed DNA intensity.
        case intensity
        /// Maxima of the distance transform of the mask.
        case shape
        /// Maxima of distance transform x smoothed intensity: centres of bright, round regions.
        case hybrid
    }

    /// Where the dividing lines between declumped nuclei run (CellProfiler's "method to draw dividing lines").
    public enum DividingLines: String, Codable, Sendable, CaseIterable {
        /// Watershed on the inverted smoothed intensity: lines along dark valleys.
        case intensity
        /// Watershed on the inverted distance transform: lines across necks.
        case shape
        /// Geodesic propagation from the seeds inside the mask: each pixel goes to the nearest seed.
        case propagate
    }

    /// Name of the DNA channel; nil means the first channel of the experiment.
    public var dnaChannel: String?
    /// Standard deviation (pixels) of the Gaussian applied before thresholding; 0 disables it.
    public var smoothingSigma = 1.0
    public var threshold = Threshold.otsu
    /// Computes the threshold on log(intensity) (CellProfiler's "log transform before thresholding"),
    /// which keeps a few very bright nuclei from raising it above the dim ones.
    public var logTransform = false
    /// Multiplies the automatic threshold (CellProfiler's "threshold correction factor").
    public var thresholdScale = 1.0
    /// Lower bound on the threshold, in image units (after illumination correction).
    public var minimumThreshold = 0.0
    /// When set, the threshold is adaptive (CellProfiler's "Adaptive" scope): the configured method
    /// runs in blocks of about this many pixels, the block thresholds are interpolated bilinearly
    /// between block centres, scaled by `thresholdScale` and bounded to 0.7...1.5x the global
    /// threshold. Dim nuclei far from bright ones keep their full extent. nil: one global threshold.
    public var adaptiveWindow: Int?
    public var fillHoles = true
    /// Objects whose equivalent diameter 2 sqrt(area / pi) lies outside [minDiameter, maxDiameter]
    /// pixels are removed.
    public var minDiameter = 8.0
    public var maxDiameter = 80.0
    public var removeBorderObjects = false
    public var declump = Declump.intensity
    public var dividingLines = DividingLines.intensity
    /// Sigma of the smoothing that finds declumping seeds; nil: minDiameter / 3.5 (CellProfiler).
    public var declumpSigma: Double?
    /// Seeds closer than this (pixels) are merged; nil: minDiameter / 1.5 (CellProfiler).
    public var maximaSuppressionDistance: Double?

    /// When set, each object keeps only its pixels brighter than background + f x (its 95th percentile
    /// - background), background being the median outside the mask: a per-object threshold that trims
    /// the halo a global threshold leaves around bright nuclei. nil: off.
    public var refineFraction: Double?

    public init() {}

    /// Checks the values, naming the first bad key.
    public func validate() throws {
        func check(_ ok: Bool, _ key: String, _ problem: String) throws {
            if !ok { throw MorphoError.config(key: "segmentation.\(key)", problem: problem) }
        }
        try check(smoothingSigma >= 0 && smoothingSigma <= 50, "smoothingSigma", "must be in 0...50, got \(smoothingSigma)")
        try check(thresholdScale > 0, "thresholdScale", "must be positive, got \(thresholdScale)")
        try check(minDiameter >= 1 && maxDiameter >= minDiameter, "minDiameter",
                  "need 1 <= minDiameter <= maxDiameter, got \(minDiameter) and \(maxDiameter)")
        if let a = adaptiveWindow { try check(a >= 8, "adaptiveWindow", "must be >= 8 pixels, got \(a)") }
        if let s = declumpSigma { try check(s >= 0, "declumpSigma", "must be >= 0, got \(s)") }
        if let f = refineFraction { try check(f >= 0 && f < 1, "refineFraction", "must be in [0, 1), got \(f)") }
        if let d = maximaSuppressionDistance { try check(d >= 1, "maximaSuppressionDistance", "must be >= 1, got \(d)") }
    }
}
