import Cropping
import Embedding
import Foundation
import MoAMatching
import MorphoCore
import MorphoIO
import MorphoTestSupport
import NeuralNetwork
import Segmentation
import Testing
@testable import Training

/// Crops (48 px, padded at the edges) of the tiny synthetic screen, made once per test process.
enum TinyCrops {
    static let folder: URL = {
        let dir = TestPaths.temporaryDirectory("tiny-crops")
        let experiment = try! TinyScreen.read()
        let locations = dir.appendingPathComponent("locations")
        _ = try! SegmentationStage(config: .init(), output: locations).run(experiment, progress: false)
        var config = CropConfig()
        config.boxSize = 48
        config.edge = .pad
        _ = try! CropStage(config: config, locations: locations).run(experiment, output: dir.appendingPathComponent("crops"), progress: false)
        return dir
    }()
    static var crops: URL { folder.appendingPathComponent("crops") }
    static var locations: URL { folder.appendingPathComponent("locations") }
}

func smallTrainingConfig(epochs: Int) -> TrainingConfig {
    var config = TrainingConfig()
    config.width = 8
    config.epochs = epochs
    config.batchSize = 32
    config.stepsPerEpoch = 12
    config.learningRate = 3e-3
    config.threads = 2
    return config
}

@Suite("Weakly supervised training") struct TrainingTests {
    @Test func datasetLabelsByTreatmentAndHoldsOutWholeWells() throws {
        let experiment = try TinyScreen.read()
        let data = try CellDataset(cropFolder: TinyCrops.crops, experiment: experiment)
        #expect(data.channels.count == 3 && data.size == 48)
        #expect(data.classNames.count == Set(experiment.plates.flatMap { $0.wells.compactMap { $0.treatment?.key } }).count)
        let (train, validation) = data.split(validationWellsPerClass: 1, seed: 1)
        #expect(train.count + validation.count == data.count && !validation.isEmpty)
        #expect(Set(train.map { data.wells[$0] }).isDisjoint(with: Set(validation.map { data.wells[$0] })))
        // Every class keeps training cells.
        #expect(Set(train.map { data.labels[$0] }).count == data.classNames.count)
        #expect(data.split(validationWellsPerClass: 1, seed: 1).validation == validation)
    }

    @Test func samplerBalancesClassesAugmentsAndMixesAcrossWells() throws {
        let data = try CellDataset(cropFolder: TinyCrops.crops, experiment: try TinyScreen.read())
        let sampler = BatchSampler(data: data, cells: Array(0..<data.count), augment: false, maxShift: 0, mixupAlpha: 0)
        var rng = SeededGenerator(seed: 3)
        var perClass = [Int](repeating: 0, count: data.classNames.count)
        for _ in 0..<40 { for l in sampler.batch(64, rng: &rng).labels { perClass[l] += 1 } }
        let expected = Double(40 * 64) / Double(perClass.count)
        #expect(perClass.allSatisfy { abs(Double($0) - expected) < 0.35 * expected }, "\(perClass)")
        // Mixup: targets are convex mixtures whose rows sum to 1, with two classes at most.
        let mixing = BatchSampler(data: data, cells: Array(0..<data.count), augment: true, maxShift: 4, mixupAlpha: 0.4)
        let batch = mixing.batch(16, rng: &rng)
        let k = data.classNames.count
        for r in 0..<16 {
            let row = batch.targets[(r * k)..<((r + 1) * k)]
            #expect(abs(row.reduce(0, +) - 1) < 1e-5)
            #expect(row.filter { $0 > 0 }.count <= 2)
        }
        // Beta(a, a) has mean 1/2 and variance 1 / (4 (2a + 1)).
        let draws = (0..<20_000).map { _ in rng.beta(0.2, 0.2) }
        let mean = draws.reduce(0, +) / Double(draws.count)
        let variance = draws.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(draws.count)
        #expect(abs(mean - 0.5) < 0.02 && abs(variance - 1 / (4 * 1.4)) < 0.01)
    }

    @Test func cropTransformsPermutePixelsAndShiftWithZeros() {
        let s = 4
        let src = (0..<(2 * s * s)).map { Float($0 + 1) }
        var dst = [Float](repeating: -1, count: src.count)
        for turns in 0..<4 {
            for flip in [false, true] {
                CropTransform(flip: flip, quarterTurns: turns).apply(src, to: &dst, channels: 2, size: s)
                #expect(dst.sorted() == src.sorted())
                // Channels move together.
                for p in 0..<(s * s) { #expect(dst[s * s + p] == dst[p] + Float(s * s)) }
            }
        }
        CropTransform(dx: 1, dy: 0).apply(src, to: &dst, channels: 2, size: s)
        #expect(Array(dst[0..<4]) == [0, 1, 2, 3])
        CropTransform.identity.apply(src, to: &dst, channels: 2, size: s)
        #expect(dst == src)
    }

    @Test func killedRunResumesToTheSameWeights() throws {
        let experiment = try TinyScreen.read()
        let data = try CellDataset(cropFolder: TinyCrops.crops, experiment: experiment)
        let trainer = try WeaklySupervisedTrainer(config: smallTrainingConfig(epochs: 2), data: data, dataDescription: "tiny")
        let dir = TestPaths.temporaryDirectory("train-resume")
        defer { try? FileManager.default.removeItem(at: dir) }
        let straight = try trainer.run(output: dir.appendingPathComponent("a"), progress: false)
        #expect(straight.count == 2)
        let killed = try trainer.run(output: dir.appendingPathComponent("b"), progress: false, stopAfter: 1)
        #expect(killed.count == 1)
        #expect(!FileManager.default.fileExists(atPath: WeaklySupervisedTrainer.modelURL(dir.appendingPathComponent("b")).path))
        let resumed = try trainer.run(output: dir.appendingPathComponent("b"), progress: false)
        #expect(resumed.map(\.loss) == straight.map(\.loss))
        let a = try Checkpoint.read(WeaklySupervisedTrainer.modelURL(dir.appendingPathComponent("a")))
        let b = try Checkpoint.read(WeaklySupervisedTrainer.modelURL(dir.appendingPathComponent("b")))
        #expect(a.tensors.count == b.tensors.count)
        for (name, t) in a.tensors { #expect(try t.floats() == b.tensors[name]!.floats(), "\(name)") }
        #expect(a.card.classNames == data.classNames && a.card.cropSize == 48)
        // A finished run is not redone.
        let again = try trainer.run(output: dir.appendingPathComponent("a"), progress: false)
        #expect(again.map(\.loss) == straight.map(\.loss))
    }

    @Test func badTrainingInputIsAClearError() throws {
        var config = smallTrainingConfig(epochs: 1)
        config.optimizer = "lbfgs"
        let data = try CellDataset(cropFolder: TinyCrops.crops, experiment: try TinyScreen.read())
        #expect { _ = try WeaklySupervisedTrainer(config: config, data: data, dataDescription: "") } throws: { "\($0)".contains("train.optimizer") }
        let empty = TestPaths.temporaryDirectory("no-crops")
        #expect { _ = try CellDataset(cropFolder: empty, experiment: try TinyScreen.read()) } throws: { "\($0)".contains("morpho crop") }
    }
}

@Suite("Embeddings") struct EmbeddingTests {
    @Test func storeAndStreamGiveTheSameDeterministicEmbeddings() throws {
        let experiment = try TinyScreen.read()
        let dir = TestPaths.temporaryDirectory("embed")
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SeededGenerator(seed: 5)
        let architecture = ResNetConfig(depth: 18, inputChannels: 3, width: 8)
        let card = ModelCard(architecture: architecture, channels: experiment.channels, cropSize: 48, cropNormalization: "crop-max",
                             trainingData: "random initialization", seed: 5)
        var config = EmbeddingConfig()
        config.taps = ["layer3", "pool"]
        config.threads = 2
        let embedder = try Embedder(model: try ResNet(architecture, rng: &rng), card: card, config: config)
        let fromStore = try EmbeddingStage(embedder: embedder, source: .store(TinyCrops.crops)).run(experiment, output: dir.appendingPathComponent("a"), progress: false)
        var crop = CropConfig()
        crop.boxSize = 48
        crop.edge = .pad
        let stream = try CropStage(config: crop, locations: TinyCrops.locations)
        _ = try EmbeddingStage(embedder: embedder, source: .stream(stream)).run(experiment, output: dir.appendingPathComponent("b"), progress: false)
        let cells = try CropStore(url: CropStore.url(folder: TinyCrops.crops, plate: experiment.plates[0].name)).count
        #expect(fromStore[0].cells == cells && cells > 100)
        for plate in experiment.plates {
            let a = try HDF5File(opening: EmbeddingStage.url(folder: dir.appendingPathComponent("a"), plate: plate.name))
            let b = try HDF5File(opening: EmbeddingStage.url(folder: dir.appendingPathComponent("b"), plate: plate.name))
            let (va, shape) = try a.readItems("/embeddings/pool")
            #expect(shape[1] == 64)
            #expect(try a.readItems("/embeddings/layer3").shape[1] == 32)
            let vb = try b.readItems("/embeddings/pool").values
            #expect(va.count == vb.count)
            #expect(zip(va, vb).map { abs($0 - $1) }.max() ?? 1 < 1e-5)
            #expect(try a.readStrings("/Metadata_Well") == b.readStrings("/Metadata_Well"))
            #expect(try a.stringAttribute("model") == card.identity)
        }
        // Rerun: up to date. Same model and input again: identical bytes.
        #expect(try EmbeddingStage(embedder: embedder, source: .store(TinyCrops.crops)).run(experiment, output: dir.appendingPathComponent("a"), progress: false).allSatisfy(\.reused))
        let first = try embedder.embed(try CropStore(url: CropStore.url(folder: TinyCrops.crops, plate: experiment.plates[0].name)).crops(0..<10), count: 10, channels: 3, size: 48)
        let second = try embedder.embed(try CropStore(url: CropStore.url(folder: TinyCrops.crops, plate: experiment.plates[0].name)).crops(0..<10), count: 10, channels: 3, size: 48)
        #expect(first["pool"]! == second["pool"]!)
        // Wrong channel count names both sides.
        let five = ModelCard(architecture: ResNetConfig(depth: 18, inputChannels: 5, width: 8), channels: ["a", "b", "c", "d", "e"], cropSize: 48,
                             cropNormalization: "crop-max", trainingData: "", seed: 1)
        var rng5 = SeededGenerator(seed: 1)
        let wrong = try Embedder(model: try ResNet(five.architecture, rng: &rng5), card: five, config: config)
        #expect { _ = try EmbeddingStage(embedder: wrong, source: .store(TinyCrops.crops)).run(experiment, output: dir.appendingPathComponent("c"), progress: false) } throws: {
            "\($0)".contains("3 channels") && "\($0)".contains("takes 5")
        }
    }

    /// The point of weak supervision: embeddings of a network trained on treatment labels match MoAs
    /// better than those of the same network at random initialization.
    @Test func trainedEmbeddingsSeparateMoAsBetterThanRandomOnes() throws {
        let experiment = try TinyScreen.read()
        let data = try CellDataset(cropFolder: TinyCrops.crops, experiment: experiment)
        let dir = TestPaths.temporaryDirectory("trained-vs-random")
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = smallTrainingConfig(epochs: 8)
        config.stepsPerEpoch = 20
        try WeaklySupervisedTrainer(config: config, data: data, dataDescription: "tiny").run(output: dir.appendingPathComponent("model"), progress: false)
        let (trained, card) = try Checkpoint.loadResNet(WeaklySupervisedTrainer.modelURL(dir.appendingPathComponent("model")))
        var rng = SeededGenerator(seed: 1)
        let random = try ResNet(ResNetConfig(depth: 18, inputChannels: 3, width: 8, classes: card.architecture.classes), rng: &rng)
        var embed = EmbeddingConfig()
        embed.taps = ["layer3"]
        embed.threads = 2
        func nsc(_ model: ResNet, _ name: String) throws -> Double {
            let out = dir.appendingPathComponent(name)
            _ = try EmbeddingStage(embedder: try Embedder(model: model, card: card, config: embed), source: .store(TinyCrops.crops)).run(experiment, output: out, progress: false)
            let wells = try EmbeddingProfiles.wells(folder: out, experiment: experiment, tap: "layer3")
            return try BBBC021Benchmark.evaluate(normalized: wells, wells: wells, similarity: .cosine).nsc.accuracy
        }
        let trainedNSC = try nsc(trained, "trained"), randomNSC = try nsc(random, "random")
        print("tiny screen, layer3 well means, cosine 1-NN: NSC trained \(trainedNSC), random \(randomNSC)")
        #expect(trainedNSC > randomNSC + 0.1)
    }
}
