import ArgumentParser
import Classification
import Foundation
import MorphoCore
import MorphoIO
import NeuralNetwork
import Synthetic

/// `morpho deepnoise-ablation`: the DeepNoise paper's two ablation tables on a generated RxRx1-like screen.
struct DeepNoiseAblationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deepnoise-ablation",
        abstract: "Reproduce the DeepNoise ablation (normalization; ArcFace, mean teacher, ensemble, post-processing) on a generated RxRx1-like screen.",
        discussion: """
        Generates the screen into OUT/screen (seeded, resumable), trains each arm on the training experiments
        and scores the treatment wells of the held-out experiments. Writes OUT/ablation.json (the rows of each
        model seed) and OUT/ablation.md.
        Example:
          morpho deepnoise-ablation --preset demo --out runs/deepnoise-ablation
        """
    )

    @Option(help: "Screen preset: tiny, demo or rxrx1.") var preset = "demo"
    @Option(help: "Output folder.") var out = "runs/deepnoise-ablation"
    @Option(help: "Epochs per model.") var epochs: Int?
    @Option(help: "Random seed of the screen and of the first models.") var seed: UInt64 = 1
    @Option(help: "Train every arm with this many model seeds (seed, seed + 1, ...) on the same screen; the tables give mean, sd and range.")
    var seeds = 1
    @Option(help: "Engine threads (0: all cores).") var threads = 0
    @Flag(help: "No progress on stderr.") var quiet = false

    func run() throws {
        try Morpho.reportingErrors {
            var screen = try RxRx1Config.preset(preset)
            screen.seed = seed
            let design = try RxRx1Design(config: screen)
            let folder = URL(fileURLWithPath: out)
            let screenFolder = folder.appendingPathComponent("screen")
            try RxRx1ScreenWriter(design: design).write(to: screenFolder, progress: !quiet)
            try Engine.setThreads(threads > 0 ? threads : ProcessInfo.processInfo.activeProcessorCount)
            let wells = try RxRx1Layout.read(screenFolder, truthFile: screenFolder.appendingPathComponent("truth/test_labels.csv"))
            let data = try RxRx1Images(root: screenFolder, wells: wells, sites: screen.sitesPerWell, ext: RxRx1ScreenWriter.imageExtension, progress: !quiet)
            var runs = [[DeepNoiseAblation.Row]]()
            for modelSeed in seed..<seed + UInt64(max(1, seeds)) {
                var config = DeepNoiseConfig()
                config.seed = modelSeed
                if let epochs { config.epochs = epochs }
                try config.validate()
                var ablation = DeepNoiseAblation(data: data, base: config, treatments: screen.classes, groups: design.groups)
                ablation.progress = !quiet
                ablation.cacheFolder = folder.appendingPathComponent(modelSeed == seed ? "arms" : "arms-seed\(modelSeed)")
                runs.append(try ablation.run())
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try encoder.encode(runs), to: folder.appendingPathComponent("ablation.json"))  // one row list per seed
            let table = DeepNoiseAblation.markdown(runs)
            try AtomicFile.write(Data(table.utf8), to: folder.appendingPathComponent("ablation.md"))
            say(table)
        }
    }
}
