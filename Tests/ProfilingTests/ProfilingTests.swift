import Foundation
import MorphoCore
import MorphoIO
import MorphoTestSupport
@testable import Profiling
import Testing

/// A small screen of rows: 3 plates x (4 DMSO + 6 treated wells) x 3 cells, 5 features, seeded.
func syntheticRows(seed: UInt64 = 1, plates: Int = 3) throws -> FeatureTable {
    var g = SeededGenerator(seed: seed)
    var plate = [String](), well = [String](), compound = [String](), conc = [Double](), values = [Float]()
    for p in 0..<plates {
        for w in 0..<10 {
            for _ in 0..<3 {
                plate.append("P\(p + 1)"); well.append(WellID(row: w / 5, column: w % 5 + 1).description)
                let isControl = w < 4
                compound.append(isControl ? "DMSO" : "cmp\(w % 3)"); conc.append(isControl ? 0 : Double(w % 2 + 1))
                for j in 0..<5 {
                    let plateShift = Double(p) * 3 + Double(j)
                    let effect = isControl ? 0 : Double(w % 3 + 1) * (j == w % 5 ? 2 : 0.3)
                    values.append(Float(10 * Double(j + 1) + plateShift + effect + (1 + Double(p)) * g.normal()))
                }
            }
        }
    }
    return try FeatureTable(
        metadataNames: ["Metadata_Plate", "Metadata_Well", "Metadata_Compound", "Metadata_Concentration"],
        metadata: [.strings(plate), .strings(well), .strings(compound), .numbers(conc)],
        featureNames: (1...5).map { "Cells_F\($0)" }, features: values, rowCount: plate.count)
}

@Suite struct StatsTests {
    @Test func matchesRConventions() {
        #expect(Stats.mean([1, 2, 3, 4]) == 2.5)
        #expect(abs(Stats.sd([1, 2, 3, 4]) - 1.2909944487358056) < 1e-15)  // R: sd(1:4)
        #expect(Stats.median([3, 1, 2]) == 2 && Stats.median([4, 1, 3, 2]) == 2.5)
        #expect(abs(Stats.mad([1, 2, 3, 4, 100]) - 1.4826) < 1e-12)      // R: mad(c(1,2,3,4,100))
        #expect(abs(Stats.pearson([1, 2, 3], [2, 4, 7]) - 0.9933992677987828) < 1e-14)
        #expect(Stats.pearson([1, 1, 1], [1, 2, 3]).isNaN)
    }
}

@Suite struct AggregateTests {
    @Test func meansAndMediansPerStratumWithConstantMetadataCarried() throws {
        let t = try syntheticRows()
        let wells = try Aggregate.aggregate(t, by: ["Metadata_Plate", "Metadata_Well"], operation: .mean)
        #expect(wells.rowCount == 30)
        #expect(wells.metadataNames == ["Metadata_Plate", "Metadata_Well", "Metadata_Compound", "Metadata_Concentration", "Metadata_Count"])
        #expect(wells.metadataColumn("Metadata_Count") == .numbers(Array(repeating: 3, count: 30)))
        // First group: P1 A01, rows 0...2.
        for j in 0..<5 {
            let m = (0..<3).map { Double(t[row: $0, feature: j]) }.reduce(0, +) / 3
            #expect(abs(Double(wells[row: 0, feature: j]) - m) < 1e-4)
        }
        let medians = try Aggregate.aggregate(t, by: ["Metadata_Plate", "Metadata_Well"], operation: .median)
        #expect(medians[row: 0, feature: 0] == (0..<3).map { t[row: $0, feature: 0] }.sorted()[1])
        // Numeric strata sort numerically, text strata naturally.
        let byConc = try Aggregate.aggregate(t, by: ["Metadata_Concentration"])
        #expect(byConc.metadataColumn("Metadata_Concentration") == .numbers([0, 1, 2]))
        #expect(throws: MorphoError.self) { try Aggregate.aggregate(t, by: ["Metadata_Nope"]) }
    }

    @Test func nanValuesAreSkipped() throws {
        let t = try FeatureTable(metadataNames: ["Metadata_G"], metadata: [.strings(["a", "a", "b"])], featureNames: ["f"],
                                 features: [1, .nan, .nan], rowCount: 3)
        let a = try Aggregate.aggregate(t, by: ["Metadata_G"])
        #expect(a[row: 0, feature: 0] == 1 && a[row: 1, feature: 0].isNaN)
    }
}

@Suite struct NormalizeTests {
    @Test func standardizeGivesControlsZeroMeanUnitSDPerPlate() throws {
        let (z, report) = try ControlNormalization(method: .standardize).apply(syntheticRows())
        #expect(report.zeroSpread.isEmpty)
        let plates = z.metadataColumn("Metadata_Plate")!.texts, compounds = z.metadataColumn("Metadata_Compound")!.texts
        for p in ["P1", "P2", "P3"] {
            let rows = (0..<z.rowCount).filter { plates[$0] == p && compounds[$0] == "DMSO" }
            for j in 0..<z.featureCount {
                let v = rows.map { Double(z[row: $0, feature: j]) }
                #expect(abs(Stats.mean(v)) < 1e-5 && abs(Stats.sd(v) - 1) < 1e-5)
            }
        }
    }

    @Test func robustUsesMedianAndMAD() throws {
        let (r, _) = try ControlNormalization(method: .robustStandardize, groupBy: nil).apply(syntheticRows())
        let compounds = r.metadataColumn("Metadata_Compound")!.texts
        let rows = (0..<r.rowCount).filter { compounds[$0] == "DMSO" }
        for j in 0..<r.featureCount {
            let v = rows.map { Double(r[row: $0, feature: j]) }
            #expect(abs(Stats.median(v)) < 1e-5 && abs(Stats.mad(v) - 1) < 1e-4)
        }
    }

    @Test func zeroControlSpreadIsReportedNeverInfOrNaN() throws {
        var t = try syntheticRows()
        var f = t.features
        let plates = t.metadataColumn("Metadata_Plate")!.texts, compounds = t.metadataColumn("Metadata_Compound")!.texts
        for r in 0..<t.rowCount where plates[r] == "P2" && compounds[r] == "DMSO" { f[r * 5 + 2] = 7 }
        t = try t.replacingFeatures(names: t.featureNames, values: f)
        let (dropped, report) = try ControlNormalization().apply(t)
        #expect(report.zeroSpread.map(\.feature) == ["Cells_F3"] && report.zeroSpread[0].group == "Metadata_Plate=P2")
        #expect(report.droppedFeatures == ["Cells_F3"] && dropped.featureCount == 4)
        try dropped.checkFinite(context: "z")
        let (kept, _) = try ControlNormalization(zeroSpread: .centerOnly).apply(t)
        #expect(kept.featureCount == 5)
        try kept.checkFinite(context: "z")
    }

    @Test func badInputIsNamed() throws {
        let t = try syntheticRows()
        let noControls = t.selectingRows((0..<t.rowCount).filter { t.metadataColumn("Metadata_Compound")!.text($0) != "DMSO" || t.metadataColumn("Metadata_Plate")!.text($0) != "P3" })
        #expect(throws: MorphoError.data(context: "Metadata_Plate=P3", problem: "0 control row(s) (Metadata_Compound == DMSO); at least 2 needed to normalize")) {
            try ControlNormalization().apply(noControls)
        }
        var f = t.features
        f[7] = .nan
        let withNaN = try t.replacingFeatures(names: t.featureNames, values: f)
        #expect(throws: MorphoError.data(context: "normalize input", problem: "feature 'Cells_F3' is nan in row 2")) {
            try ControlNormalization().apply(withNaN)
        }
        #expect(throws: MorphoError.data(context: "controls", problem: "no row has Metadata_Compound == PBS")) {
            try ControlNormalization(controls: Controls(value: "PBS")).apply(t)
        }
    }

    /// pycytominer (independent implementation) on the same rows: aggregate, per-plate standardize and
    /// mad_robustize against DMSO. pycytominer's StandardScaler uses the population sd (n), Morpho the
    /// sample sd (n - 1, as R/cytominer), so its z-scores are Morpho's times sqrt(n / (n - 1)).
    @Test(.enabled(if: Peers.available)) func agreesWithPycytominer() throws {
        let dir = TestPaths.temporaryDirectory("pycyto-profiling")
        let t = try syntheticRows(seed: 5)
        try FeatureTableCSV.write(t, to: dir.appendingPathComponent("rows.csv"))
        _ = try Peers.run(["scripts/pycytominer_profiling.py", dir.appendingPathComponent("rows.csv").path, dir.path])
        func close(_ a: FeatureTable, _ b: FeatureTable, scale: Double = 1, _ what: String) {
            #expect(a.rowCount == b.rowCount && a.featureNames == b.featureNames, "\(what) shape")
            for i in 0..<min(a.features.count, b.features.count) {
                #expect(abs(Double(a.features[i]) * scale - Double(b.features[i])) <= 2e-4 * max(1, abs(Double(b.features[i]))), "\(what) value \(i)")
            }
        }
        for op in Aggregate.Operation.allCases {
            let mine = try Aggregate.aggregate(t, by: ["Metadata_Plate", "Metadata_Well"], operation: op)
            close(mine, try FeatureTableCSV.read(dir.appendingPathComponent("aggregate_\(op.rawValue).csv")), "aggregate \(op)")
        }
        let (z, _) = try ControlNormalization(method: .standardize).apply(t)
        close(z, try FeatureTableCSV.read(dir.appendingPathComponent("standardize.csv")), scale: (12.0 / 11.0).squareRoot(), "standardize")
        let (r, _) = try ControlNormalization(method: .robustStandardize).apply(t)
        close(r, try FeatureTableCSV.read(dir.appendingPathComponent("robust.csv")), "robust")
    }
}

@Suite struct TVNTests {
    /// Controls with fewer rows than features after per-plate centring: rank-deficient.
    func rankDeficient() throws -> FeatureTable {
        var g = SeededGenerator(seed: 9)
        let n = 24, d = 40
        var values = [Float](), plate = [String](), compound = [String]()
        let mixing = (0..<(6 * d)).map { _ in g.normal() }
        for r in 0..<n {
            plate.append("P\(r % 3)"); compound.append(r % 2 == 0 ? "DMSO" : "X")
            let latent = (0..<6).map { _ in g.normal() }
            for j in 0..<d {
                var v = 0.3 * g.normal() + Double(r % 3) * 5
                for l in 0..<6 { v += latent[l] * mixing[l * d + j] }
                values.append(Float(v * Double(j + 1)))  // very different scales
            }
        }
        return try FeatureTable(metadataNames: ["Metadata_Plate", "Metadata_Compound"], metadata: [.strings(plate), .strings(compound)],
                                featureNames: (0..<d).map { "f\($0)" }, features: values, rowCount: n)
    }

    func controlCovariance(_ t: FeatureTable) -> [Double] {
        let compounds = t.metadataColumn("Metadata_Compound")!.texts
        return LinearAlgebra.covariance(t.features, rows: (0..<t.rowCount).filter { compounds[$0] == "DMSO" }, cols: t.featureCount)
    }

    /// The whitened controls have identity covariance on the kept components (pycytominer #747).
    @Test(arguments: TypicalVariationNormalization.Whitening.allCases)
    func whitensTheControlsItWasFittedOn(_ whitening: TypicalVariationNormalization.Whitening) throws {
        let t = try rankDeficient()
        let (out, report) = try TypicalVariationNormalization(whitening: whitening).apply(t)
        // 12 DMSO rows in 3 plates, centred per plate: rank 12 - 3 = 9.
        #expect(report.rank == 9 && report.kept == 9 && report.controlRows == 12)
        let k = out.featureCount
        let c = controlCovariance(out)
        switch whitening {
        case .pca:
            #expect(k == 9)
            for i in 0..<k { for j in 0..<k { #expect(abs(c[i * k + j] - (i == j ? 1 : 0)) < 1e-3, "C[\(i),\(j)] = \(c[i * k + j])") } }
        case .zca:
            #expect(k == 40)
            // A projection onto the 9-dimensional control space: C^2 = C and trace 9.
            let c2 = LinearAlgebra.multiply(c, k, k, c, k)
            #expect(zip(c, c2).allSatisfy { abs($0 - $1) < 1e-3 })
            #expect(abs((0..<k).map { c[$0 * k + $0] }.reduce(0, +) - 9) < 1e-3)
        }
    }

    @Test func componentsShrinkageAndAlignment() throws {
        let t = try rankDeficient()
        let (few, r1) = try TypicalVariationNormalization(components: 4).apply(t)
        #expect(few.featureCount == 4 && r1.rank == 9 && few.featureNames == ["TVN_1", "TVN_2", "TVN_3", "TVN_4"])
        let (shrunk, r2) = try TypicalVariationNormalization(shrinkage: 0.2).apply(t)
        #expect(r2.rank == 40 && shrunk.featureCount == 40)
        try shrunk.checkFinite(context: "shrunk")
        let (aligned, _) = try TypicalVariationNormalization(alignBatches: "Metadata_Plate").apply(t)
        try aligned.checkFinite(context: "aligned")
        #expect(throws: MorphoError.self) { try TypicalVariationNormalization(shrinkage: 2).apply(t) }
    }

    @Test func eigenDecompositionIsCorrect() throws {
        // [[2, 1], [1, 2]]: eigenvalues 3 and 1, eigenvectors (1, 1)/sqrt2 and (1, -1)/sqrt2.
        let (values, vectors) = try LinearAlgebra.symmetricEigen([2, 1, 1, 2], n: 2)
        #expect(abs(values[0] - 3) < 1e-12 && abs(values[1] - 1) < 1e-12)
        #expect(abs(abs(vectors[0]) - 0.5.squareRoot()) < 1e-12 && abs(vectors[0] - vectors[2]) < 1e-12)
    }
}

@Suite struct FeatureSelectionTests {
    @Test func nearZeroVarianceFollowsCaret() {
        // Column 0: constant. Column 1: 19 zeros and one 1 among 20 rows (ratio 19, not > 19): kept.
        // Column 2: 20 zeros and one 1 among 21 rows (ratio 20 > 19, 2/21 = 9.5% unique): dropped.
        // Column 3: all distinct: kept.
        var rows = [[Double]]()
        for r in 0..<21 { rows.append([5, r < 19 ? 0 : (r == 19 ? 1 : .nan), r == 0 ? 1 : 0, Double(r)]) }
        let x = Matrix(rows: 21, cols: 4, values: rows.flatMap { $0 })
        #expect(FeatureSelection.nearZeroVariance(x) == [0, 2])
    }

    @Test func correlationThresholdExactAndFast() {
        var g = SeededGenerator(seed: 2)
        var values = [Double]()
        for _ in 0..<50 {
            let a = g.normal(), b = g.normal()
            values += [a, a + 0.01 * g.normal(), b, b * 2 + 0.01 * g.normal(), g.normal()]
        }
        let x = Matrix(rows: 50, cols: 5, values: values)
        let exact = FeatureSelection.correlationThreshold(x, cutoff: 0.9, exact: true)
        let fast = FeatureSelection.correlationThreshold(x, cutoff: 0.9, exact: false)
        // One of each correlated pair goes; the independent column stays.
        #expect(exact.count == 2 && fast.count == 2)
        #expect(Set(exact).isDisjoint(with: [4]) && [0, 1].contains(exact[0]) && [2, 3].contains(exact[1]))
        #expect(FeatureSelection.correlationThreshold(x, cutoff: 0.999999).isEmpty)  // pairs correlate at about 0.99995
    }

    @Test func replicateCorrelationTakesTheMedianOfPairs() throws {
        // 4 treatments x 3 replicates; feature a reproducible, feature b noise.
        var g = SeededGenerator(seed: 4)
        var names = [String](), values = [Float]()
        for rep in 0..<3 { for t in 0..<4 {
            names.append("t\(t)")
            values += [Float(Double(t) * 10 + g.normal() * 0.1 + Double(rep) * 0.01), Float(g.normal())]
        } }
        let table = try FeatureTable(metadataNames: ["Metadata_Compound"], metadata: [.strings(names)], featureNames: ["a", "b"],
                                     features: values, rowCount: 12)
        let r = try FeatureSelection.replicateCorrelation(table, strata: ["Metadata_Compound"], replicates: 3)
        #expect(r[0] > 0.99 && r[1] < 0.9)
        #expect(throws: MorphoError.self) { try FeatureSelection.replicateCorrelation(table, strata: ["Metadata_Compound"], replicates: 2) }
    }
}
