import MorphoCore

/// The feature-selection step of a profile pipeline, chosen without MoA labels: near-zero variance,
/// replicate reproducibility (median replicate Pearson over the treatments with `replicates` wells),
/// and a greedy correlation threshold; columns with NaN are always dropped. Steps run in that order,
/// each on the features the previous one kept, on all rows (as cytominer's vignette does).
public struct SelectFeatures: Sendable, Equatable, Codable {
    public var nearZeroVariance: Bool
    /// Keep features with median replicate correlation >= this; nil: skip the step.
    public var minReplicateCorrelation: Double?
    public var replicateStrata: [String]
    public var replicates: Int
    /// Drop one of every pair with |r| above this; nil: skip the step.
    public var correlationCutoff: Double?

    public init(nearZeroVariance: Bool = true, minReplicateCorrelation: Double? = 0.5,
                replicateStrata: [String] = ["Metadata_Compound", "Metadata_Concentration"], replicates: Int = 3,
                correlationCutoff: Double? = 0.95) {
        self.nearZeroVariance = nearZeroVariance
        self.minReplicateCorrelation = minReplicateCorrelation
        self.replicateStrata = replicateStrata
        self.replicates = replicates
        self.correlationCutoff = correlationCutoff
    }

    public struct Report: Sendable, Equatable {
        /// (step, features dropped by it), in order.
        public var steps: [(step: String, dropped: [String])] = []
        public var kept: Int = 0

        public static func == (a: Report, b: Report) -> Bool {
            a.kept == b.kept && a.steps.map { "\($0.step):\($0.dropped)" } == b.steps.map { "\($0.step):\($0.dropped)" }
        }

        public var summary: String {
            (steps.map { "\($0.step): -\($0.dropped.count)" } + ["kept \(kept)"]).joined(separator: ", ")
        }
    }

    public func apply(_ table: FeatureTable) throws -> (FeatureTable, Report) {
        var t = table
        var report = Report()
        func drop(_ step: String, _ columns: [Int]) {
            let dropped = Set(columns)
            report.steps.append((step, columns.sorted().map { t.featureNames[$0] }))
            t = t.selectingFeatures((0..<t.featureCount).filter { !dropped.contains($0) })
        }
        drop("NaN columns", FeatureSelection.naColumns(t.matrix(), cutoff: 0))
        if nearZeroVariance { drop("near-zero variance", FeatureSelection.nearZeroVariance(t.matrix())) }
        if let threshold = minReplicateCorrelation {
            let r = try FeatureSelection.replicateCorrelation(t, strata: replicateStrata, replicates: replicates)
            drop("replicate correlation < \(threshold)", r.indices.filter { r[$0] < threshold })
        }
        if let cutoff = correlationCutoff {
            drop("correlation > \(cutoff)", FeatureSelection.correlationThreshold(t.matrix(), cutoff: cutoff))
        }
        guard t.featureCount > 0 else { throw MorphoError.data(context: "feature selection", problem: "no feature survived") }
        report.kept = t.featureCount
        return (t, report)
    }
}
