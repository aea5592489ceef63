import Foundation
import MorphoCore
import MorphoIO
import NeuralNetwork

/// Settings of `morpho train`.
public struct TrainingConfig: Codable, Sendable, Equatable {
    public var depth = 18
    public var width = 64
    public var epochs = 10
    public var batchSize = 64
    /// Steps per epoch; nil = training cells / batch size.
    public var stepsPerEpoch: Int?
    /// "adamw" or "sgd" (momentum 0.9).
    public var optimizer = "adamw"
    public var learningRate = 1e-3
    public var weightDecay = 1e-4
    /// "cosine", "step" (x0.1 every third of the epochs) or "constant".
    public var schedule = "cosine"
    /// Beta(alpha, alpha) of mixup; 0 turns mixup off.
    public var mixupAlpha = 0.2
    public var augment = true
    /// Largest translation in pixels.
    public var maxShift = 4
    public var validationWellsPerClass = 1
    public var seed: UInt64 = 1
    /// LibTorch threads; nil = all cores. Not part of any key: results do not depend on it
    /// (DeterminismTests), so changing it neither reruns training nor drops its checkpoint.
    public var threads: Int?

    public init() {}

    /// The settings that decide the result (everything but `threads`), for unit keys and checkpoints.
    public var keyed: TrainingConfig {
        var c = self
        c.threads = nil
        return c
    }

    public func validate() throws {
        guard [18, 34, 50].contains(depth) else { throw MorphoError.config(key: "train.depth", problem: "\(depth) is not one of 18, 34, 50") }
        guard width > 0, epochs > 0, batchSize > 1 else { throw MorphoError.config(key: "train", problem: "width, epochs must be positive and batch size > 1") }
        guard ["adamw", "sgd"].contains(optimizer) else { throw MorphoError.config(key: "train.optimizer", problem: "'\(optimizer)' is not adamw or sgd") }
        guard ["cosine", "step", "constant"].contains(schedule) else { throw MorphoError.config(key: "train.schedule", problem: "'\(schedule)' is not cosine, step or constant") }
        guard learningRate > 0, mixupAlpha >= 0, maxShift >= 0 else { throw MorphoError.config(key: "train", problem: "learning rate must be positive, mixup alpha and shift >= 0") }
    }

    var learningRateSchedule: LearningRateSchedule {
        switch schedule {
        case "step": .step(every: max(1, epochs / 3), gamma: 0.1)
        case "constant": .constant
        default: .cosine(epochs: epochs, minimum: learningRate * 0.01)
        }
    }
}

/// One epoch's numbers. Only what the seed determines is stored (checkpoints and `training.json` are
/// byte-identical between runs); the measured speed of the epochs run in this process is kept in
/// `cellsPerSecond` and in `training_speed.json`.
public struct EpochRecord: Codable, Sendable, Equatable {
    public var epoch: Int
    public var loss: Double
    public var trainAccuracy: Double
    public var validationAccuracy: Double?
    /// Cells per second of this epoch when it ran in this process (not stored with the history).
    public var cellsPerSecond: Double?

    enum CodingKeys: String, CodingKey { case epoch, loss, trainAccuracy, validationAccuracy }
}

/// The measured speed of the epochs, by epoch number (`training_speed.json`): a measurement, apart from the
/// reproducible history.
public struct TrainingSpeed: Codable, Sendable, Equatable {
    public var cellsPerSecond: [String: Double] = [:]

    public static func url(_ output: URL) -> URL { output.appendingPathComponent("training_speed.json") }
    public static func read(_ output: URL) -> TrainingSpeed? {
        guard let data = FileManager.default.contents(atPath: url(output).path) else { return nil }
        return try? JSONDecoder().decode(TrainingSpeed.self, from: data)
    }
    /// The median over the recorded epochs.
    public var median: Double? {
        let v = cellsPerSecond.values.sorted()
        return v.isEmpty ? nil : v[v.count / 2]
    }
}

/// Weakly supervised training of single-cell embeddings (Caicedo et al. 2018): a ResNet learns to tell
/// treatments apart from single-cell crops, and its intermediate layers become the embeddings.
///
/// Writes to its output folder `checkpoint.h5` after every epoch (model, optimizer state and the history,
/// atomically), then `model.h5` (the trained model with its card) and `training.json` (the history). A
/// rerun with the same config and data resumes from the checkpoint and ends with the same weights as an
/// uninterrupted run: every epoch draws from its own generator (seed, epoch), and the optimizer state is
/// saved.
public struct WeaklySupervisedTrainer {
    public let config: TrainingConfig
    public let data: CellDataset
    public let dataDescription: String

    public init(config: TrainingConfig, data: CellDataset, dataDescription: String) throws {
        try config.validate()
        self.config = config
        self.data = data
        self.dataDescription = dataDescription
    }

    public static func modelURL(_ output: URL) -> URL { output.appendingPathComponent("model.h5") }
    static func checkpointURL(_ output: URL) -> URL { output.appendingPathComponent("checkpoint.h5") }

    struct State: Codable {
        var key: String
        var epoch: Int
        var history: [EpochRecord]
    }

    /// Trains (or resumes) and returns the history. `stopAfter` ends this call after that many epochs in
    /// total (as if the run were killed there; for tests and time-boxed runs).
    @discardableResult
    public func run(output: URL, progress: Bool = true, stopAfter: Int? = nil) throws -> [EpochRecord] {
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        AtomicFile.removeStaleTemporaries(under: output)
        try Engine.setThreads(config.threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let key = trainingKey()
        let card = ModelCard(architecture: ResNetConfig(depth: config.depth, inputChannels: data.channels.count, width: config.width, classes: data.classNames.count),
                             channels: data.channels, cropSize: data.size, cropNormalization: data.normalization,
                             classNames: data.classNames, trainingData: dataDescription, seed: config.seed)
        let modelURL = WeaklySupervisedTrainer.modelURL(output)
        if let json = Checkpoint.trainingState(modelURL),
           let state = try? JSONDecoder().decode(State.self, from: Data(json.utf8)), state.key == key, state.epoch == config.epochs {
            return state.history
        }

        var rng = SeededGenerator(seed: config.seed, stream: "model")
        let model = try ResNet(card.architecture, rng: &rng)
        model.channelsLast = true
        let optimizer: Optimizer = config.optimizer == "sgd"
            ? SGD(model, learningRate: config.learningRate, momentum: 0.9, weightDecay: config.weightDecay)
            : Adam(model, learningRate: config.learningRate, weightDecay: config.weightDecay, decoupled: true)
        var state = State(key: key, epoch: 0, history: [])
        let checkpointURL = WeaklySupervisedTrainer.checkpointURL(output)
        if let json = Checkpoint.trainingState(checkpointURL),
           let s = try? JSONDecoder().decode(State.self, from: Data(json.utf8)), s.key == key {
            let saved = try Checkpoint.read(checkpointURL)
            try model.load(saved.tensors, context: checkpointURL.path)
            try optimizer.loadState(saved.state)
            state = s
            if progress { FileHandle.standardError.write(Data("train: resuming from epoch \(s.epoch) of \(config.epochs) (\(checkpointURL.path))\n".utf8)) }
        }

        let (train, validation) = data.split(validationWellsPerClass: config.validationWellsPerClass, seed: config.seed)
        let sampler = BatchSampler(data: data, cells: train, augment: config.augment, maxShift: config.maxShift, mixupAlpha: config.mixupAlpha)
        let steps = config.stepsPerEpoch ?? max(1, train.count / config.batchSize)
        let last = min(config.epochs, stopAfter ?? config.epochs)
        var speed = TrainingSpeed.read(output) ?? TrainingSpeed()
        while state.epoch < last {
            let epoch = state.epoch
            optimizer.learningRate = config.learningRateSchedule.rate(base: config.learningRate, epoch: epoch)
            var epochRNG = SeededGenerator(seed: config.seed, stream: "epoch \(epoch)")
            Engine.seed(config.seed &+ UInt64(epoch))
            let reporter = ProgressReporter("train epoch \(epoch + 1)/\(config.epochs)", total: steps * config.batchSize, unit: "cells", enabled: progress)
            let start = Date()
            var lossSum = 0.0, correct = 0, seen = 0
            for _ in 0..<steps {
                let batch = sampler.batch(config.batchSize, rng: &epochRNG)
                let x = try Tensor(batch.pixels, shape: [config.batchSize, data.channels.count, data.size, data.size])
                let targets = try Tensor(batch.targets, shape: [config.batchSize, data.classNames.count])
                let logits = try model.logits(x, training: true)
                let loss = try Loss.softCrossEntropy(logits, targets: targets)
                try loss.backward()
                try optimizer.step()
                lossSum += try loss.item()
                let predicted = try logits.argmax(1).indices()
                correct += zip(predicted, batch.labels).filter { $0 == $1 }.count
                seen += config.batchSize
                reporter.advance(by: config.batchSize)
            }
            reporter.finish()
            let seconds = Date().timeIntervalSince(start)
            let validationAccuracy = validation.isEmpty ? nil : try accuracy(model, cells: validation)
            let record = EpochRecord(epoch: epoch + 1, loss: lossSum / Double(steps), trainAccuracy: Double(correct) / Double(seen),
                                     validationAccuracy: validationAccuracy, cellsPerSecond: Double(seen) / seconds)
            speed.cellsPerSecond[String(epoch + 1)] = Double(seen) / seconds
            state.history.append(record)
            state.epoch = epoch + 1
            if progress {
                let v = validationAccuracy.map { String(format: "%.3f", $0) } ?? "-"
                FileHandle.standardError.write(Data(String(format: "train: epoch %d/%d loss %.4f train acc %.3f val acc %@ %.0f cells/s\n",
                                                           epoch + 1, config.epochs, record.loss, record.trainAccuracy, v, speed.cellsPerSecond[String(epoch + 1)] ?? 0).utf8))
            }
            let json = String(decoding: try JSONEncoder.sorted.encode(state), as: UTF8.self)
            try Checkpoint.write(to: checkpointURL, card: card, model: model, state: optimizer.state, trainingState: json)
            try AtomicFile.write(try JSONEncoder.sorted.encode(speed), to: TrainingSpeed.url(output))
        }
        if state.epoch == config.epochs {
            // Also when a run died between its last checkpoint and here: the model is written from it.
            let json = String(decoding: try JSONEncoder.sorted.encode(state), as: UTF8.self)
            try Checkpoint.write(to: modelURL, card: card, model: model, trainingState: json)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try encoder.encode(state.history), to: output.appendingPathComponent("training.json"))
        }
        return state.history
    }

    /// Top-1 accuracy of the model on `cells` (evaluation mode, no augmentation).
    func accuracy(_ model: ResNet, cells: [Int]) throws -> Double {
        var correct = 0
        let item = data.itemSize
        for start in stride(from: 0, to: cells.count, by: config.batchSize) {
            let part = Array(cells[start..<min(cells.count, start + config.batchSize)])
            var pixels = [Float]()
            pixels.reserveCapacity(part.count * item)
            for c in part { pixels += data.pixels[(c * item)..<((c + 1) * item)] }
            let logits = try Tensor.withoutGradients {
                try model.logits(try Tensor(pixels, shape: [part.count, data.channels.count, data.size, data.size]), training: false)
            }
            correct += zip(try logits.argmax(1).indices(), part).filter { $0 == data.labels[$1] }.count
        }
        return Double(correct) / Double(max(cells.count, 1))
    }

    /// Identity of a training run: config, classes, and a fingerprint of the data.
    func trainingKey() -> String {
        var h = stableHash(String(decoding: (try? JSONEncoder.sorted.encode(config.keyed)) ?? Data(), as: UTF8.self))
        h ^= stableHash(data.classNames.joined(separator: "|")) &* 31
        h ^= stableHash(data.wells.joined(separator: "|")) &* 131
        var sample: UInt64 = 0
        for i in stride(from: 0, to: data.pixels.count, by: max(1, data.pixels.count / 4096)) {
            sample = (sample &* 1_099_511_628_211) ^ UInt64(data.pixels[i].bitPattern)
        }
        return String(h ^ sample, radix: 16)
    }
}
