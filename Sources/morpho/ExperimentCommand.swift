import ArgumentParser
import Foundation
import MorphoCore
import MorphoIO

/// `morpho experiment`: read a layout (BBBC021 or LoadData) and report what it holds and what is wrong.
struct ExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Read an experiment layout (BBBC021 image.csv + moa.csv, or a CellProfiler LoadData CSV) and summarise it.",
        discussion: """
        Examples:
          morpho experiment --bbbc021 ../shared/data/bbbc021/BBBC021_v1_image.csv.gz --moa ../shared/data/bbbc021/BBBC021_v1_moa.csv
          morpho experiment --bbbc021 screen/image.csv --moa screen/moa.csv --images screen/images --check-files
          morpho experiment --loaddata load_data.csv
        """
    )

    @OptionGroup var source: ExperimentOptions
    @Flag(help: "Check that every image file exists.") var checkFiles = false
    @Flag(help: "Keep only wells whose treatment has a MoA annotation.") var annotatedOnly = false
    @Flag(help: "Print every warning in full.") var verbose = false

    func run() throws {
        try Morpho.reportingErrors {
            let (experiment, report) = try source.read(checkFiles: checkFiles, annotatedOnly: annotatedOnly)
            say(experiment.summary)
            for w in report.warnings {
                say("warning: " + (verbose || w.count < 300 ? w : String(w.prefix(300)) + "... (--verbose for all)"))
            }
        }
    }
}
