import Foundation
import MorphoCore
import MorphoIO
import MorphoTestSupport
import NeuralNetwork
import Testing
@testable import Classification

/// A field whose channels are `background` counts everywhere and `bright` counts in the square [x0, x0+side) x [y0, y0+side).
func squareField(size: Int = 64, background: Float = 100, bright: Float = 2000, x0: Int = 4, y0: Int = 4, side: Int = 12, channels: Int = 3) throws -> FieldOfView {
    var image = Image(width: size, height: size, value: background, bitDepth: .uint16)
    for y in y0..<(y0 + side) { for x in x0..<(x0 + side) { image.pixels[y * size + x] = bright } }
    return try FieldOfView(channels: (0..<channels).map { ("c\($0)", image) }, context: "test field")
}

@Suite struct WholeImagePreprocessingTests {
    @Test func anscombeStabilizesPoissonVariance() {
        #expect(abs(WholeImagePreprocessing.anscombe(0) - 2 * Float(0.375).squareRoot()) < 1e-6)
        #expect(abs(WholeImagePreprocessing.anscombe(100) - 2 * Float(100.375).squareRoot()) < 1e-4)
        // Poisson counts of mean 50 and 500: after the transform both have variance close to 1.
        var rng = SeededGenerator(seed: 3)
        for lambda in [50.0, 500.0] {
            let a = (0..<20_000).map { _ in Double(WholeImagePreprocessing.anscombe(Float(rng.poisson(lambda)))) }
            let m = a.reduce(0, +) / Double(a.count), v = a.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(a.count)
            #expect(abs(v - 1) < 0.05, "lambda \(lambda): variance \(v)")
        }
    }

    @Test func controlStatisticsAreThoseOfTheTransformedPixels() throws {
        let field = try squareField()
        let stats = try WholeImagePreprocessing.controlStatistics([field, field], context: "plate P")
        let values = field.channels[0].pixels.map { Double(WholeImagePreprocessing.anscombe($0)) }
        let mean = values.reduce(0, +) / Double(values.count)
        let std = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)).squareRoot()
        #expect(stats.count == 3 && abs(stats[0].mean - mean) < 1e-6 && abs(stats[0].std - std) < 1e-6)
        let flat = try FieldOfView(channels: [("DNA", Image(width: 8, height: 8, value: 7, bitDepth: .uint16))], context: "x")
        #expect(throws: MorphoError.self) { try WholeImagePreprocessing.controlStatistics([flat], context: "plate P DMSO wells") }
        #expect(throws: MorphoError.self) { try WholeImagePreprocessing.controlStatistics([], context: "plate P DMSO wells") }
    }

    /// Only the tile holding the bright square is kept; its bytes follow the z-score map; it is resized.
    @Test func tilesCutResizeMapAndDropEmptyOnes() throws {
        let field = try squareField(size: 64, x0: 40, y0: 36, side: 16)
        var settings = WholeImagePreprocessing()
        settings.inputSize = 16
        settings.minForeground = 0.05
        let stats = [(mean: Double(WholeImagePreprocessing.anscombe(100)), std: 1.0)]
        let single = try FieldOfView(channels: [("DNA", field.channels[0])], context: "x")
        let tiles = try settings.tiles(of: single, statistics: stats)
        #expect(tiles.map(\.index) == [3])   // bottom-right of the 2 x 2 grid
        let bytes = tiles[0].pixels
        #expect(bytes.count == 16 * 16)
        // Background z = 0 maps to 255 * 2 / 10 = 51; the square (z >> 8) saturates at 255.
        #expect(bytes[0] == 51)
        #expect(bytes[(12 - 8) / 2 * 16 + 12 / 2 + 1] == 255 || bytes.contains(255))
        #expect(bytes.filter { $0 == 255 }.count >= 8 * 8 / 2)
        settings.tiles = 3
        #expect(throws: MorphoError.self) { try settings.validate() }
    }

    @Test func tileFilesRoundTripAndEmptyPlatesWork() throws {
        let dir = TestPaths.temporaryDirectory("tiles")
        defer { try? FileManager.default.removeItem(at: dir) }
        let records = [TileRecord(plate: "P1", batch: "Week1", well: WellID(row: 2, column: 3), site: 2, tile: 1,
                                  treatment: Treatment(compound: "taxol", concentration: 0.3, moa: "Microtubule stabilizers")),
                       TileRecord(plate: "P1", batch: "Week1", well: WellID(row: 4, column: 5), site: 1, tile: 0,
                                  treatment: Treatment(compound: "X", concentration: 1, moa: nil))]
        let tiles = WholeImageTiles(channels: 2, size: 3, pixels: (0..<36).map { UInt8($0 * 7) }, records: records)
        try tiles.write(to: dir.appendingPathComponent("p.h5"))
        let back = try WholeImageTiles.read(dir.appendingPathComponent("p.h5"))
        #expect(back.pixels == tiles.pixels && back.records == tiles.records && back.channels == 2 && back.size == 3)
        let empty = WholeImageTiles(channels: 2, size: 3, pixels: [], records: [])
        try empty.write(to: dir.appendingPathComponent("e.h5"))
        #expect(try WholeImageTiles.read(dir.appendingPathComponent("e.h5")).count == 0)
        #expect(try WholeImageTiles.joined([tiles, back]).count == 4)
    }

    /// A plate is normalized by its own DMSO wells; a plate without them is an error naming it, unless it is
    /// normalized by all its treated fields.
    @Test func platesNeedTheirControls() throws {
        let experiment = try TinyScreen.read()
        var plate = experiment.plates[0]
        var settings = WholeImagePreprocessing()
        settings.inputSize = 32
        settings.minForeground = 0
        let tiles = try WholeImageTiles.make(plate: plate, channels: experiment.channels, control: "DMSO", settings: settings)
        let treatedFields = plate.wells.filter { $0.treatment?.compound != "DMSO" }.reduce(0) { $0 + $1.sites.count }
        #expect(tiles.count == treatedFields * 4 && tiles.channels == 3 && tiles.size == 32)
        #expect(Set(tiles.records.map(\.plate)) == [plate.name])
        plate.wells.removeAll { $0.treatment?.compound == "DMSO" }
        #expect { try WholeImageTiles.make(plate: plate, channels: experiment.channels, control: "DMSO", settings: settings) } throws: {
            "\($0)".contains(plate.name) && "\($0)".contains("DMSO") && "\($0)".contains("normalize_by: plate")
        }
        // Normalized by all its treated fields instead (BBBC014), the plate needs no controls; the same tiles are cut.
        settings.normalizeBy = .plate
        let byPlate = try WholeImageTiles.make(plate: plate, channels: experiment.channels, control: "DMSO", settings: settings)
        #expect(byPlate.records == tiles.records && byPlate.pixels != tiles.pixels)
    }
}

@Suite struct WholeImageEvaluationTests {
    static func record(_ compound: String, _ conc: Double, _ moa: String?, plate: String, batch: String, well: Int, site: Int = 1, tile: Int = 0) -> TileRecord {
        TileRecord(plate: plate, batch: batch, well: WellID(row: 1 + well / 10, column: 1 + well % 10), site: site, tile: tile,
                   treatment: Treatment(compound: compound, concentration: conc, moa: moa))
    }

    @Test func foldsLeaveOutTheCompoundAndForNSCBItsBatches() {
        let records = [Self.record("a", 1, "M1", plate: "W1_1", batch: "W1", well: 1), Self.record("b", 1, "M1", plate: "W1_1", batch: "W1", well: 2),
                       Self.record("c", 1, "M1", plate: "W2_1", batch: "W2", well: 1), Self.record("d", 1, "M2", plate: "W2_1", batch: "W2", well: 2),
                       Self.record("e", 1, nil, plate: "W2_1", batch: "W2", well: 3)]
        let nsc = WholeImageEvaluation.fold(records, compound: "a", holdout: .nsc)
        #expect(nsc.test == [0] && nsc.train == [1, 2, 3] && nsc.name == "nsc-a")
        let nscb = WholeImageEvaluation.fold(records, compound: "a", holdout: .nscb)
        #expect(nscb.test == [0] && nscb.train == [2, 3])
        #expect(WholeImageEvaluation.classes(records.map(\.treatment)) == ["M1", "M2"])
        #expect(WholeImageEvaluation.compounds(records.map(\.treatment)) == ["a", "b", "c", "d"])
        #expect(WholeImageEvaluation.Fold.unitName(.nscb, "cytochalasin B/x") == "nscb-cytochalasin_B_x")
    }

    @Test func medianAggregationTilesThenWellsThenTreatment() {
        #expect(WholeImageEvaluation.median([[1, 5], [3, 1], [2, 9]]) == [2, 5])
        #expect(WholeImageEvaluation.median([[1, 4], [3, 2]]) == [2, 3])
        // Treatment t (truth class 0) in 3 wells; each well's tiles are dominated by class 0 except one
        // outlier tile. A mean would be pulled by the outliers; the medians are not.
        var records = [TileRecord](), rows = [[Double]]()
        for w in 0..<3 {
            for t in 0..<3 {
                records.append(Self.record("t", 1, "A", plate: "P\(w)", batch: "B", well: w, tile: t))
                rows.append(t == 2 ? [0.0, 1.0] : [0.7, 0.3])
            }
        }
        records.append(Self.record("u", 1, "B", plate: "P0", batch: "B", well: 9))
        rows.append([0.4, 0.6])
        let treatments = WholeImageEvaluation.treatments(records, rows: rows, classes: ["A", "B"])
        #expect(treatments.count == 2)
        #expect(treatments[0].key == "t@1" && treatments[0].probabilities == [0.7, 0.3] && treatments[0].predicted == 0)
        #expect(treatments[1].truth == 1 && treatments[1].predicted == 1)
        #expect(WholeImageEvaluation.accuracy(treatments) == 1)
        let fields = WholeImageEvaluation.fields(records, rows: rows, classes: ["A", "B"])
        #expect(fields.count == 4)
        #expect(WholeImageEvaluation.confusion(treatments, classes: 2) == [[1, 0], [0, 1]])
    }
}

@Suite struct ConformalTests {
    /// Probabilities of a miscalibrated (overconfident) classifier over k classes; the truth is drawn from
    /// a softer distribution than the one reported.
    static func sample(_ n: Int, k: Int, rng: inout SeededGenerator) -> (rows: [[Double]], truths: [Int]) {
        var rows = [[Double]](), truths = [Int]()
        for _ in 0..<n {
            let logits = (0..<k).map { _ in rng.normal() * 2 }
            func softmax(_ t: Double) -> [Double] {
                let e = logits.map { Foundation.exp($0 / t) }, s = e.reduce(0, +)
                return e.map { $0 / s }
            }
            let truthDistribution = softmax(1.6)
            var u = rng.uniform(), y = 0
            while y < k - 1 && u > truthDistribution[y] { u -= truthDistribution[y]; y += 1 }
            rows.append(softmax(0.5))
            truths.append(y)
        }
        return (rows, truths)
    }

    /// Split conformal: on fresh exchangeable data the coverage is within a few points of the target,
    /// for both scores and two targets, although the model's own probabilities are overconfident.
    @Test(arguments: ConformalPredictor.Score.allCases)
    func coverageMatchesTheTarget(score: ConformalPredictor.Score) {
        var rng = SeededGenerator(seed: 11)
        let calibration = Self.sample(1000, k: 8, rng: &rng), test = Self.sample(20_000, k: 8, rng: &rng)
        for target in [0.8, 0.9] {
            let predictor = ConformalPredictor(score: score, calibration: calibration.rows, truths: calibration.truths, alpha: 1 - target)
            var covered = 0, size = 0
            for (p, y) in zip(test.rows, test.truths) { let s = predictor.set(p); size += s.count; if s.contains(y) { covered += 1 } }
            let coverage = Double(covered) / Double(test.rows.count)
            #expect(abs(coverage - target) < 0.03, "\(score) target \(target): coverage \(coverage)")
            #expect(Double(size) / Double(test.rows.count) < 8, "sets are not trivially everything")
            // The model's top class alone covers far less than the target: calibration does the work.
            let top1 = zip(test.rows, test.truths).filter { p, y in p.indices.max { p[$0] < p[$1] } == y }.count
            #expect(Double(top1) / Double(test.rows.count) < target - 0.1)
        }
    }

    @Test func tooFewCalibrationItemsGiveEveryClass() {
        let predictor = ConformalPredictor(score: .lac, calibration: [[0.9, 0.1]], truths: [0], alpha: 0.1)
        #expect(predictor.threshold == .infinity && predictor.set([0.99, 0.01]) == [0, 1])
        let exact = ConformalPredictor(score: .lac, calibration: [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]], truths: [0, 0, 1], alpha: 0.25)
        // scores 0.1, 0.4, 0.2 -> ceil(4 * 0.75) = 3rd smallest = 0.4
        #expect(abs(exact.threshold - 0.4) < 1e-12 && exact.set([0.65, 0.35]) == [0] && exact.set([0.3, 0.7]) == [1])
        #expect(exact.set([0.5, 0.5]) == [])   // LAC sets may be empty: no class is plausible enough
    }
}

@Suite struct WholeImageTrainerTests {
    /// Tiles of two classes told apart by the channel that holds a bright square (anywhere in the tile).
    static func twoClassTiles(_ n: Int) -> (WholeImageTiles, [Int]) {
        let size = 16, plane = size * size
        var pixels = [UInt8](repeating: 40, count: n * 2 * plane), labels = [Int](), records = [TileRecord]()
        var rng = SeededGenerator(seed: 5)
        for i in 0..<n {
            let y = i % 2
            let x0 = Int(rng.next() % 11), y0 = Int(rng.next() % 11)
            for yy in y0..<(y0 + 5) { for xx in x0..<(x0 + 5) { pixels[(i * 2 + y) * plane + yy * size + xx] = 220 } }
            labels.append(y)
            records.append(TileRecord(plate: "P", batch: "B", well: WellID(row: 1, column: 1 + i % 12), site: 1, tile: i,
                                      treatment: Treatment(compound: "c\(y)", concentration: 1, moa: "M\(y)")))
        }
        return (WholeImageTiles(channels: 2, size: size, pixels: pixels, records: records), labels)
    }

    @Test func classWeightsBalanceTheClasses() {
        let w = WholeImageTrainer.classWeights([0, 0, 0, 1], classes: 3)
        #expect(abs(w[0] - 4.0 / 6) < 1e-12 && abs(w[1] - 2) < 1e-12 && w[2] == 1)
    }

    @Test func batchesAreStandardizedAndAugmentationsPreserveContent() {
        let (tiles, _) = Self.twoClassTiles(4)
        var config = WholeImageModelConfig()
        config.blur = 0; config.noise = 0; config.intensityScale = 0
        let trainer = WholeImageTrainer(config: config, classes: 2)
        var rng = SeededGenerator(seed: 1)
        let plain = trainer.batch(tiles, [1], augment: false, rng: &rng)
        #expect(abs(plain[0] - (40.0 / 255 - 0.45) / 0.225) < 1e-5)
        // A dihedral transform permutes pixels: same multiset of values.
        for _ in 0..<4 {
            let augmented = trainer.batch(tiles, [1], augment: true, rng: &rng)
            #expect(augmented.sorted() == plain.sorted())
        }
        // Blur keeps the mean of a plane away from the edges' replication effects only slightly.
        var blurred = [Float](repeating: 0, count: 16 * 16), scratch = blurred
        blurred[8 * 16 + 8] = 16
        blurred.withUnsafeMutableBufferPointer { WholeImageTrainer.binomialBlur($0.baseAddress!, n: 16, scratch: &scratch) }
        #expect(blurred[8 * 16 + 8] == 4 && blurred[7 * 16 + 8] == 2 && blurred[7 * 16 + 7] == 1 && abs(blurred.reduce(0, +) - 16) < 1e-5)
    }

    /// A small ResNet learns the two-class problem from 64 tiles and predicts held-out tiles correctly.
    @Test func trainsAndPredicts() throws {
        let (tiles, labels) = Self.twoClassTiles(96)
        var config = WholeImageModelConfig()
        config.depth = 18; config.width = 4; config.epochs = 12; config.batchSize = 16; config.learningRate = 0.05
        var trainer = WholeImageTrainer(config: config, classes: 2)
        trainer.progress = false
        let model = try trainer.train(tiles, indices: Array(0..<64), labels: Array(labels[0..<64]), label: "test")
        let rows = try trainer.probabilities(model, tiles, indices: Array(64..<96))
        let correct = rows.enumerated().filter { k, p in (p[1] > p[0] ? 1 : 0) == labels[64 + k] }.count
        #expect(correct >= 28, "\(correct) of 32")
        #expect(rows.allSatisfy { abs($0.reduce(0, +) - 1) < 1e-5 })
    }

    /// ImageNet-style weights from a TorchScript ResNet are loaded into every layer but the new head.
    @Test func pretrainedWeightsLoadExceptTheHead() throws {
        var config = WholeImageModelConfig()
        config.depth = 18; config.width = 4
        config.pretrained = TestPaths.repoRoot.appendingPathComponent("Tests/NeuralNetworkTests/Fixtures/resnet18_w4.pt").path
        let trainer = WholeImageTrainer(config: config, classes: 7)
        let model = try trainer.makeModel(channels: 3)
        let script = try TorchScriptModel(contentsOf: URL(fileURLWithPath: config.pretrained!)).namedTensors
        let byName = Dictionary(uniqueKeysWithValues: model.namedTensors.map { ($0.name, $0.tensor) })
        #expect(try byName["conv1.weight"]!.floats() == script["conv1.weight"]!.floats())
        #expect(try byName["layer4.1.bn2.running_var"]!.floats() == script["layer4.1.bn2.running_var"]!.floats())
        #expect(byName["fc.weight"]!.shape == [7, 32])   // the 5-class head of the file is not used
        config.depth = 34
        #expect(throws: MorphoError.self) { try WholeImageTrainer(config: config, classes: 7).makeModel(channels: 3) }
    }
}

extension WholeImageEvaluationTests {
    /// Leave-one-batch-out (one cell line per batch: the BBBC014 translocation protocol): each fold tests one
    /// batch and trains on the others.
    @Test func batchFoldsLeaveOneBatchOut() {
        let records = [Self.record("TNF", 1, "translocated", plate: "A549_1", batch: "A549", well: 1),
                       Self.record("TNF", 0.001, "not translocated", plate: "A549_1", batch: "A549", well: 2),
                       Self.record("TNF", 1, "translocated", plate: "MCF7_1", batch: "MCF7", well: 1),
                       Self.record("TNF", 0.001, "not translocated", plate: "MCF7_1", batch: "MCF7", well: 2)]
        let fold = WholeImageEvaluation.fold(records, compound: "MCF7", holdout: .batch)
        #expect(fold.test == [2, 3] && fold.train == [0, 1] && fold.name == "batch-MCF7")
    }
}
