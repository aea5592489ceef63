import ArgumentParser
import Foundation
import MorphoCore
import MorphoIO

/// `morpho table`: inspect and convert feature tables (CSV, CSV.gz, HDF5).
struct TableCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "table",
        abstract: "Summarise a feature table, optionally convert it (.csv, .csv.gz, .h5) or join BBBC021 annotations.",
        discussion: """
        Examples:
          morpho table ../shared/data/bbbc021/ljosa2013_per_well_mean.csv.gz --bbbc021 ../shared/data/bbbc021 --out profiles.csv.gz
          morpho table profiles.csv.gz --out profiles.h5
        """
    )

    @Argument(help: "Input table: .csv, .csv.gz or .h5 (a feature table /table, a single-cell store /cells or an embeddings file).") var input: String
    @Option(help: "Folder with BBBC021_v1_image.csv.gz and BBBC021_v1_moa.csv: join plate/well with annotations.") var bbbc021: String?
    @Option(help: "Write the table here (.csv, .csv.gz, .h5 or .parquet).") var out: String?

    func run() throws {
        try Morpho.reportingErrors {
            let table = try readTable(input, bbbc021: bbbc021)
            say("\(input): \(table.rowCount) rows, \(table.metadataNames.count) metadata columns, \(table.featureCount) features")
            say("metadata: \(table.metadataNames.joined(separator: ", "))")
            let nonFinite = table.features.lazy.filter { !$0.isFinite }.count
            if nonFinite > 0 { say("warning: \(nonFinite) feature values are NaN or infinite") }
            if let out {
                try writeTable(table, to: out)
                say("wrote \(URL(fileURLWithPath: out).path)")
            }
        }
    }
}
