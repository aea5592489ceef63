import ArgumentParser
import Foundation
import MorphoCore
import MorphoIO
import Synthetic

/// `morpho synth`: generate a synthetic BBBC021-like screen with known answers.
struct Synth: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate a synthetic BBBC021-like screen (images, image.csv, moa.csv, ground truth).",
        discussion: """
        Examples:
          morpho synth --preset tiny --out /tmp/screen
          morpho synth --layout ../shared/data/bbbc021 --plates Week1_22123 --max-sites 1 --size 256x256 --out /tmp/bbbc021-synth
        """
    )

    @Option(help: "Size preset: tiny, small or realistic.") var preset = "tiny"
    @Option(help: "Output folder.") var out: String
    @Option(help: "Random seed (same seed and options give the same bytes).") var seed: UInt64?
    @Option(help: "Field size WIDTHxHEIGHT, overriding the preset.") var size: String?
    @Option(help: "Folder with BBBC021_v1_image.csv(.gz) and BBBC021_v1_moa.csv: render that real design.") var layout: String?
    @Option(help: "With --layout: comma-separated plates to render (default all).") var plates: String?
    @Option(help: "With --layout: at most this many sites per well.") var maxSites: Int?
    @Option(help: "Mean cells per DMSO field, overriding the preset.") var cells: Int?
    @Flag(help: "Replace a screen made with other options in --out.") var overwrite = false
    @Flag(help: "No progress on stderr.") var quiet = false

    func run() throws {
        try Morpho.reportingErrors {
            var config = try SyntheticConfig.preset(preset)
            if let seed { config.seed = seed }
            if let cells { config.cellsPerField = cells }
            if let size {
                let parts = size.lowercased().split(separator: "x").compactMap { Int($0) }
                guard parts.count == 2 else { throw MorphoError.config(key: "size", problem: "'\(size)' is not WIDTHxHEIGHT") }
                (config.fieldWidth, config.fieldHeight) = (parts[0], parts[1])
            }
            try config.validate()
            let design: ScreenDesign
            let source: String
            if let layout {
                let dir = URL(fileURLWithPath: layout)
                let imageCSV = ["BBBC021_v1_image.csv.gz", "BBBC021_v1_image.csv", "image.csv"].map { dir.appendingPathComponent($0) }
                    .first { FileManager.default.fileExists(atPath: $0.path) }
                guard let imageCSV else { throw MorphoError.file(path: dir.path, problem: "no BBBC021_v1_image.csv(.gz) here") }
                let moaCSV = ["BBBC021_v1_moa.csv", "moa.csv"].map { dir.appendingPathComponent($0) }
                    .first { FileManager.default.fileExists(atPath: $0.path) } ?? dir.appendingPathComponent("BBBC021_v1_moa.csv")
                let wanted = plates.map { Set($0.split(separator: ",").map(String.init)) }
                let (experiment, _) = try BBBC021Layout.read(imageCSV: imageCSV, moaCSV: moaCSV,
                                                             options: .init(annotatedOnly: true, plates: wanted))
                if let wanted {
                    let missing = wanted.subtracting(experiment.plates.map(\.name))
                    if !missing.isEmpty { throw MorphoError.config(key: "plates", problem: "not in the layout: \(missing.sorted().joined(separator: ", "))") }
                }
                design = ScreenDesign.from(experiment, maxSites: maxSites)
                source = imageCSV.path + (plates.map { " plates=\($0)" } ?? "") + (maxSites.map { " maxSites=\($0)" } ?? "")
            } else {
                design = try ScreenDesign.make(config)
                source = "synthetic"
            }
            let outURL = URL(fileURLWithPath: out)
            let summary = try ScreenWriter(config: config, design: design, source: source)
                .write(to: outURL, overwrite: overwrite, progress: !quiet)
            say("wrote \(outURL.path): \(summary.plates) plates, \(summary.wells) wells, \(summary.fields) fields (\(summary.fieldsRendered) rendered now), \(summary.nuclei) nuclei in \(String(format: "%.1f", summary.seconds)) s")
        }
    }
}

/// `morpho synth-rxrx1`: an RxRx1-like screen (cell types, experiments, plate groups, 6 channels).
struct SynthRxRx1: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth-rxrx1",
        abstract: "Generate a synthetic screen with RxRx1's design and layout (train/test experiments, 6 channels).",
        discussion: """
        Examples:
          morpho synth-rxrx1 --preset tiny --out /tmp/rxrx1
          morpho synth-rxrx1 --preset rxrx1 --size 64 --out /tmp/rxrx1-full     (the 1,108-class layout)
        """
    )

    @Option(help: "Preset: tiny, demo or rxrx1.") var preset = "demo"
    @Option(help: "Output folder.") var out: String
    @Option(help: "Random seed.") var seed: UInt64?
    @Option(help: "Treatment classes (a multiple of the plate groups), overriding the preset.") var classes: Int?
    @Option(help: "Image side in pixels, overriding the preset.") var size: Int?
    @Flag(help: "No progress on stderr.") var quiet = false

    func run() throws {
        try Morpho.reportingErrors {
            var config = try RxRx1Config.preset(preset)
            if let seed { config.seed = seed }
            if let classes { config.classes = classes }
            if let size { config.imageSize = size }
            let design = try RxRx1Design(config: config)
            let url = URL(fileURLWithPath: out)
            let rendered = try RxRx1ScreenWriter(design: design).write(to: url, progress: !quiet)
            let experiments = Set(design.wells.map(\.experiment)).count
            say("wrote \(url.path): \(experiments) experiments, \(design.wells.count) wells (\(rendered) rendered now), \(config.classes) classes in \(config.plateGroups) plate groups")
        }
    }
}
