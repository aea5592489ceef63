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

    @Argument(help: "Input table: .csv, .csv.gz or .h5 (Morpho feature-table group /table).") var input: String
    @Option(help: "Folder with BBBC021_v1_image.csv.gz and BBBC021_v1_moa.csv: join plate/well with annotations.") var bbbc021: String?
    @Option(help: "Write the table here (.csv, .csv.gz or .h5).") var out: String?

    func run() throws {
        try Morpho.reportingErrors {
            let url = URL(fileURLWithPath: input)
            var table: FeatureTable
            if let bbbc021 {
                let dir = URL(fileURLWithPath: bbbc021)
                let (experiment, _) = try BBBC021Layout.read(imageCSV: dir.appendingPathComponent("BBBC021_v1_image.csv.gz"),
                                                             moaCSV: dir.appendingPathComponent("BBBC021_v1_moa.csv"))
                table = try BBBC021Layout.readProfiles(url, experiment: experiment)
            } else if url.pathExtension == "h5" {
                table = try FeatureTableHDF5.read(from: HDF5File(opening: url), group: "/table")
            } else {
                table = try FeatureTableCSV.read(url)
            }
            say("\(input): \(table.rowCount) rows, \(table.metadataNames.count) metadata columns, \(table.featureCount) features")
            say("metadata: \(table.metadataNames.joined(separator: ", "))")
            let nonFinite = table.features.lazy.filter { !$0.isFinite }.count
            if nonFinite > 0 { say("warning: \(nonFinite) feature values are NaN or infinite") }
            if let out {
                let outURL = URL(fileURLWithPath: out)
                if outURL.pathExtension == "h5" {
                    try HDF5File.writeAtomically(to: outURL) { try FeatureTableHDF5.write(table, to: $0, group: "/table") }
                } else {
                    try FeatureTableCSV.write(table, to: outURL)
                }
                say("wrote \(outURL.path)")
            }
        }
    }
}
