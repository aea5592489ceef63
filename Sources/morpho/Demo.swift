import ArgumentParser
import Foundation
import MorphoCore
import MorphoIO
import Synthetic

/// `morpho demo`: the built-in example. Generates a small synthetic BBBC021-like screen, reads it back
/// through the BBBC021 reader and summarises it with its ground truth.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the built-in example: generate a synthetic BBBC021-like screen and summarise it."
    )

    @Option(help: "Output folder.") var out = "Data/demo"
    @Option(help: "Size preset: tiny, small or realistic.") var preset = "small"
    @Flag(help: "No progress on stderr.") var quiet = false

    func run() throws {
        try Morpho.reportingErrors {
            let config = try SyntheticConfig.preset(preset)
            let outURL = URL(fileURLWithPath: out)
            say("Morpho \(MorphoVersion.current) demo: synthetic BBBC021-like screen (preset '\(preset)', seed \(config.seed))")
            let summary = try ScreenWriter(config: config, design: ScreenDesign.make(config), source: "synthetic")
                .write(to: outURL, overwrite: false, progress: !quiet)
            say("generated \(summary.fields) fields (\(summary.fieldsRendered) rendered now) of \(config.fieldWidth)x\(config.fieldHeight) px in \(String(format: "%.1f", summary.seconds)) s")

            let (experiment, report) = try BBBC021Layout.read(
                imageCSV: outURL.appendingPathComponent("image.csv"), moaCSV: outURL.appendingPathComponent("moa.csv"),
                options: .init(imageRoot: outURL.appendingPathComponent("images"), checkFiles: true))
            say("\nread back through the BBBC021 reader:")
            say(experiment.summary)
            for w in report.warnings { say("warning: \(w)") }

            let truth = try CSV.read(outURL.appendingPathComponent("truth/nuclei.csv.gz"))
            let rounded = try truth.column("Rounded").filter { $0 == "1" }.count
            say("\nground truth: \(truth.rowCount) nuclei (\(rounded) rounded/mitotic), mean \(String(format: "%.1f", Double(truth.rowCount) / Double(max(summary.fields, 1)))) per field")
            let first = experiment.plates[0].wells[0].sites[0]
            let dapi = try TIFF.readImage(first.files["DAPI"]!)
            say("example field \(experiment.plates[0].name) \(experiment.plates[0].wells[0].id) s\(first.index): DAPI \(dapi.width)x\(dapi.height) \(dapi.bitDepth), range \(formatNumber(Double(dapi.range.min)))...\(formatNumber(Double(dapi.range.max)))")
            say("\nscreen written to \(outURL.path) (images/, image.csv, moa.csv, truth/)")
        }
    }
}
