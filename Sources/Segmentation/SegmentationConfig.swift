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

    /// Scope of the threshold.
    public enum ThresholdScope: String, Codable, Sendable, CaseIterable {
        /// One threshold for the whole field.
        case global
        /// CellProfiler's "Adaptive": per-block thresholds interpolated between block centres.
        case adaptive
    }

    /// Where an estimated nucleus diameter holds.
    public enum DiameterScope: String, Codable, Sendable, CaseIterable {
        /// One diameter per plate: the median of the estimates on up to 8 fields spread over the plate
        /// (fields without separable foreground do not count), as CellProfiler uses one size range for
        /// a whole run; every field of the plate is then segmented at that scale.
        case plate
        /// Estimated on every field (a single image is always segmented so).
        case field
    }

    /// Name of the DNA channel; nil: the channel whose name says DNA (DNA, OrigDNA, Hoechst, DAPI, ...).
    public var dnaChannel: String?
    /// Typical nucleus diameter in pixels; nil: estimated (see `NucleusScale`) per plate or per field
    /// (`diameterScope`). The smoothing, seed and size settings left unset are derived from it.
    public var diameter: Double?
    /// Whether an estimated diameter is one per plate (from a sample of fields) or one per field.
    public var diameterScope = DiameterScope.plate
    /// Standard deviation (pixels) of the Gaussian applied before thresholding; 0 disables it;
    /// nil: max(0.5, diameter / 24) (CellProfiler's 1 px at 24 px).
    public var smoothingSigma: Double?
    public var threshold = Threshold.otsu
    /// Computes the threshold on log(intensity) (CellProfiler's "log transform before thresholding"),
    /// which keeps a few very bright nuclei from raising it above the dim ones.
    public var logTransform = false
    /// Multiplies the automatic threshold (CellProfiler's "threshold correction factor").
    public var thresholdScale = 1.0
    /// Lower bound on the threshold, in image units (after illumination correction).
    public var minimumThreshold = 0.0
    /// Adaptive (default): the configured method runs in blocks of `adaptiveWindow` pixels, the block
    /// thresholds are interpolated bilinearly between block centres, scaled by `thresholdScale` and
    /// bounded to 0.7...1.5x the global threshold, so dim nuclei far from bright ones keep their
    /// full extent. Global: one threshold.
    public var thresholdScope = ThresholdScope.adaptive
    /// Block size of the adaptive threshold in pixels; nil: max(16, 1.75 x diameter) (CellProfiler's 50 px at about 28 px).
    public var adaptiveWindow: Int?
    public var fillHoles = true
    /// Objects whose equivalent diameter 2 sqrt(area / pi) lies outside [minDiameter, maxDiameter]
    /// pixels are removed; nil: diameter / 3 and 3 x diameter. When both are set and `diameter` is
    /// not, the diameter is their geometric mean (CellProfiler's typical 10...40 px gives 20).
    public var minDiameter: Double?
    public var maxDiameter: Double?
    public var removeBorderObjects = false
    public var declump = Declump.shape
    public var dividingLines = DividingLines.shape
    /// Sigma of the smoothing of the seed surface; nil: max(0.5, diameter / 20).
    public var declumpSigma: Double?
    /// Seeds are the maxima of the seed surface (scaled to pixels of distance: the distance transform
    /// as is, intensity as a fraction of its 99th percentile inside the mask times diameter / 2) whose
    /// dynamic is at least this many pixels (h-maxima); nil: max(0.2, diameter / 80).
    public var seedDynamic: Double?
    /// When set, seeds are instead all local maxima at least this far apart (CellProfiler's
    /// suppression distance, pixels).
    public var maximaSuppressionDistance: Double?

    /// When set, each object keeps only its pixels brighter than background + f x (its 95th percentile
    /// - background), background being the median outside the mask: a per-object threshold that trims
    /// the halo a global threshold leaves around bright nuclei. nil: off.
    public var refineFraction: Double? = 0.4

    /// Field QC: what makes a field's nuclei dropped from the locations (the field stays in the
    /// fields table with its flags). `empty`: no foreground separable from the background;
    /// `saturated`: more than a fifth of the foreground at the image's maximum; `out-of-focus`: focus
    /// score far below the plate's (robust z < -3, plates of 8 fields or more).
    public var dropFlagged: [FieldFlag] = FieldFlag.allCases

    public init() {}

    /// Checks the values, naming the first bad key.
    public func validate() throws {
        func check(_ ok: Bool, _ key: String, _ problem: String) throws {
            if !ok { throw MorphoError.config(key: "segmentation.\(key)", problem: problem) }
        }
        if let s = smoothingSigma { try check(s >= 0 && s <= 50, "smoothingSigma", "must be in 0...50, got \(s)") }
        try check(thresholdScale > 0, "thresholdScale", "must be positive, got \(thresholdScale)")
        if let d = diameter { try check(d >= 3 && d <= 2000, "diameter", "must be in 3...2000 pixels, got \(d)") }
        if let lo = minDiameter { try check(lo >= 1, "minDiameter", "must be >= 1, got \(lo)") }
        if let lo = minDiameter, let hi = maxDiameter {
            try check(hi >= lo, "maxDiameter", "need minDiameter <= maxDiameter, got \(lo) and \(hi)")
        }
        if let h = seedDynamic { try check(h > 0, "seedDynamic", "must be > 0, got \(h)") }
        if let a = adaptiveWindow { try check(a >= 8, "adaptiveWindow", "must be >= 8 pixels, got \(a)") }
        if let s = declumpSigma { try check(s >= 0, "declumpSigma", "must be >= 0, got \(s)") }
        if let f = refineFraction { try check(f >= 0 && f < 1, "refineFraction", "must be in [0, 1), got \(f)") }
        if let d = maximaSuppressionDistance { try check(d >= 1, "maximaSuppressionDistance", "must be >= 1, got \(d)") }
    }

    /// The diameter set by the user (directly, or as the geometric mean of both size limits); nil:
    /// estimate it from each field.
    public var configuredDiameter: Double? {
        if let diameter { return diameter }
        if let lo = minDiameter, let hi = maxDiameter { return (lo * hi).squareRoot() }
        return nil
    }

    /// Every setting that depends on the nucleus diameter, for a field whose diameter is `d`.
    public func resolved(diameter d: Double) -> ResolvedSegmentation {
        ResolvedSegmentation(diameter: d, smoothingSigma: smoothingSigma ?? max(0.5, d / 24),
                             adaptiveWindow: thresholdScope == .adaptive ? adaptiveWindow ?? max(16, Int((1.75 * d).rounded())) : nil,
                             minDiameter: minDiameter ?? max(3, d / 3), maxDiameter: maxDiameter ?? 3 * d,
                             seedSigma: declumpSigma ?? max(0.5, d / 20), seedDynamic: seedDynamic ?? max(0.2, d / 80))
    }
}

/// A field's segmentation settings in pixels, after the diameter is known.
public struct ResolvedSegmentation: Sendable, Equatable {
    public var diameter: Double
    public var smoothingSigma: Double
    /// nil: global threshold.
    public var adaptiveWindow: Int?
    public var minDiameter: Double
    public var maxDiameter: Double
    public var seedSigma: Double
    public var seedDynamic: Double
}

/// Why a field's nuclei may be dropped (see `SegmentationConfig.dropFlagged`).
public enum FieldFlag: String, Codable, Sendable, CaseIterable {
    case empty
    case saturated
    case outOfFocus = "out-of-focus"
}

