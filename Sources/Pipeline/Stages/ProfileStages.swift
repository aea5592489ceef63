import Embedding
import Foundation
import MoAMatching
import MorphoCore
import MorphoIO
import Profiling

/// `profile`: well-mean profiles (of the embeddings, or of a given per-well table such as the
/// CellProfiler profiles of Ljosa et al. 2013), normalized against the controls (TVN by default), and
/// averaged per treatment -> `profiles/wells.csv`, `normalized_wells.csv`, `treatments.csv` (pycytominer columns).
public enum ProfilePipelineStage: PipelineStage {
    public struct Extra: Codable, Sendable {
        /// A per-well feature table to use instead of the embeddings (CSV/CSV.gz; BBBC021 annotations joined
        /// by plate and well when the experiment is BBBC021).
        public var table: String?
        /// The embedding layer to profile (default: the embed stage's first tap).
        public var tap: String?
    }
    public typealias Config = FlatConfig<ProfileSettings, Extra>
    public static let name = "profile"
    public static let abstract = "Well-mean profiles, normalized against controls (z-score or TVN), averaged per treatment."
    public static func inputs(_ config: Config) -> [[Artifact]] { config.extra.table == nil ? [[.embeddings]] : [] }
    public static func outputs(_ config: Config) -> [Artifact] { [.profiles] }
    public static let scope = UnitScope.all
    public static var defaults: Config { FlatConfig(ProfileSettings(), Extra()) }
    public static func validate(_ config: Config) throws { _ = try config.base.pipeline(key: "stages.profile") }
    public static func mainOutput(_ config: Config, unit: String, context: StageContext) -> URL {
        context.folder(.profiles).appendingPathComponent("treatments.csv")
    }

    public static func run(_ config: Config, context: StageContext) throws -> [UnitOutcome] {
        let folder = context.folder(.profiles)
        let tap = try config.extra.tap ?? context.config(of: EmbedPipelineStage.self)?.base.taps.first ?? "pool"
        let inputs = config.extra.table.map { [URL(fileURLWithPath: $0)] }
            ?? context.experiment.plates.map { EmbeddingStage.url(folder: context.folder(.embeddings), plate: $0.name) }
        let unit = try context.unit(name, "all", config: config, inputs: inputs, output: mainOutput(config, unit: "all", context: context), extra: tap) {
            let wells: FeatureTable
            if let table = config.extra.table {
                let url = URL(fileURLWithPath: table)
                // A table with its own MoA column is used as it is; else (Ljosa et al.'s file) annotations are joined.
                if let plain = try? FeatureTableCSV.read(url), plain.metadataColumn("Metadata_MoA") != nil {
                    wells = plain
                } else {
                    wells = try BBBC021Layout.readProfiles(url, experiment: context.experiment)
                }
            } else {
                wells = try EmbeddingProfiles.wells(folder: context.folder(.embeddings), experiment: context.experiment, tap: tap)
            }
            let pipeline = try config.base.pipeline(name: name, key: "stages.profile")
            let (normalized, notes) = try pipeline.normalizedRows(wells)
            let treatments = try Aggregate.aggregate(normalized, by: pipeline.treatmentStrata, operation: .mean)
            let outputs = ["wells.csv", "normalized_wells.csv", "treatments.csv"].map { folder.appendingPathComponent($0) }
            for (table, url) in zip([wells, normalized, treatments], outputs) { try FeatureTableCSV.write(table, to: url) }
            if context.progress { for n in notes { FileHandle.standardError.write(Data("profile: \(n)\n".utf8)) } }
            return (outputs, ["wells": wells.rowCount, "features": normalized.featureCount, "treatments": treatments.rowCount])
        }
        return [unit]
    }
}

/// `match`: nearest-neighbour MoA matching of treatment profiles, NSC and NSCB (BBBC021 protocol)
/// -> `moa/moa.json` (accuracy, per-MoA, confusion, predictions, mAP).
public enum MatchPipelineStage: PipelineStage {
    public struct Config: Codable, Sendable {
        public var similarity = Similarity.cosine
        public var k = 1
    }
    public static let name = "match"
    public static let abstract = "1-NN mechanism-of-action matching of treatment profiles: NSC and NSCB accuracy."
    public static func inputs(_ config: Config) -> [[Artifact]] { [[.profiles]] }
    public static func outputs(_ config: Config) -> [Artifact] { [.moa] }
    public static let scope = UnitScope.all
    public static var defaults: Config { Config() }
    public static func validate(_ config: Config) throws {
        guard config.k >= 1 else { throw MorphoError.config(key: "stages.match.k", problem: "k must be at least 1") }
    }
    public static func mainOutput(_ config: Config, unit: String, context: StageContext) -> URL {
        context.folder(.moa).appendingPathComponent("moa.json")
    }
    public static func run(_ config: Config, context: StageContext) throws -> [UnitOutcome] {
        let input = context.folder(.profiles).appendingPathComponent("normalized_wells.csv")
        let strata = (try context.config(of: ProfilePipelineStage.self))?.base.treatmentBy ?? [BBBC021Benchmark.compound, BBBC021Benchmark.concentration]
        let output = mainOutput(config, unit: "all", context: context)
        let unit = try context.unit(name, "all", config: config, inputs: [input], output: output, extra: strata.joined(separator: ",")) {
            let wells = try FeatureTableCSV.read(input)
            let (nsc, nscb) = try BBBC021Benchmark.evaluate(normalized: wells, wells: wells, strata: strata, similarity: config.similarity, k: config.k)
            try AtomicFile.write(try MatchResult.json([nsc, nscb], similarity: config.similarity, k: config.k), to: output)
            return ([output], ["treatments": nsc.scored, "nsc_correct": nsc.correct, "nscb_scored": nscb.scored, "nscb_correct": nscb.correct])
        }
        return [unit]
    }
    public static func metrics(_ config: Config, context: StageContext) -> [String: Double] {
        guard let data = FileManager.default.contents(atPath: mainOutput(config, unit: "all", context: context).path),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        var m = [String: Double]()
        for p in ["NSC", "NSCB"] {
            guard let r = json[p] as? [String: Any] else { continue }
            m[p] = (r["accuracy"] as? NSNumber)?.doubleValue ?? .nan
            m["\(p)_mAP"] = (r["mAP"] as? NSNumber)?.doubleValue ?? .nan
        }
        return m
    }
}

extension StageRegistry {
    /// The stages Morpho ships, in their usual order.
    public static let standard: StageRegistry = {
        var registry = StageRegistry([
            IlluminationPipelineStage.self, SegmentationPipelineStage.self, CropPipelineStage.self, TrainPipelineStage.self,
            EmbedPipelineStage.self, ProfilePipelineStage.self, MatchPipelineStage.self,
        ])
        registry.register(ClassifyPipelineStage.self, method: "deepnoise")
        registry.register(WholeImagePipelineStage.self, method: "wholeimage")
        return registry
    }()
}
