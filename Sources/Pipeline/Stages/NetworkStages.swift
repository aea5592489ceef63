import Cropping
import Embedding
import Foundation
import MorphoCore
import NeuralNetwork
import Training

/// `train`: weakly supervised ResNet on the stored crops, labelled by treatment (Caicedo et al. 2018)
/// -> `model/model.h5`, `model/training.json`; resumes from `model/checkpoint.h5`.
public enum TrainPipelineStage: PipelineStage {
    public typealias Config = TrainingConfig
    public static let name = "train"
    public static let abstract = "Weakly supervised ResNet on single-cell crops labelled by treatment (class-balanced, mixup, augmentation)."
    public static func inputs(_ config: Config) -> [[Artifact]] { [[.crops]] }
    public static func outputs(_ config: Config) -> [Artifact] { [.model] }
    public static let scope = UnitScope.all
    public static var defaults: Config { TrainingConfig() }
    public static func validate(_ config: Config) throws { try config.validate() }
    public static func mainOutput(_ config: Config, unit: String, context: StageContext) -> URL {
        WeaklySupervisedTrainer.modelURL(context.folder(.model))
    }
    public static func run(_ config: Config, context: StageContext) throws -> [UnitOutcome] {
        var config = config
        config.threads = config.threads ?? context.threads
        let crops = context.folder(.crops)
        let inputs = context.experiment.plates.map { CropStore.url(folder: crops, plate: $0.name) }
        let output = context.folder(.model)
        let unit = try context.unit(name, "all", config: config.keyed, inputs: inputs, output: WeaklySupervisedTrainer.modelURL(output)) {
            let data = try CellDataset(cropFolder: crops, experiment: context.experiment)
            let trainer = try WeaklySupervisedTrainer(config: config, data: data, dataDescription: "crops of plates \(context.experiment.plates.map(\.name).joined(separator: ","))")
            let history = try trainer.run(output: output, progress: context.progress)
            return ([WeaklySupervisedTrainer.modelURL(output), output.appendingPathComponent("training.json")],
                    ["cells": data.count, "classes": data.classNames.count, "epochs": history.count])
        }
        return [unit]
    }
    public static func metrics(_ config: Config, context: StageContext) -> [String: Double] {
        guard let data = FileManager.default.contents(atPath: context.folder(.model).appendingPathComponent("training.json").path),
              let history = try? JSONDecoder().decode([EpochRecord].self, from: data), let last = history.last else { return [:] }
        var m = ["train_accuracy": last.trainAccuracy, "train_loss": last.loss]
        if let speed = TrainingSpeed.read(context.folder(.model))?.median { m["train_cells_per_s"] = speed }
        if let v = last.validationAccuracy { m["validation_accuracy"] = v }
        return m
    }
}

/// `embed`: CNN embeddings of every cell -> `embeddings/<plate>.h5`. `model: trained` takes the train
/// stage's model; `random` a random ResNet; or a path to a `model.h5` or TorchScript `.pt` file.
public enum EmbedPipelineStage: PipelineStage {
    public struct Extra: Codable, Sendable {
        public var model = "trained"
        /// For `random` and TorchScript models.
        public var depth = 18
        public var width = 64
        public var seed: UInt64 = 1
    }
    public typealias Config = FlatConfig<EmbeddingConfig, Extra>
    public static let name = "embed"
    public static let abstract = "CNN embeddings of every cell (global-average-pooled layer taps)."
    public static func inputs(_ config: Config) -> [[Artifact]] {
        [[.crops, .locations]] + (config.extra.model == "trained" ? [[.model]] : [])
    }
    public static func outputs(_ config: Config) -> [Artifact] { [.embeddings] }
    public static let scope = UnitScope.plate
    public static var defaults: Config { FlatConfig(EmbeddingConfig(), Extra()) }
    public static func validate(_ config: Config) throws {
        guard !config.base.taps.isEmpty else { throw MorphoError.config(key: "stages.embed.taps", problem: "give at least one layer") }
    }
    public static func mainOutput(_ config: Config, unit: String, context: StageContext) -> URL {
        EmbeddingStage.url(folder: context.folder(.embeddings), plate: unit)
    }
    public static func run(_ config: Config, context: StageContext) throws -> [UnitOutcome] {
        var embedding = config.base
        embedding.threads = embedding.threads ?? context.threads
        let cropStage = try context.config(of: CropPipelineStage.self)
        let stored = cropStage?.extra.store ?? false
        let cropConfig = cropStage ?? CropPipelineStage.defaults
        let source: EmbeddingStage.CropSource = stored ? .store(context.folder(.crops)) : .stream(try CropPipelineStage.stage(cropConfig, context: context))
        let channels: [String], size: Int, normalization: String
        if stored, let first = context.plates.first {
            let store = try CropStore(url: CropStore.url(folder: context.folder(.crops), plate: first.name))
            (channels, size, normalization) = (store.channels, store.boxSize, store.normalization)
        } else {
            channels = try context.experiment.channels(selecting: cropConfig.base.channels, key: "crop.channels")
            (size, normalization) = (cropConfig.base.boxSize, cropConfig.base.normalization.rawValue)
        }
        let modelSource: ModelSource, modelFile: URL?
        switch config.extra.model {
        case "trained":
            modelFile = WeaklySupervisedTrainer.modelURL(context.folder(.model))
            modelSource = .file(modelFile!)
        case "random":
            (modelSource, modelFile) = (.random(depth: config.extra.depth, width: config.extra.width, seed: config.extra.seed), nil)
        default:
            modelFile = URL(fileURLWithPath: config.extra.model)
            modelSource = .file(modelFile!)
        }
        let (net, card) = try modelSource.load(channels: channels, size: size, normalization: normalization, depth: config.extra.depth, width: config.extra.width)
        var stage = EmbeddingStage(embedder: try Embedder(model: net, card: card, config: embedding), source: source)
        stage.extraInputs = modelFile.map { [$0] } ?? []
        return try stage.run(context.selected, output: context.folder(.embeddings), progress: context.progress).map {
            UnitOutcome(unit: $0.plate, reused: $0.reused, seconds: $0.seconds, counts: ["cells": $0.cells])
        }
    }
}
