import MorphoCore

/// A profile pipeline by name and plain settings (the `morpho profile` options and the pipeline file's
/// `profile:` section): normalization `none`, `zscore`, `robust` (per `groupBy` group against the
/// controls), `tvn-pca`, `tvn-zca` (typical-variation normalization, Ando et al. 2017, whitening fitted on
/// the controls) or `zscore-tvn`; optional feature selection; treatment strata.
public struct ProfileSettings: Codable, Sendable, Equatable {
    public var normalization = "tvn-pca"
    /// Control rows as `COLUMN=VALUE`.
    public var controls = "Metadata_Compound=DMSO"
    /// Column whose groups are normalized (and TVN-centred) separately; "none" for all rows together.
    public var groupBy = "Metadata_Plate"
    /// TVN: shrinkage of the control covariance towards its diagonal (0...1), components kept, batch column.
    public var shrinkage = 0.1
    public var components: Int?
    public var alignBatches: String?
    public var select = false
    public var minReplicateCorrelation = 0.5
    public var correlationCutoff = 0.95
    public var treatmentBy = ["Metadata_Compound", "Metadata_Concentration"]

    public init() {}

    public static let normalizations = ["none", "zscore", "robust", "tvn-pca", "tvn-zca", "zscore-tvn"]

    /// The pipeline these settings describe; errors name the setting (`key` prefixes it).
    public func pipeline(name: String = "settings", key: String = "profile") throws -> ProfilePipeline {
        let parts = controls.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { throw MorphoError.config(key: "\(key).controls", problem: "'\(controls)' is not COLUMN=VALUE") }
        guard (0...1).contains(shrinkage) else { throw MorphoError.config(key: "\(key).shrinkage", problem: "\(shrinkage) is not in 0...1") }
        let spec = Controls(column: parts[0], value: parts[1])
        let group = groupBy == "none" ? nil : groupBy
        let z = ControlNormalization(method: .standardize, groupBy: group, controls: spec)
        func tvn(_ w: TypicalVariationNormalization.Whitening) -> TypicalVariationNormalization {
            TypicalVariationNormalization(whitening: w, controls: spec, centerBy: group, shrinkage: shrinkage, components: components, alignBatches: alignBatches)
        }
        let normalization: ProfilePipeline.Normalization
        switch self.normalization {
        case "none": normalization = .none
        case "zscore": normalization = .controls(z)
        case "robust": normalization = .controls(ControlNormalization(method: .robustStandardize, groupBy: group, controls: spec))
        case "tvn-pca": normalization = .tvn(tvn(.pca))
        case "tvn-zca": normalization = .tvn(tvn(.zca))
        case "zscore-tvn": normalization = .zscoreThenTVN(z, tvn(.pca))
        default:
            throw MorphoError.config(key: "\(key).normalization", problem: "'\(self.normalization)' is not one of \(Self.normalizations.joined(separator: ", "))")
        }
        let selection = select ? SelectFeatures(minReplicateCorrelation: minReplicateCorrelation, correlationCutoff: correlationCutoff) : nil
        return ProfilePipeline(name: name, selection: selection, normalization: normalization, treatmentStrata: treatmentBy)
    }
}
