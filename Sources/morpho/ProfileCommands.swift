import ArgumentParser
import Foundation
import Embedding
import MoAMatching
import MorphoCore
import MorphoIO
import Pipeline
import Profiling

/// Reads a feature table from .csv, .csv.gz or .h5 (group /table), optionally joining BBBC021 annotations.
func readTable(_ path: String, bbbc021: String?) throws -> FeatureTable {
    let url = URL(fileURLWithPath: path)
    if let bbbc021 {
        let dir = URL(fileURLWithPath: bbbc021)
        let (experiment, _) = try BBBC021Layout.read(imageCSV: dir.appendingPathComponent("BBBC021_v1_image.csv.gz"),
                                                     moaCSV: dir.appendingPathComponent("BBBC021_v1_moa.csv"))
        return try BBBC021Layout.readProfiles(url, experiment: experiment)
    }
    if url.pathExtension == "parquet" {
        throw MorphoError.file(path: url.path, problem: "Morpho writes Parquet but does not read it yet; give the table as .csv, .csv.gz or .h5")
    }
    if url.pathExtension == "h5" {
        // A feature table (/table), a per-plate single-cell store (/cells) or an embeddings file.
        let file = try HDF5File(opening: url)
        if EmbeddingStage.isEmbeddingsFile(file) {
            file.close()
            return try EmbeddingStage.readCells(url)
        }
        return try FeatureTableHDF5.read(from: file, group: file.exists("/table") ? "/table" : "/cells")
    }
    return try FeatureTableCSV.read(url)
}

func writeTable(_ table: FeatureTable, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    if url.pathExtension == "parquet" {
        let (names, columns) = table.parquetColumns()
        try Parquet.write(names: names, columns: columns, rowCount: table.rowCount, to: url)
    } else if url.pathExtension == "h5" {
        try HDF5File.writeAtomically(to: url) { try FeatureTableHDF5.write(table, to: $0, group: "/table") }
    } else {
        try FeatureTableCSV.write(table, to: url)
    }
}

func columns(_ text: String) -> [String] {
    text == "none" ? [] : text.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
}

/// `morpho profile`: rows (cells or wells) -> normalized, optionally feature-selected treatment profiles.
struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Aggregate, select features, normalize against controls (z, robust z, TVN) and average per treatment.",
        discussion: """
        Examples:
          morpho profile ../shared/data/bbbc021/ljosa2013_per_well_mean.csv.gz --bbbc021 ../shared/data/bbbc021 \\
              --normalization tvn-pca --shrinkage 0.02 --align-batches Metadata_Batch --select --out treatments.csv
          morpho profile cells.csv.gz --aggregate-by Metadata_Plate,Metadata_Well --normalization zscore --treatment-by none --out wells.csv
        """
    )

    @Argument(help: "Input table (.csv, .csv.gz, or .h5 with a /table feature table or a /cells single-cell store).") var input: String
    @Option(help: "Output table (.csv, .csv.gz, .h5 or .parquet).") var out: String
    @Option(help: "Folder with BBBC021_v1_image.csv.gz and BBBC021_v1_moa.csv to join (for Ljosa's per-well file).") var bbbc021: String?
    @Option(help: "First aggregate rows by these columns (e.g. cells to wells: Metadata_Plate,Metadata_Well), or none.") var aggregateBy = "none"
    @Option(help: "Aggregation: mean or median.") var operation = "mean"
    // Defaults are the pipeline file's `profile:` defaults (ProfileSettings), names its keys.
    @Option(name: [.customLong("normalization"), .customLong("normalize")],
            help: "Normalization: none, zscore, robust, tvn-pca, tvn-zca or zscore-tvn.") var normalization = ProfileSettings().normalization
    @Option(help: "Column whose groups are normalized separately (none: all rows together).") var groupBy = ProfileSettings().groupBy
    @Option(help: "Control rows as COLUMN=VALUE.") var controls = ProfileSettings().controls
    @Option(help: "TVN: shrinkage of the control covariance towards its diagonal (0...1).") var shrinkage = ProfileSettings().shrinkage
    @Option(help: "TVN: number of components to keep (default: the numerical rank).") var components: Int?
    @Option(help: "TVN: batch column for per-batch alignment of the control covariance.") var alignBatches: String?
    @Flag(help: "Select features first: near-zero variance, replicate correlation, correlation threshold.") var select = false
    @Option(help: "With --select: minimum median replicate correlation.") var minReplicateCorrelation = 0.5
    @Option(help: "With --select: drop one of each feature pair correlated above this.") var correlationCutoff = 0.95
    @Option(help: "Average the normalized rows per treatment over these columns, or none.") var treatmentBy = ProfileSettings().treatmentBy.joined(separator: ",")

    func run() throws {
        try Morpho.reportingErrors {
            var table = try readTable(input, bbbc021: bbbc021)
            guard let op = Aggregate.Operation(rawValue: operation) else {
                throw MorphoError.config(key: "operation", problem: "'\(operation)' is not mean or median")
            }
            if !columns(aggregateBy).isEmpty { table = try Aggregate.aggregate(table, by: columns(aggregateBy), operation: op) }
            var settings = ProfileSettings()
            settings.normalization = normalization; settings.controls = controls; settings.groupBy = groupBy
            settings.shrinkage = shrinkage; settings.components = components; settings.alignBatches = alignBatches
            settings.select = select; settings.minReplicateCorrelation = minReplicateCorrelation
            settings.correlationCutoff = correlationCutoff; settings.treatmentBy = columns(treatmentBy)
            let pipeline = try settings.pipeline(name: "cli", key: "profile")
            let (rows, notes) = try pipeline.normalizedRows(table)
            let result = pipeline.treatmentStrata.isEmpty ? rows : try Aggregate.aggregate(rows, by: pipeline.treatmentStrata, operation: op)
            for note in notes { say(note) }
            try writeTable(result, to: out)
            say("wrote \(out): \(result.rowCount) rows x \(result.featureCount) features")
        }
    }
}

/// `morpho match`: nearest-neighbour MoA matching with NSC and NSCB.
struct MatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "match",
        abstract: "Match treatments to mechanisms by nearest neighbour (NSC and NSCB) and report accuracy, per-MoA results, confusion and mAP.",
        discussion: """
        The input holds normalized well (or treatment) rows with Metadata_Compound, Metadata_Concentration, Metadata_MoA
        and Metadata_Batch; rows are averaged per treatment, and a treatment's batches are those of its rows.
        Example: morpho profile ljosa.csv.gz --bbbc021 DIR --treatment-by none --out wells.csv && morpho match wells.csv --out moa.json
        """
    )

    @Argument(help: "Normalized rows (.csv, .csv.gz or .h5).") var input: String
    @Option(help: "Similarity: cosine or pearson (the pipeline's match default).") var similarity = MatchPipelineStage.defaults.similarity.rawValue
    @Option(help: "Neighbours voting (1 = nearest neighbour).") var k = 1
    @Option(help: "Write the full results (per-MoA, confusion, predictions) as JSON here.") var out: String?

    func run() throws {
        try Morpho.reportingErrors {
            let wells = try readTable(input, bbbc021: nil)
            guard let sim = Similarity(rawValue: similarity) else { throw MorphoError.config(key: "similarity", problem: "'\(similarity)' is not cosine or pearson") }
            let (nsc, nscb) = try BBBC021Benchmark.evaluate(normalized: wells, wells: wells, similarity: sim, k: k)
            for r in [nsc, nscb] {
                say("\(r.matchingProtocol.rawValue): \(r.correct)/\(r.scored) = \(String(format: "%.3f", r.accuracy)), mAP \(String(format: "%.3f", r.meanAveragePrecision))")
                for moa in r.moas {
                    if let m = r.perMoA[moa] { say("  \(moa): \(m.correct)/\(m.scored)") }
                }
            }
            if let out {
                try AtomicFile.write(try MatchResult.json([nsc, nscb], similarity: sim, k: k), to: URL(fileURLWithPath: out))
                say("wrote \(out)")
            }
        }
    }
}
