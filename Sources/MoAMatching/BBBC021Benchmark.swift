import Foundation
import MorphoCore
import Profiling

/// The MoA benchmark on BBBC021 well profiles (`morpho bench moa`).
public enum BBBC021Benchmark {
    public static let compound = "Metadata_Compound", concentration = "Metadata_Concentration"
    public static let moa = "Metadata_MoA", plate = "Metadata_Plate", batch = "Metadata_Batch"

    /// Treatments to match for treatment profiles aggregated by compound + concentration, with the
    /// batches taken from the wells (`wells` must carry Metadata_Batch). Controls are left out.
    public static func treatments(_ profiles: FeatureTable, wells: FeatureTable, control: String = "DMSO") throws -> (rows: [Int], treatments: [MatchTreatment]) {
        guard let pc = profiles.metadataColumn(compound)?.texts, let pn = profiles.metadataColumn(concentration)?.texts,
              let pm = profiles.metadataColumn(moa)?.texts else {
            throw MorphoError.data(context: "MoA matching", problem: "treatment profiles need \(compound), \(concentration) and \(moa)")
        }
        guard let wc = wells.metadataColumn(compound)?.texts, let wn = wells.metadataColumn(concentration)?.texts,
              let wb = wells.metadataColumn(batch)?.texts else {
            throw MorphoError.data(context: "MoA matching", problem: "wells need \(compound), \(concentration) and \(batch)")
        }
        var batches = [String: Set<String>]()
        for r in 0..<wells.rowCount { batches["\(wc[r])@\(wn[r])", default: []].insert(wb[r]) }
        var rows = [Int](), out = [MatchTreatment]()
        for r in 0..<profiles.rowCount where pc[r] != control {
            guard !pm[r].isEmpty else {
                throw MorphoError.data(context: "MoA matching", problem: "treatment \(pc[r])@\(pn[r]) has no MoA annotation")
            }
            rows.append(r)
            out.append(MatchTreatment(name: "\(pc[r])@\(pn[r])", compound: pc[r], moa: pm[r], batches: batches["\(pc[r])@\(pn[r])"] ?? []))
        }
        return (rows, out)
    }

    /// NSC and NSCB of rows already normalized by a pipeline: the rows are averaged per treatment
    /// (`strata`) and matched over one similarity matrix.
    public static func evaluate(normalized rows: FeatureTable, wells: FeatureTable, strata: [String] = [compound, concentration],
                                similarity: Similarity, k: Int = 1) throws -> (nsc: MatchResult, nscb: MatchResult) {
        let profiles = try Aggregate.aggregate(rows, by: strata, operation: .mean)
        let (keep, treatments) = try treatments(profiles, wells: wells)
        let results = try MoAMatcher(similarity: similarity, k: k)
            .evaluate(profiles: profiles.matrix(rows: keep), treatments: treatments, protocols: [.nsc, .nscb])
        guard results[0].scored > 0 else {
            throw MorphoError.data(context: "MoA matching", problem: "none of the \(treatments.count) treatments has a treatment of the same MoA and another compound to be matched to, so NSC cannot be scored (check Metadata_MoA and Metadata_Compound)")
        }
        return (results[0], results[1])
    }

    /// NSC and NSCB of one pipeline run on `wells`.
    public static func evaluate(_ pipeline: ProfilePipeline, wells: FeatureTable, similarity: Similarity, k: Int = 1) throws -> (nsc: MatchResult, nscb: MatchResult, notes: [String]) {
        let (rows, notes) = try pipeline.normalizedRows(wells)
        let (nsc, nscb) = try evaluate(normalized: rows, wells: wells, strata: pipeline.treatmentStrata, similarity: similarity, k: k)
        return (nsc, nscb, notes)
    }

    // MARK: - The published protocol

    /// The result of the cytominer vignette's protocol.
    public struct PublishedResult: Sendable {
        /// Features after each step: input, variance, replicate correlation, correlation, NaN columns.
        public var featureCounts: [(step: String, count: Int)]
        public var treatments: Int
        /// As the vignette computes it: same-compound similarities are multiplied by -Inf, so a
        /// negative same-compound correlation becomes +Inf and wins.
        public var correctAsPublished: Int
        /// The same with a proper not-same-compound exclusion.
        public var correctNSC: Int
    }

    /// cytominergallery's `predict_moa` vignette (Goodman & Singh), step by step: caret near-zero
    /// variance on all wells; replicate correlation over compound + concentration with 3 replicates
    /// (median Pearson >= 0.5 kept); caret findCorrelation at 0.95 on all wells; per-plate DMSO
    /// standardize with mean and sd (zero sd gives Inf/NaN, as in R); drop columns with more than 5%
    /// NaN; mean per compound + concentration + MoA; Pearson 1-NN not-same-compound over the 103
    /// treatments. Published: 84 of 103 (0.82).
    public static func publishedProtocol(_ wells: FeatureTable) throws -> PublishedResult {
        var counts = [("input", wells.featureCount)]
        var t = wells
        t = t.selectingFeatures(complement(FeatureSelection.nearZeroVariance(t.matrix()), t.featureCount))
        counts.append(("near-zero variance", t.featureCount))
        let r = try FeatureSelection.replicateCorrelation(t, strata: [compound, concentration], replicates: 3)
        t = t.selectingFeatures(r.indices.filter { !(r[$0] < 0.5) })  // NaN medians are kept, as R's filter() does
        counts.append(("replicate correlation", t.featureCount))
        t = t.selectingFeatures(complement(FeatureSelection.correlationThreshold(t.matrix(), cutoff: 0.95), t.featureCount))
        counts.append(("correlation threshold", t.featureCount))

        // Per-plate standardize against DMSO, raw division as in R.
        let plates = try RowGroups(t, by: [plate])
        let compounds = t.metadataColumn(compound)!.texts
        let d = t.featureCount
        var x = t.matrix()
        for members in plates.rows {
            let controls = members.filter { compounds[$0] == "DMSO" }
            for j in 0..<d {
                let v = controls.map { x[$0, j] }
                let m = Stats.mean(v), s = Stats.sd(v)
                for r in members { x[r, j] = (x[r, j] - m) / s }
            }
        }
        let naColumns = Set(FeatureSelection.naColumns(x, cutoff: 0.05))
        let keep = (0..<d).filter { !naColumns.contains($0) }
        counts.append(("NaN columns", keep.count))

        // Mean per treatment (NaN propagates, as R's mean without na.rm).
        let groups = try RowGroups(t, by: [compound, concentration, moa])
        var names = [String](), moas = [String](), profiles = [[Double]]()
        for (g, members) in groups.rows.enumerated() where groups.keys[g][0] != "DMSO" {
            names.append(groups.keys[g][0])
            moas.append(groups.keys[g][2])
            profiles.append(keep.map { j in members.map { x[$0, j] }.reduce(0, +) / Double(members.count) })
        }
        let n = profiles.count
        let corr = Similarity.pearson.matrix(Matrix(rows: n, cols: keep.count, values: profiles.flatMap { $0 }))
        var asPublished = 0, nsc = 0
        for q in 0..<n {
            // R: correlation * mask, mask = 1 for other compounds and -Inf for the same compound;
            // order(decreasing = TRUE) puts NaN last and keeps index order among ties.
            let masked = (0..<n).map { c -> Double in names[c] == names[q] ? corr[q, c] * -.infinity : corr[q, c] }
            if moas[argmax(masked)] == moas[q] { asPublished += 1 }
            let proper = (0..<n).map { c -> Double in names[c] == names[q] ? -.infinity : corr[q, c] }
            if moas[argmax(proper)] == moas[q] { nsc += 1 }
        }
        return PublishedResult(featureCounts: counts, treatments: n, correctAsPublished: asPublished, correctNSC: nsc)
    }

    static func complement(_ dropped: [Int], _ count: Int) -> [Int] {
        let d = Set(dropped)
        return (0..<count).filter { !d.contains($0) }
    }

    /// First index of the largest value, NaN ranking last (R's order(decreasing = TRUE)[1]).
    static func argmax(_ v: [Double]) -> Int {
        var best = -1
        for i in v.indices where !v[i].isNaN && (best < 0 || v[i] > v[best]) { best = i }
        return best < 0 ? 0 : best
    }
}
