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

    @Option(help: "BBBC021_v1_image.csv(.gz) or a file in its format.") var bbbc021: String?
    @Option(help: "BBBC021_v1_moa.csv or a file in its format (with --bbbc021).") var moa: String?
    @Option(help: "A CellProfiler LoadData CSV.") var loaddata: String?
    @Option(help: "Folder the image paths are relative to.") var images: String?
    @Flag(help: "Check that every image file exists.") var checkFiles = false
    @Flag(help: "Keep only wells whose treatment has a MoA annotation.") var annotatedOnly = false
    @Flag(help: "Print every warning in full.") var verbose = false

    func run() throws {
        try Morpho.reportingErrors {
            let (experiment, report): (Experiment, LayoutReport)
            let root = images.map { URL(fileURLWithPath: $0) }
            if let bbbc021 {
                guard let moa else { throw MorphoError.config(key: "moa", problem: "--bbbc021 needs --moa") }
                (experiment, report) = try BBBC021Layout.read(
                    imageCSV: URL(fileURLWithPath: bbbc021), moaCSV: URL(fileURLWithPath: moa),
                    options: .init(imageRoot: root, checkFiles: checkFiles, annotatedOnly: annotatedOnly))
            } else if let loaddata {
                let annotations = try moa.map { try MoAAnnotations.read(URL(fileURLWithPath: $0)) }
                (experiment, report) = try LoadDataLayout.read(URL(fileURLWithPath: loaddata),
                                                               options: .init(imageRoot: root, checkFiles: checkFiles, annotations: annotations))
            } else {
                throw MorphoError.config(key: "bbbc021", problem: "give --bbbc021 (with --moa) or --loaddata")
            }
            say(experiment.summary)
            for w in report.warnings {
                say("warning: " + (verbose || w.count < 300 ? w : String(w.prefix(300)) + "... (--verbose for all)"))
            }
        }
    }
}
