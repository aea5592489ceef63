import Foundation
import MorphoCore
import MorphoIO
import MorphoTestSupport
import NeuralNetwork
import Synthetic
import Testing
@testable import Classification

/// The tiny RxRx1-like screen, generated once per test process.
enum TinyRxRx1 {
    static let config = try! RxRx1Config.preset("tiny")
    static let design = try! RxRx1Design(config: config)
    static let folder: URL = {
        let out = TestPaths.temporaryDirectory("rxrx1-tiny")
        try! RxRx1ScreenWriter(design: design).write(to: out, progress: false)
        return out
    }()
    static let images: RxRx1Images = {
        let wells = try! RxRx1Layout.read(folder, truthFile: folder.appendingPathComponent("truth/test_labels.csv"))
        return try! RxRx1Images(root: folder, wells: wells, sites: config.sitesPerWell, ext: RxRx1ScreenWriter.imageExtension, progress: false)
    }()
}

@Suite struct DeepNoiseDataTests {
    /// Mean and std of channel c of the normalized images in `images`.
    static func moments(_ data: RxRx1Images, _ images: [Int], channel c: Int) -> (Double, Double) {
        let per = data.channels * data.size * data.size, plane = data.size * data.size
        var buffer = [Float](repeating: 0, count: per)
        var rng = SeededGenerator(seed: 1)
        var a = 0.0, b = 0.0, n = 0.0
        for i in images {
            buffer.withUnsafeMutableBufferPointer { data.fill($0.baseAddress!, image: i, .none, rng: &rng) }
            for p in 0..<plane { let v = Double(buffer[c * plane + p]); a += v; b += v * v; n += 1 }
        }
        return (a / n, (b / n - (a / n) * (a / n)).squareRoot())
    }

    @Test func eachNormalizationStandardizesItsGroups() {
        var data = TinyRxRx1.images
        for mode in RxRx1Images.Normalization.allCases {
            data.normalize(mode)
            let groups = Dictionary(grouping: 0..<data.count) { i -> String in
                let w = data.wells[data.imageWell[i]]
                switch mode {
                case .cellType: return w.cellType
                case .experiment: return w.experiment
                case .plate: return "\(w.experiment)/\(w.plate)"
                }
            }
            for (_, images) in groups {
                for c in [0, 5] {
                    let (m, s) = Self.moments(data, images, channel: c)
                    #expect(abs(m) < 1e-3 && abs(s - 1) < 1e-3, "\(mode) channel \(c): mean \(m) std \(s)")
                }
            }
        }
        // Per cell type, plates keep their own offsets: some plate is far from mean 0.
        data.normalize(.cellType)
        let plates = Dictionary(grouping: 0..<data.count) { "\(data.wells[data.imageWell[$0]].experiment)/\(data.wells[data.imageWell[$0]].plate)" }
        let means = plates.values.map { Self.moments(data, $0, channel: 0).0 }
        #expect(means.map(abs).max()! > 0.2, "\(means)")
    }

    @Test func augmentationsKeepPixelsErasingZeroesARectangle() {
        var data = TinyRxRx1.images
        data.normalize(.plate)
        let per = data.channels * data.size * data.size
        var plain = [Float](repeating: 0, count: per), turned = plain, erased = plain
        var rng = SeededGenerator(seed: 3)
        plain.withUnsafeMutableBufferPointer { data.fill($0.baseAddress!, image: 4, .none, rng: &rng) }
        for _ in 0..<8 {
            turned.withUnsafeMutableBufferPointer { data.fill($0.baseAddress!, image: 4, .init(dihedral: true), rng: &rng) }
            #expect(turned.sorted() == plain.sorted())  // a symmetry of the square moves pixels, never changes them
        }
        erased.withUnsafeMutableBufferPointer { data.fill($0.baseAddress!, image: 4, .init(dihedral: false, erasing: 1), rng: &rng) }
        let zeroed = zip(erased, plain).filter { $0 == 0 && $1 != 0 }.count
        #expect(zeroed > 0 && zeroed % data.channels == 0 && zeroed <= per / 4)
        var jittered = plain
        jittered.withUnsafeMutableBufferPointer { data.fill($0.baseAddress!, image: 4, .init(dihedral: false, jitter: 0.1), rng: &rng) }
        #expect(jittered != plain)
    }
}

@Suite struct DeepNoiseNetworkTests {
    @Test func shapesAndMeanTeacherUpdate() throws {
        let x = try Tensor.randn([3, 6, 32, 32])
        let linear = try DeepNoiseNetwork(backbone: "xception", inputChannels: 6, width: 8, classes: 5, cosineHead: false, seed: 1)
        #expect(try linear(x, training: false).shape == [3, 5])
        #expect(try linear.features(x, training: false).shape == [3, 64])
        let cosine = try DeepNoiseNetwork(backbone: "xception", inputChannels: 6, width: 8, classes: 5, cosineHead: true, seed: 1)
        let c = try cosine(x, training: false).floats()
        #expect(c.allSatisfy { abs($0) <= 1.0001 })
        // EMA: teacher = d teacher + (1 - d) student.
        let teacher = try DeepNoiseNetwork(backbone: "xception", inputChannels: 6, width: 8, classes: 5, cosineHead: true, seed: 2)
        let student = try DeepNoiseNetwork(backbone: "xception", inputChannels: 6, width: 8, classes: 5, cosineHead: true, seed: 3)
        let before = try teacher.namedTensors[0].tensor.floats(), s = try student.namedTensors[0].tensor.floats()
        try teacher.updateAsTeacher(of: student, decay: 0.9)
        let after = try teacher.namedTensors[0].tensor.floats()
        for i in 0..<5 { #expect(abs(after[i] - (0.9 * before[i] + 0.1 * s[i])) < 1e-6) }
        try teacher.updateAsTeacher(of: student, decay: 0)
        #expect(try teacher.namedTensors[0].tensor.floats() == s)
    }

    /// A ResNet backbone: features of width x 8 (x 4 for resnet50's bottlenecks), the head on top, and
    /// the head's weights named as with Xception; an unknown backbone is a named config error.
    @Test func resNetBackbones() throws {
        let x = try Tensor.randn([2, 6, 48, 48])
        for (name, features) in [("resnet18", 64), ("resnet50", 256)] {
            let net = try DeepNoiseNetwork(backbone: name, inputChannels: 6, width: 8, classes: 7, cosineHead: true, seed: 1)
            #expect(try net.features(x, training: true).shape == [2, features], "\(name)")
            #expect(try net(x, training: false).shape == [2, 7], "\(name)")
            #expect(net.namedTensors.last?.name == "head.weight")
        }
        #expect(throws: MorphoError.self) { try DeepNoiseNetwork(backbone: "vgg16", inputChannels: 6, width: 8, classes: 7, cosineHead: true, seed: 1) }
        var config = DeepNoiseConfig()
        config.backbone = "resnet101"
        #expect(throws: MorphoError.self) { try config.validate() }
    }
}

@Suite struct DeepNoiseTrainingTests {
    /// The tiny screen normalized per plate, a quiet trainer of width 8 for `epochs`, and the
    /// training (labelled) and test (unlabelled) images.
    static func setUp(epochs: Int) -> (data: RxRx1Images, config: DeepNoiseConfig, classes: Int, trainer: DeepNoiseTrainer, train: [Int], test: [Int]) {
        var data = TinyRxRx1.images
        data.normalize(.plate)
        var config = DeepNoiseConfig()
        config.epochs = epochs
        config.width = 8
        config.batchSize = 16
        config.meanTeacher = true
        let classes = TinyRxRx1.config.classes + TinyRxRx1.config.controls + 1
        var trainer = DeepNoiseTrainer(config: config, classes: classes)
        trainer.progress = false
        let train = (0..<data.count).filter { !data.wells[data.imageWell[$0]].test }
        let test = (0..<data.count).filter { data.wells[data.imageWell[$0]].test }
        return (data, config, classes, trainer, train, test)
    }

    @Test func trainingLearnsTheTrainingWellsAndPredictsProbabilities() throws {
        let (data, _, classes, trainer, train, test) = Self.setUp(epochs: 6)
        let trained = try trainer.train(data, labelled: train, unlabelled: test, width: 8, seed: 1)
        let trainWells = data.wells.indices.filter { !data.wells[$0].test }
        let p = try trainer.predict(trained.model!, data, wells: trainWells)
        #expect(p.allSatisfy { abs($0.reduce(0, +) - 1) < 1e-4 })
        let accuracy = DeepNoiseEvaluation.accuracy(PlatePrior.argmax(p), trainWells.map { data.wells[$0] })
        #expect(accuracy > 3.0 / Double(classes), "training-well accuracy \(accuracy) vs chance \(1.0 / Double(classes))")
    }

    /// A training interrupted after epoch 2 of 3 leaves a checkpoint; the rerun resumes after epoch 2
    /// and ends with the weights of an uninterrupted run. A changed configuration starts over.
    @Test func interruptedTrainingResumesFromItsCheckpoint() throws {
        let (data, config, classes, trainer, train, test) = Self.setUp(epochs: 3)
        final class Lines: @unchecked Sendable { var all: [String] = [] }
        let lines = Lines()
        let whole = try trainer.train(data, labelled: train, unlabelled: test, width: 8, seed: 1)

        let url = TestPaths.temporaryDirectory("deepnoise-checkpoint").appendingPathComponent("checkpoints/w8.h5")
        var crashing = trainer
        crashing.interruptAfterEpoch = 2
        #expect(throws: MorphoError.self) { try crashing.train(data, labelled: train, unlabelled: test, width: 8, seed: 1, checkpoint: url) }
        #expect(Checkpoint.trainingState(url)?.contains("\"epochsDone\":2") == true)

        var resuming = trainer
        resuming.progress = true
        resuming.log = { lines.all.append($0) }
        let resumed = try resuming.train(data, labelled: train, unlabelled: test, width: 8, seed: 1, checkpoint: url)
        #expect(lines.all.first?.contains("resuming after epoch 2 of 3") == true, "\(lines.all)")
        #expect(lines.all.filter { $0.contains("epoch 1:") || $0.contains("epoch 2:") }.isEmpty)
        for (a, b) in zip(whole.model!.namedTensors, resumed.model!.namedTensors) {
            let x = try a.tensor.floats(), y = try b.tensor.floats()
            #expect(zip(x, y).map { abs($0 - $1) }.max() ?? 0 <= 1e-5, "\(a.name)")
        }
        #expect(Checkpoint.trainingState(url)?.contains("\"epochsDone\":3") == true)

        var changed = config
        changed.learningRate = 0.001
        var other = DeepNoiseTrainer(config: changed, classes: classes)
        other.progress = true
        lines.all = []
        other.log = { lines.all.append($0) }
        _ = try other.train(data, labelled: train, unlabelled: test, width: 8, seed: 1, checkpoint: url)
        #expect(!lines.all.contains { $0.contains("resuming") } && lines.all.contains { $0.contains("epoch 1:") })
    }

    /// Pseudo labels: every image of a held-out treatment well takes its well's prediction, unless the
    /// well's probability of it is below the minimum.
    @Test func pseudoLabelsLabelEveryImageOfConfidentWells() {
        let data = TinyRxRx1.images
        let treatments = TinyRxRx1.config.classes
        let wells = data.wells.indices.filter { data.wells[$0].test && data.wells[$0].kind == .treatment }
        // Well k: class k % treatments, with probability 0.7 for even k and 0.4 for odd k.
        let p = wells.indices.map { k in
            (0..<treatments).map { c in c == k % treatments ? (k % 2 == 0 ? 0.7 : 0.4) : (k % 2 == 0 ? 0.3 : 0.6) / Double(treatments - 1) }
        }
        let labels = DeepNoiseEvaluation.pseudoLabels(p, wells: wells, data: data, groups: [], method: "none", minProbability: 0.5)
        let confident = wells.indices.filter { $0 % 2 == 0 }
        #expect(Set(labels.keys) == Set(data.images(ofWells: confident.map { wells[$0] })))
        for k in confident { for image in data.images(ofWells: [wells[k]]) { #expect(labels[image] == k % treatments) } }
        #expect(DeepNoiseEvaluation.pseudoLabels(p, wells: wells, data: data, groups: [], method: "none", minProbability: 0).count
                == data.images(ofWells: wells).count)
    }

    /// The fine-tuning round learns the labels it is given: with the true classes of the held-out
    /// treatment wells as pseudo labels, their accuracy rises well above that of the first round and of
    /// chance, and the round's checkpoint records its own epochs.
    @Test func pseudoLabelRoundLearnsTheGivenLabels() throws {
        let (data, base, classes, _, train, test) = Self.setUp(epochs: 2)
        var config = base
        config.pseudoLabelEpochs = 20
        config.pseudoLabelLearningRate = 0.005
        config.emaDecay = 0.5  // so few steps: the teacher (which predicts) follows the student closely
        var trainer = DeepNoiseTrainer(config: config, classes: classes)
        trainer.progress = false
        let first = try trainer.train(data, labelled: train, unlabelled: test, width: 8, seed: 1)
        let wells = data.wells.indices.filter { data.wells[$0].test && data.wells[$0].kind == .treatment }
        let truth = wells.map { data.wells[$0] }
        var pseudo = [Int: Int]()
        for w in wells { for image in data.images(ofWells: [w]) { pseudo[image] = data.wells[w].sirna! } }
        func accuracy(_ model: DeepNoiseNetwork) throws -> Double {
            let p = DeepNoiseEvaluation.treatmentProbabilities(try trainer.predict(model, data, wells: wells), treatments: TinyRxRx1.config.classes)
            return DeepNoiseEvaluation.accuracy(PlatePrior.argmax(p), truth)
        }
        let url = TestPaths.temporaryDirectory("deepnoise-pseudo").appendingPathComponent("w8-pseudo.h5")
        let tuned = try trainer.train(data, labelled: train, unlabelled: test, width: 8, seed: 1, checkpoint: url, pseudo: pseudo, startingFrom: first)
        let before = try accuracy(first.model!), after = try accuracy(tuned.model!)
        // 16 treatment classes: chance is 1/16.
        #expect(after > before && after >= 0.5, "held-out accuracy \(before) -> \(after)")
        #expect(Checkpoint.trainingState(url)?.contains("\"epochsDone\":20") == true)
    }

    @Test func groupAssignmentRecoversPlatesFromNoisyProbabilities() {
        // Probabilities that favour the right class only a little: group inference + assignment fixes them.
        let design = TinyRxRx1.design
        let wells = design.wells.filter { $0.test && $0.kind == .treatment }
        var rng = SeededGenerator(seed: 4)
        let p = wells.map { w -> [Double] in
            var row = (0..<TinyRxRx1.config.classes).map { _ in rng.uniform(0.5, 1.5) }
            row[w.sirna!] += 0.6
            let s = row.reduce(0, +)
            return row.map { $0 / s }
        }
        let plain = DeepNoiseEvaluation.accuracy(DeepNoiseEvaluation.predict(p, wells: wells, groups: design.groups, method: "none"), wells)
        let post = DeepNoiseEvaluation.accuracy(DeepNoiseEvaluation.predict(p, wells: wells, groups: design.groups, method: "group-assign"), wells)
        #expect(post > plain + 0.2, "argmax \(plain), group + assignment \(post)")
    }
}
