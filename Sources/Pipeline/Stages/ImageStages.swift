import Cropping
import Foundation
import Illumination
import MorphoCore
import Segmentation

/// `illumination`: Singh et al. 2014 functions per plate and channel -> `illumination/<plate>.h5`.
public enum IlluminationPipelineStage: PipelineStage {
    public typealias Config = IlluminationConfig
    public static let name = "illumination"
    public static let abstract = "Illumination-correction function per plate and channel (Singh et al. 2014)."
    public static func inputs(_ config: Config) -> [[Artifact]] { [[.images]] }
    public static func outputs(_ config: Config) -> [Artifact] { [.illumination] }
    public static let scope = UnitScope.plate
    public static var defaults: Config { IlluminationConfig() }
    public static func validate(_ config: Config) throws { try config.validate() }
    public static func mainOutput(_ config: Config, unit: String, context: StageContext) -> URL {
        IlluminationStore.url(folder: context.folder(.illumination), plate: unit)
    }
    /// The illumination functions later stages divide by, when the pipeline has this stage.
    static func folder(_ context: StageContext) throws -> URL? {
        try context.config(of: Self.self) != nil ? context.folder(.illumination) : nil
    }
    public static func run(_ config: Config, context: StageContext) throws -> [UnitOutcome] {
        try IlluminationStage(config: config, output: context.folder(.illumination)).run(context.selected, progress: context.progress).map {
            UnitOutcome(unit: $0.plate, reused: $0.reused, seconds: $0.seconds, counts: ["fields": $0.fields])
        }
    }
}

/// `segmentation`: nuclei on the DNA channel (after illumination correction when the pipeline has it)
/// -> `locations/<plate>.csv`.
public enum SegmentationPipelineStage: PipelineStage {
    public struct Extra: Codable, Sendable { public var saveLabels = false }
    public typealias Config = FlatConfig<SegmentationConfig, Extra>
    public static let name = "segmentation"
    public static let abstract = "Nuclei: Otsu threshold on the DNA channel, hole filling, size filter, watershed declumping."
    public static func inputs(_ config: Config) -> [[Artifact]] { [[.images]] }
    public static func outputs(_ config: Config) -> [Artifact] { [.locations] }
    public static let scope = UnitScope.plate
    public static var defaults: Config { FlatConfig(SegmentationConfig(), Extra()) }
    public static func validate(_ config: Config) throws { try config.base.validate() }
    public static func mainOutput(_ config: Config, unit: String, context: StageContext) -> URL {
        SegmentationStage.locationsURL(folder: context.folder(.locations), plate: unit)
    }
    public static func run(_ config: Config, context: StageContext) throws -> [UnitOutcome] {
        let stage = try SegmentationStage(config: config.base, output: context.folder(.locations), illumination: IlluminationPipelineStage.folder(context),
                                          saveLabels: config.extra.saveLabels)
        return try stage.run(context.selected, progress: context.progress).map { plate in
            if context.progress, !plate.reused, let dropped = plate.droppedSummary {
                FileHandle.standardError.write(Data("segmentation \(plate.plate): \(dropped)\n".utf8))
            }
            return UnitOutcome(unit: plate.plate, reused: plate.reused, seconds: 0, counts: plate.counts)
        }
    }
}

/// `crop`: fixed-size single-cell crops around each nucleus -> `crops/<plate>.h5`, or (with
/// `store: false`) nothing on disk: the embedding stage then makes the crops on the fly.
public enum CropPipelineStage: PipelineStage {
    public struct Extra: Codable, Sendable { public var store = true }
    public typealias Config = FlatConfig<CropConfig, Extra>
    public static let name = "crop"
    public static let abstract = "Fixed-size single-cell crops around each nucleus, all channels, illumination-corrected."
    public static func inputs(_ config: Config) -> [[Artifact]] { [[.locations]] }
    public static func outputs(_ config: Config) -> [Artifact] { config.extra.store ? [.crops] : [] }
    public static let scope = UnitScope.plate
    public static var defaults: Config { FlatConfig(CropConfig(), Extra()) }
    public static func validate(_ config: Config) throws { try config.base.validate() }
    public static func mainOutput(_ config: Config, unit: String, context: StageContext) -> URL {
        CropStore.url(folder: context.folder(.crops), plate: unit)
    }
    /// The crop stage as the embedding stage streams it.
    static func stage(_ config: Config, context: StageContext) throws -> CropStage {
        try CropStage(config: config.base, locations: context.folder(.locations), illumination: IlluminationPipelineStage.folder(context))
    }
    public static func run(_ config: Config, context: StageContext) throws -> [UnitOutcome] {
        guard config.extra.store else { return [] }
        return try stage(config, context: context).run(context.selected, output: context.folder(.crops), progress: context.progress).map {
            UnitOutcome(unit: $0.plate, reused: $0.reused, seconds: 0, counts: ["crops": $0.crops, "skipped": $0.skipped])
        }
    }
}
