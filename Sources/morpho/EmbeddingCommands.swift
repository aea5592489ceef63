import ArgumentParser
import Cropping
import Embedding
import Foundation
import MoAMatching
import MorphoCore
import MorphoIO
import NeuralNetwork
import Training

/// `morpho train`: weakly supervised training of a ResNet on single-cell crops labelled by treatment.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a ResNet to tell treatments apart from single-cell crops (Caicedo et al. 2018); writes <out>/model.h5.",
        discussion: """
        Checkpoints every epoch to <out>/checkpoint.h5; rerunning the same command resumes from it.
        Example:
          morpho train --bbbc021 screen/image.csv --moa screen/moa.csv --images screen/images --crops run/crops --out run/model --epochs 10
        """
    )
    @OptionGroup var experiment: ExperimentOptions
    @Option(help: "Folder of crop stores from `morpho crop`.") var crops: String
    @Option(help: "Output folder.") var out: String
    @Option(help: "ResNet depth: 18, 34 or 50.") var depth = TrainingConfig().depth
    @Option(help: "Channels of the first stage (64 = standard ResNet).") var width = TrainingConfig().width
    @Option var epochs = TrainingConfig().epochs
    @Option var batchSize = TrainingConfig().batchSize
    @Option(help: "Steps per epoch (default: training cells / batch size).") var steps: Int?
    @Option(help: "adamw or sgd.") var optimizer = TrainingConfig().optimizer
    @Option var learningRate = TrainingConfig().learningRate
    @Option var weightDecay = TrainingConfig().weightDecay
    @Option(help: "cosine, step or constant.") var schedule = TrainingConfig().schedule
    @Option(help: "Mixup Beta(alpha, alpha); 0 = off.") var mixupAlpha = TrainingConfig().mixupAlpha
    @Flag(help: "No flips, rotations or shifts.") var noAugment = false
    @Option(help: "Largest translation (pixels).") var maxShift = TrainingConfig().maxShift
    @Option(help: "Replicate wells per treatment held out for validation.") var validationWells = TrainingConfig().validationWellsPerClass
    @Option var seed: UInt64 = TrainingConfig().seed
    @Option(help: "LibTorch threads (default: all cores).") var threads: Int?
    @Option(help: "Stop after this many epochs in total (resume later).") var stopAfter: Int?
    @Flag(help: "No progress on stderr.") var quiet = false

    func run() throws {
        try Morpho.reportingErrors {
            var config = TrainingConfig()
            config.depth = depth; config.width = width; config.epochs = epochs; config.batchSize = batchSize
            config.stepsPerEpoch = steps; config.optimizer = optimizer; config.learningRate = learningRate
            config.weightDecay = weightDecay; config.schedule = schedule; config.mixupAlpha = mixupAlpha
            config.augment = !noAugment; config.maxShift = maxShift; config.validationWellsPerClass = validationWells
            config.seed = seed; config.threads = threads
            let exp = try experiment.read(checkFiles: false).0
            let data = try CellDataset(cropFolder: URL(fileURLWithPath: crops), experiment: exp)
            say("train: \(data.count) cells, \(data.classNames.count) treatments, crops \(data.channels.count)x\(data.size)x\(data.size)")
            let trainer = try WeaklySupervisedTrainer(config: config, data: data, dataDescription: "crops \(crops), plates \(exp.plates.map(\.name).joined(separator: ","))")
            let output = URL(fileURLWithPath: out)
            let history = try trainer.run(output: output, progress: !quiet, stopAfter: stopAfter)
            if let last = history.last {
                say(String(format: "epoch %d: loss %.4f, train accuracy %.3f, validation accuracy %@, %@ cells/s",
                           last.epoch, last.loss, last.trainAccuracy, last.validationAccuracy.map { String(format: "%.3f", $0) } ?? "-",
                           last.cellsPerSecond.map { String(format: "%.0f", $0) } ?? "-"))
            }
            say(history.count == epochs ? "model: \(WeaklySupervisedTrainer.modelURL(output).path)" : "stopped after epoch \(history.count) of \(epochs); rerun to resume")
        }
    }
}

/// Where `morpho embed` gets its network.
struct ModelOptions: ParsableArguments {
    @Option(help: "A Morpho model (model.h5 from `morpho train`) or a TorchScript ResNet (.pt, torchvision names).") var model: String?
    @Flag(help: "A randomly initialized ResNet (the baseline weak supervision must beat).") var random = false
    @Option(help: "Depth for --random or a TorchScript model.") var depth = 18
    @Option(help: "Width for --random or a TorchScript model.") var width = 64
    @Option(help: "Seed of --random.") var seed: UInt64 = 1

    /// The network and its card, for crops of `channels` at `size` px with `normalization`.
    func load(channels: [String], size: Int, normalization: String) throws -> (ResNet, ModelCard) {
        if model != nil, random { throw MorphoError.config(key: "random", problem: "give --model or --random, not both") }
        guard let source = model.map({ ModelSource.file(URL(fileURLWithPath: $0)) }) ?? (random ? .random(depth: depth, width: width, seed: seed) : nil) else {
            throw MorphoError.config(key: "model", problem: "give --model FILE or --random")
        }
        return try source.load(channels: channels, size: size, normalization: normalization, depth: depth, width: width)
    }
}

/// `morpho embed`: CNN embeddings of every cell.
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embed single-cell crops with a CNN into <out>/<plate>.h5 (/embeddings/<layer>).",
        discussion: """
        Crops come from `morpho crop` stores (--crops) or are made on the fly from locations (--locations).
        Example:
          morpho embed --bbbc021 screen/image.csv --moa screen/moa.csv --images screen/images --crops run/crops --model run/model/model.h5 --taps layer3,pool --out run/embeddings --match
        """
    )
    @OptionGroup var experiment: ExperimentOptions
    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Folder of crop stores from `morpho crop`.") var crops: String?
    @Option(help: "Or: folder of locations from `morpho segment`, to crop on the fly.") var locations: String?
    @Option(help: "With --locations: illumination functions.") var illum: String?
    @Option(name: [.customLong("box-size"), .customLong("box")], help: "With --locations: box side in pixels.") var box = CropConfig().boxSize
    @Option(help: "With --locations: crop normalization.") var normalization = CropConfig().normalization.rawValue
    @Option(help: "Output folder.") var out: String
    @Option(help: "Comma-separated layers: stem, layer1-4, pool, logits.") var taps = "pool"
    @Option var batchSize = EmbeddingConfig().batchSize
    @Option(help: "LibTorch threads (default: all cores).") var threads: Int?
    @Flag(help: "Print NSC / NSCB of 1-NN matching (cosine) on treatment means of the well-mean embeddings.") var match = false
    @Option(help: "Write well-mean embeddings (pycytominer columns) of the first tap to this CSV.") var wellsCsv: String?
    @Flag(help: "No progress on stderr.") var quiet = false

    func run() throws {
        try Morpho.reportingErrors {
            var config = EmbeddingConfig()
            config.taps = taps.split(separator: ",").map(String.init)
            config.batchSize = batchSize
            config.threads = threads
            let exp = try experiment.read(checkFiles: crops == nil).0
            let source: EmbeddingStage.CropSource
            let channels: [String], size: Int, norm: String
            if let crops {
                guard locations == nil else { throw MorphoError.config(key: "crops", problem: "give --crops or --locations, not both") }
                let folder = URL(fileURLWithPath: crops)
                guard let first = exp.plates.first else { throw MorphoError.config(key: "plates", problem: "no plates") }
                let store = try CropStore(url: CropStore.url(folder: folder, plate: first.name))
                (channels, size, norm) = (store.channels, store.boxSize, store.normalization)
                source = .store(folder)
            } else if let locations {
                var crop = CropConfig()
                crop.boxSize = box
                crop.normalization = try choice(normalization, key: "crop.normalization", what: "normalization")
                source = .stream(try CropStage(config: crop, locations: URL(fileURLWithPath: locations), illumination: illum.map { URL(fileURLWithPath: $0) }))
                (channels, size, norm) = (exp.channels, box, normalization)
            } else {
                throw MorphoError.config(key: "crops", problem: "give --crops (crop stores) or --locations (crop on the fly)")
            }
            let (model, card) = try modelOptions.load(channels: channels, size: size, normalization: norm)
            let embedder = try Embedder(model: model, card: card, config: config)
            let output = URL(fileURLWithPath: out)
            var stage = EmbeddingStage(embedder: embedder, source: source)
            stage.extraInputs = modelOptions.model.map { [URL(fileURLWithPath: $0)] } ?? []
            for r in try stage.run(exp, output: output, progress: !quiet) {
                say("\(r.plate): \(r.cells) cells\(r.reused ? " (up to date)" : String(format: ", %.0f cells/s", Double(r.cells) / max(r.seconds, 1e-9)))")
            }
            guard match || wellsCsv != nil else { return }
            let wells = try EmbeddingProfiles.wells(folder: output, experiment: exp, tap: config.taps[0])
            if let wellsCsv { try FeatureTableCSV.write(wells, to: URL(fileURLWithPath: wellsCsv)) }
            if match {
                let (nsc, nscb) = try BBBC021Benchmark.evaluate(normalized: wells, wells: wells, similarity: .cosine)
                say(String(format: "%@ (%@): NSC %.3f (%d/%d), NSCB %.3f (%d/%d)", card.identity, config.taps[0],
                           nsc.accuracy, nsc.correct, nsc.scored, nscb.accuracy, nscb.correct, nscb.scored))
            }
        }
    }
}
