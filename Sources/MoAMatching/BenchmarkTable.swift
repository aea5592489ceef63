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
    /// with shrinkage, after z-scoring, with shrinkage and per-batch alignment); each with and without selection.
    public static func pipelines() -> [ProfilePipeline] {
        let z = ControlNormalization(method: .standardize)
        let robust = ControlNormalization(method: .robustStandardize)
        let tvn = TypicalVariationNormalization(whitening: .pca)
        var zca = tvn; zca.whitening = .zca
        var shrunk = tvn; shrunk.shrinkage = 0.1
        var aligned = shrunk; aligned.alignBatches = "Metadata_Batch"
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
                ProfilePipeline(name: "TVN pca shrink 0.1 + batch align" + suffix, selection: s, normalization: .tvn(aligned)),
            ]
        }
        return out
    }

    /// The sweep over TVN regularization (shrinkage x batch alignment x selection) that `morpho bench
    /// moa --sweep` prints; its winner by replicate mAP is chosen without MoA labels.
    public static func tvnSweep() -> [ProfilePipeline] {
        var out = [ProfilePipeline]()
        for select in [false, true] {
            for align in [false, true] {
                for shrinkage in [0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5] {
                    var tvn = TypicalVariationNormalization(whitening: .pca, shrinkage: shrinkage)
                    if align { tvn.alignBatches = "Metadata_Batch" }
                    let name = "TVN shrink \(shrinkage)" + (align ? " + batch align" : "") + (select ? " + selection" : "")
                    out.append(ProfilePipeline(name: name, selection: select ? SelectFeatures() : nil, normalization: .tvn(tvn)))
                }
            }
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
                let (nsc, nscb) = try BBBC021Benchmark.evaluate(normalized: normalized, wells: wells, strata: p.treatmentStrata, similarity: s)
                out.append(Row(pipeline: p.name, similarity: s, features: normalized.featureCount, replicateMAP: map,
                               nsc: nsc, nscb: nscb, notes: notes))
            }
        }
        return out
    }

    /// A fixed-width table; the row with the best replicate mAP (chosen without MoA labels) is marked *.
    public static func render(_ rows: [Row]) -> String {
        let best = rows.indices.max { rows[$0].replicateMAP < rows[$1].replicateMAP }
        func pad(_ s: String, _ n: Int, right: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, n - s.count))
            return right ? fill + s : s + fill
        }
        let width = max(36, (rows.map(\.pipeline.count).max() ?? 0) + 3)
        var lines = [pad("pipeline", width) + pad("sim", 8) + pad("features", 9, right: true) + pad("rep mAP", 9, right: true)
                     + pad("NSC", 16, right: true) + pad("NSCB", 15, right: true) + pad("MoA mAP", 9, right: true)]
        for (i, r) in rows.enumerated() {
            let nsc = "\(r.nsc.correct)/\(r.nsc.scored) \(String(format: "%.2f", r.nsc.accuracy))"
            let nscb = "\(r.nscb.correct)/\(r.nscb.scored) \(String(format: "%.2f", r.nscb.accuracy))"
            lines.append(pad((i == best ? "* " : "  ") + r.pipeline, width) + pad(r.similarity.rawValue, 8)
                         + pad("\(r.features)", 9, right: true) + pad(String(format: "%.3f", r.replicateMAP), 9, right: true)
                         + pad(nsc, 16, right: true) + pad(nscb, 15, right: true)
                         + pad(String(format: "%.3f", r.nsc.meanAveragePrecision), 9, right: true))
        }
        lines.append("* = highest replicate mAP (treatment replicates retrieved among wells; no MoA labels used)")
        return lines.joined(separator: "\n")
    }
}
