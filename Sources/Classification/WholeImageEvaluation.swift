import Foundation
import MorphoCore

/// Leave-one-compound-out evaluation of a whole-image classifier (Kensert et al. 2019): one fold per
/// annotated compound, trained afresh without it; predictions are aggregated by element-wise medians
/// (tiles -> well, wells -> treatment) and the argmax is the predicted mechanism.
public enum WholeImageEvaluation {
    /// `nsc`: leave the compound out. `nscb`: also leave out every tile of the compound's batches, so no
    /// prediction can lean on batch effects shared with training images (Ljosa et al. 2013's NSCB).
    /// `batch`: one fold per batch (leave-one-batch-out; with one cell line per batch, as in Kensert et al.'s
    /// BBBC014 translocation protocol, leave-one-cell-line-out).
    public enum Holdout: String, Codable, Sendable, CaseIterable {
        case nsc, nscb, batch
    }

    public struct Fold: Sendable, Equatable {
        public var holdout: Holdout
        /// The compound left out, or the batch for `batch` folds.
        public var compound: String
        public var train: [Int]
        public var test: [Int]
        /// The unit name: `<holdout>-<compound>` with characters outside [A-Za-z0-9._-] replaced by `_`.
        public var name: String { Self.unitName(holdout, compound) }

        public static func unitName(_ holdout: Holdout, _ compound: String) -> String {
            holdout.rawValue + "-" + String(compound.unicodeScalars.map {
                CharacterSet.alphanumerics.contains($0) && $0.isASCII || "._-".unicodeScalars.contains($0) ? Character($0) : "_"
            })
        }
    }

    /// The mechanisms (classes) of the annotated treatments other than `control`, sorted.
    public static func classes(_ treatments: [Treatment], control: String? = nil) -> [String] {
        Set(treatments.filter { $0.compound != control }.compactMap(\.moa)).sorted()
    }

    /// The compounds of the annotated treatments other than `control`, naturally sorted: one fold each.
    public static func compounds(_ treatments: [Treatment], control: String? = nil) -> [String] {
        Set(treatments.filter { $0.moa != nil && $0.compound != control }.map(\.compound)).sorted(by: naturalLess)
    }

    /// The fold holding out `compound` (a batch for `batch` folds): its annotated tiles are the test set;
    /// training takes every other annotated tile (with `nscb`, none from the test compound's batches).
    public static func fold(_ records: [TileRecord], compound: String, holdout: Holdout) -> Fold {
        let held = { (r: TileRecord) in holdout == .batch ? r.batch == compound : r.treatment.compound == compound }
        let test = records.indices.filter { held(records[$0]) && records[$0].treatment.moa != nil }
        let batches = Set(test.map { records[$0].batch })
        let train = records.indices.filter { i in
            let r = records[i]
            return r.treatment.moa != nil && !held(r) && (holdout == .nsc || !batches.contains(r.batch))
        }
        return Fold(holdout: holdout, compound: compound, train: train, test: test)
    }

    /// Element-wise median of rows (the mean of the two middle values for an even count).
    public static func median(_ rows: [[Double]]) -> [Double] {
        guard let first = rows.first else { return [] }
        return first.indices.map { j in
            let v = rows.map { $0[j] }.sorted(), n = v.count
            return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
        }
    }

    /// One scored unit (a treatment, or a field): its true class, median probabilities and prediction.
    public struct Scored: Sendable {
        public var key: String
        /// The treatment (`compound@concentration`) it shows.
        public var treatment: String
        public var compound: String
        /// The fold that predicted it (set by the caller).
        public var fold = ""
        public var truth: Int
        public var probabilities: [Double]
        public var predicted: Int { probabilities.indices.max { probabilities[$0] < probabilities[$1] } ?? 0 }
    }

    /// Treatments: the median over replicate wells of the median over each well's tiles.
    public static func treatments(_ records: [TileRecord], rows: [[Double]], classes: [String]) -> [Scored] {
        var wells = [String: [Int]]()
        for (i, r) in records.enumerated() { wells["\(r.treatment.key)|\(r.plate)|\(r.well)", default: []].append(i) }
        var byTreatment = [String: [[Double]]]()
        var sample = [String: TileRecord]()
        for key in wells.keys.sorted() {
            let tiles = wells[key]!, r = records[tiles[0]]
            byTreatment[r.treatment.key, default: []].append(median(tiles.map { rows[$0] }))
            sample[r.treatment.key] = r
        }
        return byTreatment.keys.sorted(by: naturalLess).compactMap { key in
            let r = sample[key]!
            guard let moa = r.treatment.moa, let y = classes.firstIndex(of: moa) else { return nil }
            return Scored(key: key, treatment: key, compound: r.treatment.compound, truth: y, probabilities: median(byTreatment[key]!))
        }
    }

    /// Fields (images): the median over each field's tiles.
    public static func fields(_ records: [TileRecord], rows: [[Double]], classes: [String]) -> [Scored] {
        var groups = [String: [Int]]()
        for (i, r) in records.enumerated() { groups["\(r.plate)|\(r.well)|\(r.site)", default: []].append(i) }
        return groups.keys.sorted(by: naturalLess).compactMap { key in
            let r = records[groups[key]![0]]
            guard let moa = r.treatment.moa, let y = classes.firstIndex(of: moa) else { return nil }
            return Scored(key: key, treatment: r.treatment.key, compound: r.treatment.compound, truth: y, probabilities: median(groups[key]!.map { rows[$0] }))
        }
    }

    public static func accuracy(_ scored: [Scored]) -> Double {
        scored.isEmpty ? .nan : Double(scored.filter { $0.predicted == $0.truth }.count) / Double(scored.count)
    }

    /// counts[truth][predicted].
    public static func confusion(_ scored: [Scored], classes: Int) -> [[Int]] {
        var m = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        for s in scored { m[s.truth][s.predicted] += 1 }
        return m
    }
}

/// Split-conformal prediction sets (Vovk et al. 2005; Angelopoulos & Bates 2021): with nonconformity
/// scores s_i of n calibration items, the threshold is the ceil((n + 1)(1 - alpha))-th smallest score, and the
/// set of a new item holds every class whose score is at most the threshold; if calibration and test items
/// are exchangeable, P(truth in set) >= 1 - alpha.
public struct ConformalPredictor: Sendable {
    public enum Score: String, Codable, Sendable, CaseIterable {
        /// LAC (Sadinle et al. 2019): 1 - p_y; smallest average sets.
        case lac
        /// APS (Romano et al. 2020): the total probability of classes at least as likely as y; adaptive sets.
        case aps
    }

    public let score: Score
    public let threshold: Double

    /// Calibrates on probability rows with their true classes for coverage `1 - alpha`. With too few items
    /// for that coverage the threshold is infinite (every set is every class).
    public init(score: Score, calibration rows: [[Double]], truths: [Int], alpha: Double) {
        self.score = score
        let scores = zip(rows, truths).map { Self.score(score, $0.0, $0.1) }.sorted()
        let k = Int((Double(scores.count + 1) * (1 - alpha)).rounded(.up))
        threshold = k <= scores.count && k >= 1 ? scores[k - 1] : .infinity
    }

    static func score(_ kind: Score, _ p: [Double], _ y: Int) -> Double {
        switch kind {
        case .lac: return 1 - p[y]
        case .aps: return p.filter { $0 > p[y] }.reduce(0, +) + p[y]
        }
    }

    /// The classes in the prediction set of `p`.
    public func set(_ p: [Double]) -> [Int] {
        p.indices.filter { Self.score(score, p, $0) <= threshold + 1e-12 }
    }
}
