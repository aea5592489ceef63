import Foundation
@testable import MoAMatching
import MorphoCore
import MorphoIO
import MorphoTestSupport
import Profiling
import Testing

@Suite struct SimilarityTests {
    @Test func cosineAndPearson() {
        let x = Matrix(rows: 3, cols: 3, values: [1, 0, 0, 1, 1, 0, 2, 4, 6])
        let c = Similarity.cosine.matrix(x), p = Similarity.pearson.matrix(x)
        #expect(abs(c[0, 1] - 1 / 2.0.squareRoot()) < 1e-12 && abs(c[0, 0] - 1) < 1e-12)
        // Pearson of (1,0,0) and (2,4,6): centred (2/3,-1/3,-1/3) . (-2,0,2) = -2 over norms sqrt(2/3) sqrt(8).
        #expect(abs(p[0, 2] - (-2 / ((2.0 / 3).squareRoot() * 8.0.squareRoot()))) < 1e-12)
        #expect(Similarity.pearson.matrix(Matrix(rows: 2, cols: 2, values: [1, 1, 1, 2]))[0, 1].isNaN)
    }
}

@Suite struct MatcherTests {
    /// Six treatments on a line: A1 A2 (MoA a, compounds A) ... with known neighbours.
    func example() -> (Matrix, [MatchTreatment]) {
        let x = Matrix(rows: 6, cols: 2, values: [
            1, 0.00,    // A@1  a  batch 1
            1, 0.05,    // A@2  a  batch 1
            1, 0.10,    // B@1  a  batch 1
            1, 0.50,    // C@1  b  batch 2
            1, 0.60,    // D@1  b  batch 1
            1, 0.15,    // E@1  a  batch 2
        ])
        let t = [("A@1", "A", "a", "1"), ("A@2", "A", "a", "1"), ("B@1", "B", "a", "1"), ("C@1", "C", "b", "2"),
                 ("D@1", "D", "b", "1"), ("E@1", "E", "a", "2")]
            .map { MatchTreatment(name: $0.0, compound: $0.1, moa: $0.2, batches: [$0.3]) }
        return (x, t)
    }

    @Test func nscExcludesTheSameCompound() throws {
        let (x, t) = example()
        let r = try MoAMatcher(similarity: .cosine).evaluate(profiles: x, treatments: t, matchingProtocol: .nsc)
        #expect(r.scored == 6)
        let neighbour = Dictionary(uniqueKeysWithValues: r.predictions.map { ($0.query, $0.neighbour) })
        #expect(neighbour["A@1"] == "B@1" && neighbour["A@2"] == "B@1" && neighbour["C@1"] == "D@1")
        #expect(r.correct == 6 && r.accuracy == 1)
        #expect(r.moas == ["a", "b"] && r.confusion == [[4, 0], [0, 2]])
    }

    @Test func nscbAlsoExcludesTheBatchAndCountsWhatItCanScore() throws {
        let (x, t) = example()
        let r = try MoAMatcher(similarity: .cosine).evaluate(profiles: x, treatments: t, matchingProtocol: .nscb)
        // D@1 (b, batch 1): the only other b is C@1 in batch 2: scorable. C@1 (b, batch 2): D@1 in batch 1: scorable.
        // A@1, A@2, B@1 (a, batch 1) can use E@1 (batch 2); E@1 can use A/B. All 6 scorable.
        #expect(r.scored == 6)
        let predicted = Dictionary(uniqueKeysWithValues: r.predictions.map { ($0.query, $0.predicted) })
        #expect(predicted["A@1"] == "a")  // E@1 (0.15) is the only batch-2 a; C@1 is b but farther
        #expect(predicted["E@1"] == "a")
        // Make D@1 share batch 2: now C@1 and D@1 cannot see each other and b is not scorable.
        var t2 = t
        t2[4].batches = ["2"]
        let r2 = try MoAMatcher().evaluate(profiles: x, treatments: t2, matchingProtocol: .nscb)
        #expect(r2.scored == 4 && r2.perMoA["b"] == nil)
    }

    @Test func averagePrecisionAndVote() throws {
        let (x, t) = example()
        let r = try MoAMatcher(similarity: .cosine).evaluate(profiles: x, treatments: t, matchingProtocol: .nsc)
        // C@1: candidates ranked D(b) E(a) B(a) A2(a) A1(a): AP = 1. E@1: B, A2, A1 (a, a, a), C, D: AP = 1.
        #expect(r.meanAveragePrecision > 0.99)
        let m = MoAMatcher(k: 3)
        #expect(m.vote([("a", 0.9), ("b", 0.8), ("b", 0.7)]) == "b")
        #expect(m.vote([("a", 0.9), ("b", 0.8)]) == "a")                       // tie on count: larger similarity
        #expect(m.vote([("a", 0.5), ("b", 0.5)]) == "a")                       // full tie: the nearest
        #expect(throws: MorphoError.self) { try MoAMatcher(k: 0).evaluate(profiles: x, treatments: t, matchingProtocol: .nsc) }
    }

    @Test func degenerateProfilesAreErrorsNamingTheTreatment() throws {
        let (x, t) = example()
        func message(_ values: [Double], _ matcher: MoAMatcher) -> String {
            var bad = x
            for j in 0..<x.cols { bad[2, j] = values[j % values.count] }
            do { _ = try matcher.evaluate(profiles: bad, treatments: t, matchingProtocol: .nsc); return "" } catch { return "\(error)" }
        }
        #expect(message([.nan, 1], MoAMatcher(similarity: .cosine)).contains("B@1: 1 of"))
        #expect(message([.infinity], MoAMatcher()).contains("B@1"))
        #expect(message([0], MoAMatcher(similarity: .cosine)).contains("B@1: the profile is all zero"))
        #expect(message([3], MoAMatcher(similarity: .pearson)).contains("B@1: the profile is constant"))
        #expect(message([3], MoAMatcher(similarity: .cosine)) == "")  // a constant non-zero profile has a direction
    }

    @Test func tiesBreakByInputOrder() throws {
        let x = Matrix(rows: 3, cols: 2, values: [1, 0, 1, 0, 1, 0])
        let t = [MatchTreatment(name: "q", compound: "Q", moa: "a", batches: []),
                 MatchTreatment(name: "first", compound: "F", moa: "b", batches: []),
                 MatchTreatment(name: "second", compound: "S", moa: "a", batches: [])]
        let r = try MoAMatcher().evaluate(profiles: x, treatments: t, matchingProtocol: .nsc)
        #expect(r.predictions.first { $0.query == "q" }?.neighbour == "first")
    }
}

@Suite struct BBBC021BenchmarkTests {
    static let wells: FeatureTable = {
        let (e, _) = try! BBBC021Layout.read(imageCSV: TestPaths.bbbc021ImageCSV, moaCSV: TestPaths.bbbc021MoACSV)
        return try! BBBC021Layout.readProfiles(TestPaths.ljosaProfiles, experiment: e)
    }()

    /// cytominergallery's predict_moa vignette on the same file: 84 of 103 (0.82).
    @Test func reproducesThePublishedResult() throws {
        let r = try BBBC021Benchmark.publishedProtocol(Self.wells)
        #expect(r.treatments == 103)
        #expect(r.correctAsPublished == 84)
        #expect(r.correctNSC == 84)
        #expect(r.featureCounts.map(\.count) == [516, 516, 337, 177, 177])
    }

    @Test func nscbScores92OfTheTreatments() throws {
        let p = ProfilePipeline(name: "z", normalization: .controls(ControlNormalization()))
        let (nsc, nscb, notes) = try BBBC021Benchmark.evaluate(p, wells: Self.wells, similarity: .cosine)
        #expect(nsc.scored == 103 && nscb.scored == 92)
        #expect(nscb.perMoA["Kinase inhibitors"] == nil && nscb.perMoA["Cholesterol-lowering"] == nil)
        // The three Children_Count features with zero DMSO spread on some plates are reported and dropped.
        #expect(notes.first?.contains("dropped 3 feature(s)") == true)
        #expect(nsc.accuracy > 0.75)
    }

    @Test func tvnOnDMSOWellsHasRank275() throws {
        let (_, report) = try TypicalVariationNormalization().apply(Self.wells)
        #expect(report.controlRows == 330 && report.rank == 275)
    }
}
