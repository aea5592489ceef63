import ArgumentParser
import Foundation
import MoAMatching
import MorphoCore
import MorphoIO
import Profiling

/// `morpho bench`: benchmarks on real data and against peer tools.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks: MoA matching on the real BBBC021 profiles; profile, image-stage and network speed against pycytominer, scikit-image and PyTorch.",
        subcommands: [BenchMoA.self, BenchProfiles.self, BenchImageStages.self, BenchSegmentation.self, BenchEmbed.self, BenchTrain.self, BenchDeepNoise.self]
    )
}

/// `morpho bench moa`: the BBBC021 MoA benchmark on Ljosa et al.'s per-well CellProfiler profiles.
struct BenchMoA: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "moa",
        abstract: "Reproduce the published cytominer MoA result on BBBC021 and compare profile pipelines (NSC, NSCB).",
        discussion: "Example: morpho bench moa ../shared/data/bbbc021"
    )

    @Argument(help: "Folder with ljosa2013_per_well_mean.csv.gz, BBBC021_v1_image.csv.gz and BBBC021_v1_moa.csv.")
    var data: String

    @Flag(help: "Also print the sweep over TVN shrinkage, batch alignment and selection (cosine).") var sweep = false

    func run() throws {
        try Morpho.reportingErrors {
            let wells = try loadLjosaWells(URL(fileURLWithPath: data))
            say("BBBC021 per-well CellProfiler profiles: \(wells.rowCount) wells, \(wells.featureCount) features")
            let published = try BBBC021Benchmark.publishedProtocol(wells)
            say("\npublished protocol (cytominergallery predict_moa): " + published.featureCounts.map { "\($0.step) \($0.count)" }.joined(separator: " -> "))
            say("  Pearson 1-NN not-same-compound, as the vignette computes it: \(published.correctAsPublished)/\(published.treatments) = \(String(format: "%.2f", Double(published.correctAsPublished) / Double(published.treatments)))  (published: 84/103 = 0.82)")
            say("  the same with a strict not-same-compound exclusion:            \(published.correctNSC)/\(published.treatments)")
            say("")
            let rows = try BenchmarkTable.rows(wells: wells)
            say(BenchmarkTable.render(rows))
            if sweep {
                say("\nTVN sweep:")
                say(BenchmarkTable.render(try BenchmarkTable.rows(wells: wells, pipelines: BenchmarkTable.tvnSweep(), similarities: [.cosine])))
            }
        }
    }
}

/// Loads the Ljosa per-well profiles joined with BBBC021's annotations, annotated wells only.
func loadLjosaWells(_ dir: URL) throws -> FeatureTable {
    let (experiment, _) = try BBBC021Layout.read(imageCSV: dir.appendingPathComponent("BBBC021_v1_image.csv.gz"),
                                                 moaCSV: dir.appendingPathComponent("BBBC021_v1_moa.csv"))
    let all = try BBBC021Layout.readProfiles(dir.appendingPathComponent("ljosa2013_per_well_mean.csv.gz"), experiment: experiment)
    let moa = all.metadataColumn("Metadata_MoA")!.texts
    return all.selectingRows(moa.indices.filter { !moa[$0].isEmpty })
}
