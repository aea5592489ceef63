import Foundation
import MorphoCore
import Profiling

/// How two treatment profiles are compared.
public enum Similarity: String, Sendable, Codable, CaseIterable {
    /// x . y / (|x| |y|)
    case cosine
    /// cosine similarity of x - mean(x) and y - mean(y) (mean over features)
    case pearson

    /// The n x n similarity matrix of the rows of `x`. A zero-length (or constant, for Pearson) row
    /// has similarity NaN to everything, which ranks below every number (`MoAMatcher` refuses such rows).
    public func matrix(_ x: Matrix) -> Matrix {
        let n = x.rows, d = x.cols
        var z = x.values
        for r in 0..<n {
            if self == .pearson {
                var m = 0.0
                for j in 0..<d { m += z[r * d + j] }
                m /= Double(d)
                for j in 0..<d { z[r * d + j] -= m }
            }
            var ss = 0.0
            for j in 0..<d { ss += z[r * d + j] * z[r * d + j] }
            let norm = ss.squareRoot()
            for j in 0..<d { z[r * d + j] /= norm }
        }
        return Matrix(rows: n, cols: n, values: LinearAlgebra.multiply(z, n, d, z, n, transposeB: true))
    }
}

/// Candidates ordered by similarity to row `query` of `sim`, largest first; NaN ranks last and equal
/// similarities keep candidate order (the deterministic tie-break of every ranking in Morpho).
func rankBySimilarity(_ sim: Matrix, query: Int, candidates: [Int]) -> [Int] {
    candidates.sorted { a, b in
        let sa = sim[query, a], sb = sim[query, b]
        if sa.isNaN != sb.isNaN { return !sa.isNaN }
        return sa != sb && !sa.isNaN ? sa > sb : a < b
    }
}

/// Average precision of a ranking: the mean over relevant items of the precision at their rank.
func averagePrecision(_ ranked: [Int], isRelevant: (Int) -> Bool) -> Double {
    var hits = 0, precision = 0.0
    for (rank, c) in ranked.enumerated() where isRelevant(c) {
        hits += 1
        precision += Double(hits) / Double(rank + 1)
    }
    return hits == 0 ? .nan : precision / Double(hits)
}

/// Which treatments a query may be matched to.
public enum MatchingProtocol: String, Sendable, Codable, CaseIterable {
    /// Not-same-compound: every treatment of the query's compound is excluded.
    case nsc = "NSC"
    /// Not-same-compound-or-batch: also every treatment sharing a batch with the query.
    case nscb = "NSCB"
}

/// One treatment to match: its compound, mechanism and the batches its wells were run in.
public struct MatchTreatment: Sendable, Equatable {
    public var name: String
    public var compound: String
    public var moa: String
    public var batches: Set<String>

    public init(name: String, compound: String, moa: String, batches: Set<String>) {
        self.name = name; self.compound = compound; self.moa = moa; self.batches = batches
    }
}

/// The result of one protocol.
public struct MatchResult: Sendable {
    public var matchingProtocol: MatchingProtocol
    /// Treatments that have at least one same-MoA candidate under the protocol (and so can be scored).
    public var scored: Int
    public var correct: Int
    public var accuracy: Double { scored == 0 ? .nan : Double(correct) / Double(scored) }
    /// MoA -> (correct, scored).
    public var perMoA: [String: (correct: Int, scored: Int)]
    /// MoAs in sorted order; confusion[true][predicted] counts scored treatments.
    public var moas: [String]
    public var confusion: [[Int]]
    /// Mean over scored treatments of the average precision of retrieving same-MoA treatments among the
    /// protocol's candidates, ranked by similarity.
    public var meanAveragePrecision: Double
    /// Per scored treatment: (query, predicted MoA, nearest neighbour, its similarity).
    public var predictions: [(query: String, truth: String, predicted: String, neighbour: String, similarity: Double)]
}

/// Nearest-neighbour mechanism-of-action matching over treatment profiles (Ljosa et al. 2013):
/// each treatment takes the MoA of its most similar allowed treatment (or a k-NN vote).
///
/// Ties are broken deterministically: candidates rank by similarity, then by their position in the
/// input (for aggregated profiles: compound, then concentration); in a k-NN vote equal counts go to the
/// larger summed similarity, then to the MoA of the nearest neighbour among the tied.
public struct MoAMatcher: Sendable {
    public var similarity: Similarity
    public var k: Int

    public init(similarity: Similarity = .pearson, k: Int = 1) {
        self.similarity = similarity
        self.k = k
    }

    public func evaluate(profiles: Matrix, treatments: [MatchTreatment], matchingProtocol: MatchingProtocol) throws -> MatchResult {
        try evaluate(profiles: profiles, treatments: treatments, protocols: [matchingProtocol])[0]
    }

    /// Several protocols over one similarity matrix.
    public func evaluate(profiles: Matrix, treatments: [MatchTreatment], protocols: [MatchingProtocol]) throws -> [MatchResult] {
        guard profiles.rows == treatments.count else {
            throw MorphoError.data(context: "MoA matching", problem: "\(profiles.rows) profiles for \(treatments.count) treatments")
        }
        guard k >= 1 else { throw MorphoError.config(key: "match.k", problem: "must be at least 1") }
        try checkProfiles(profiles, treatments)
        let sim = similarity.matrix(profiles)
        return protocols.map { evaluate(sim, treatments, $0) }
    }

    private func evaluate(_ sim: Matrix, _ treatments: [MatchTreatment], _ matchingProtocol: MatchingProtocol) -> MatchResult {
        let n = treatments.count
        let moas = Set(treatments.map(\.moa)).sorted()
        let moaIndex = Dictionary(uniqueKeysWithValues: moas.enumerated().map { ($1, $0) })
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: moas.count), count: moas.count)
        var perMoA = [String: (correct: Int, scored: Int)]()
        var predictions = [(query: String, truth: String, predicted: String, neighbour: String, similarity: Double)]()
        var scored = 0, correct = 0, apSum = 0.0
        for q in 0..<n {
            let query = treatments[q]
            let candidates = (0..<n).filter { c in
                c != q && treatments[c].compound != query.compound
                    && (matchingProtocol == .nsc || treatments[c].batches.isDisjoint(with: query.batches))
            }
            guard candidates.contains(where: { treatments[$0].moa == query.moa }) else { continue }
            let ranked = rankBySimilarity(sim, query: q, candidates: candidates)
            let predicted = vote(ranked.prefix(k).map { (treatments[$0].moa, sim[q, $0]) })
            scored += 1
            if predicted == query.moa { correct += 1 }
            perMoA[query.moa, default: (0, 0)].scored += 1
            if predicted == query.moa { perMoA[query.moa]!.correct += 1 }
            confusion[moaIndex[query.moa]!][moaIndex[predicted]!] += 1
            predictions.append((query.name, query.moa, predicted, treatments[ranked[0]].name, sim[q, ranked[0]]))
            apSum += averagePrecision(ranked) { treatments[$0].moa == query.moa }
        }
        return MatchResult(matchingProtocol: matchingProtocol, scored: scored, correct: correct, perMoA: perMoA, moas: moas,
                           confusion: confusion, meanAveragePrecision: scored == 0 ? .nan : apSum / Double(scored),
                           predictions: predictions)
    }

    /// A profile with NaN or infinite values, or one with no direction to compare (all zero; for Pearson,
    /// constant), has no meaningful nearest neighbour: an error naming the treatment, not a silent 0/0.
    func checkProfiles(_ profiles: Matrix, _ treatments: [MatchTreatment]) throws {
        let d = profiles.cols
        guard d > 0 else { throw MorphoError.data(context: "MoA matching", problem: "the profiles have no features") }
        for r in 0..<profiles.rows {
            let row = profiles.values[(r * d)..<((r + 1) * d)]
            let nonFinite = row.reduce(0) { $1.isFinite ? $0 : $0 + 1 }
            if nonFinite > 0 {
                throw MorphoError.data(context: "MoA matching", problem: "treatment \(treatments[r].name): \(nonFinite) of \(d) profile values are NaN or infinite (a feature with no spread in the controls, or wells without cells?)")
            }
            let lo = row.min()!, hi = row.max()!
            if similarity == .cosine ? (lo == 0 && hi == 0) : lo == hi {
                throw MorphoError.data(context: "MoA matching", problem: "treatment \(treatments[r].name): the profile is \(lo == 0 && hi == 0 ? "all zero" : "constant"), so its \(similarity.rawValue) similarity to every other treatment is undefined")
            }
        }
    }

    /// Majority vote over (MoA, similarity) neighbours in rank order.
    func vote(_ neighbours: [(String, Double)]) -> String {
        var count = [String: Int](), total = [String: Double](), first = [String: Int]()
        for (i, (moa, s)) in neighbours.enumerated() {
            count[moa, default: 0] += 1
            total[moa, default: 0] += s.isNaN ? 0 : s
            if first[moa] == nil { first[moa] = i }
        }
        return count.keys.sorted { a, b in
            if count[a]! != count[b]! { return count[a]! > count[b]! }
            if total[a]! != total[b]! { return total[a]! > total[b]! }
            return first[a]! < first[b]!
        }[0]
    }
}

extension MatchResult {
    /// Results of several protocols as one JSON document (`moa.json`): per protocol the counts, accuracy,
    /// mAP, per-MoA results, the confusion matrix (rows: true MoA, columns: predicted, both in `moas`
    /// order) and every prediction; plus the similarity and k.
    public static func json(_ results: [MatchResult], similarity: Similarity, k: Int) throws -> Data {
        var json: [String: Any] = ["similarity": similarity.rawValue, "k": k]
        for r in results {
            json[r.matchingProtocol.rawValue] = [
                "scored": r.scored, "correct": r.correct, "accuracy": r.scored == 0 ? NSNull() : r.accuracy as Any,
                "mAP": r.meanAveragePrecision.isNaN ? NSNull() : r.meanAveragePrecision as Any,
                "perMoA": r.perMoA.mapValues { ["correct": $0.correct, "scored": $0.scored] },
                "moas": r.moas, "confusion": r.confusion,
                "predictions": r.predictions.map { ["treatment": $0.query, "moa": $0.truth, "predicted": $0.predicted,
                                                    "neighbour": $0.neighbour, "similarity": $0.similarity] },
            ] as [String: Any]
        }
        return try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])
    }
}
