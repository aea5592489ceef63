import MorphoCore
import Profiling

/// Replicate reproducibility without MoA labels: for every non-control row, the other rows are ranked
/// by similarity and the average precision of retrieving the rows of the same treatment is taken
/// (mean over queries = replicate mAP). Used to choose pipeline settings without looking at MoAs.
public enum ReplicateRetrieval {
    public static func meanAveragePrecision(_ rows: FeatureTable, strata: [String], similarity: Similarity,
                                            controls: Controls = Controls()) throws -> Double {
        let isControl = try controls.mask(rows)
        let groups = try RowGroups(rows, by: strata)
        var label = [Int](repeating: -1, count: rows.rowCount)
        for (g, members) in groups.rows.enumerated() { for r in members { label[r] = g } }
        let keep = (0..<rows.rowCount).filter { !isControl[$0] }
        let sim = similarity.matrix(rows.matrix(rows: keep))
        var total = 0.0, queries = 0
        for (qi, q) in keep.enumerated() {
            let others = keep.indices.filter { $0 != qi }
            guard others.contains(where: { label[keep[$0]] == label[q] }) else { continue }
            let ranked = rankBySimilarity(sim, query: qi, candidates: others)
            total += averagePrecision(ranked) { label[keep[$0]] == label[q] }
            queries += 1
        }
        return queries == 0 ? .nan : total / Double(queries)
    }
}
