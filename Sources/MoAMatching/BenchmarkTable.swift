import Foundation
import MorphoCore
import Profiling

/// The table of profile pipelines of `morpho bench moa`: each with NSC, NSCB and the label-free
/// replicate mAP that is used to choose among them.
public enum BenchmarkTable {
    public struct Row: Sendable {
        public var pipeline: String
        public var similarity: Similarity
        public var features: Int
        public var replicateMAP: Double
        public var nsc: MatchResult
        public var nscb: MatchResult
        public var notes: [String]
    }

    /// The pipelines compared: raw; per-plate DMSO z-score and robust z; TVN (PCA and ZCA whitening,
    /// with shrinkage, after z-scoring, with per-batch alignment); each with and without selection.
    public static func pipelines() -> [ProfilePipeline] {
        let z = ControlNormalization(method: .standardize)
        let robust = ControlNormalization(method: .robustStandardize)
        let tvn = TypicalVariationNormalization(whitening: .pca)
        var zca = tvn; zca.whitening = .zca
        var shrunk = tvn; shrunk.shrinkage = 0.1
        var aligned = tvn; aligned.alignBatches = "Metadata_Batch"
        let selection = SelectFeatures()
        var out = [ProfilePipeline]()
        for select in [false, true] {
            let s = select ? selection : nil
            let suffix = select ? " + selection" : ""
            out += [
                ProfilePipeline(name: "raw" + suffix, selection: s, normalization: .none),
                ProfilePipeline(name: "z-score/plate" + suffix, selection: s, normalization: .controls(z)),
                ProfilePipeline(name: "robust z/plate" + suffix, selection: s, normalization: .controls(robust)),
                ProfilePipeline(name: "TVN pca" + suffix, selection: s, normalization: .tvn(tvn)),
                ProfilePipeline(name: "TVN zca" + suffix, selection: s, normalization: .tvn(zca)),
                ProfilePipeline(name: "TVN pca shrink 0.1" + suffix, selection: s, normalization: .tvn(shrunk)),
                ProfilePipeline(name: "z-score + TVN pca" + suffix, selection: s, normalization: .zscoreThenTVN(z, tvn)),
                ProfilePipeline(name: "TVN pca + batch align" + suffix, selection: s, normalization: .tvn(aligned)),
            ]
        }
        return out
    }

    public static func rows(wells: FeatureTable, pipelines: [ProfilePipeline] = pipelines(),
                            similarities: [Similarity] = [.cosine, .pearson]) throws -> [Row] {
        var out = [Row]()
        for p in pipelines {
            let (normalized, notes) = try p.normalizedRows(wells)
            for s in similarities {
                let map = try ReplicateRetrieval.meanAveragePrecision(normalized, strata: p.treatmentStrata, similarity: s)
                let (nsc, nscb, _) = try BBBC021Benchmark.evaluate(p, wells: wells, similarity: s)
                out.append(Row(pipeline: p.name, similarity: s, features: normalized.featureCount, replicateMAP: map,
                               nsc: nsc, nscb: nscb, notes: notes))
            }
        }
        return out
    }

    /// A fixed-width table; the row with the best replicate mAP (chosen without MoA labels) is marked *.
    public static func render(_ rows: [Row]) -> String {
        let best = rows.indices.max { rows[$0].replicateMAP < rows[$1].replicateMAP }
        var lines = [String(format: "%-34@ %-8@ %8@ %8@ %15@ %15@ %8@", "pipeline" as NSString, "sim" as NSString, "features" as NSString,
                            "rep mAP" as NSString, "NSC" as NSString, "NSCB" as NSString, "MoA mAP" as NSString)]
        for (i, r) in rows.enumerated() {
            let nsc = "\(r.nsc.correct)/\(r.nsc.scored) \(String(format: "%.2f", r.nsc.accuracy))"
            let nscb = "\(r.nscb.correct)/\(r.nscb.scored) \(String(format: "%.2f", r.nscb.accuracy))"
            lines.append(String(format: "%-34@ %-8@ %8d %8.3f %15@ %15@ %8.3f", ((i == best ? "* " : "  ") + r.pipeline) as NSString,
                                r.similarity.rawValue as NSString, r.features, r.replicateMAP, nsc as NSString, nscb as NSString,
                                r.nsc.meanAveragePrecision))
        }
        lines.append("* = highest replicate mAP (treatment replicates retrieved among wells; no MoA labels used)")
        return lines.joined(separator: "\n")
    }
}
