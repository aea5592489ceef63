import Foundation
import MorphoCore

/// A kind of file set that stages hand to each other; it is also the run folder's sub-folder name.
public struct Artifact: Hashable, Sendable, Codable, CustomStringConvertible {
    public let name: String
    public init(_ name: String) { self.name = name }
    public var description: String { name }

    /// The experiment's images (always available).
    public static let images = Artifact("images")
    public static let illumination = Artifact("illumination")
    public static let locations = Artifact("locations")
    public static let crops = Artifact("crops")
    public static let model = Artifact("model")
    public static let embeddings = Artifact("embeddings")
    public static let profiles = Artifact("profiles")
    public static let moa = Artifact("moa")
    /// Predictions and metrics of a classifier stage (`classify/<method>/`).
    public static let predictions = Artifact("predictions")
}

/// How a stage's work is cut into units that run, resume and spread over a cluster independently.
public enum UnitScope: String, Sendable, Codable {
    /// One unit per plate (illumination, segmentation, crops, embeddings).
    case plate
    /// One unit over all plates (training, profiles, matching, classifiers).
    case all
    /// Units the stage names itself (`units(_:context:)`), e.g. one per cross-validation fold.
    case custom
}

/// A unit of a `custom`-scope stage and the units of the same stage it needs first.
public struct StageUnit: Sendable, Equatable {
    public var name: String
    public var needs: [String]
    public init(_ name: String, needs: [String] = []) { self.name = name; self.needs = needs }
}

/// What one unit did: run now or reused from an earlier run, its time and its counts.
public struct UnitOutcome: Sendable, Codable, Equatable {
    public var unit: String
    public var reused: Bool
    public var seconds: Double
    public var counts: [String: Int]
    public init(unit: String, reused: Bool, seconds: Double, counts: [String: Int]) {
        self.unit = unit; self.reused = reused; self.seconds = seconds; self.counts = counts
    }
}

/// A stage of a pipeline: a config section (a `Codable` value whose defaults are the documented ones),
/// the artifacts it needs and makes, and a run function over a `StageContext`.
///
/// A new stage plugs in by conforming to this protocol and being added to a `StageRegistry`:
/// ```swift
/// struct MyClassifier: PipelineStage {
///     struct Config: Codable, Sendable { var epochs = 10 }
///     static let name = "classify"
///     static let abstract = "Classify treatments from crops."
///     static func inputs(_ config: Config) -> [[Artifact]] { [[.crops]] }
///     static func outputs(_ config: Config) -> [Artifact] { [.predictions] }
///     static let scope = UnitScope.all
///     static var defaults: Config { Config() }
///     static func mainOutput(_ config: Config, unit: String, context: StageContext) -> URL { ... }
///     static func run(_ config: Config, context: StageContext) throws -> [UnitOutcome] { ... }
/// }
/// ```
public protocol PipelineStage {
    associatedtype Config: Codable & Sendable
    /// The stage's key in a pipeline's `stages:` list.
    static var name: String { get }
    static var abstract: String { get }
    /// What the stage needs: each entry is satisfied by any one of its artifacts, made by an earlier stage.
    static func inputs(_ config: Config) -> [[Artifact]]
    static func outputs(_ config: Config) -> [Artifact]
    static var scope: UnitScope { get }
    static var defaults: Config { get }
    /// Checks settings that decoding cannot (ranges, choices); errors name the key.
    static func validate(_ config: Config) throws
    /// The file whose `.done.json` record marks the unit finished (plate name, or "all").
    static func mainOutput(_ config: Config, unit: String, context: StageContext) -> URL
    /// Runs the units of `context.plates` (or the single unit), skipping current ones.
    static func run(_ config: Config, context: StageContext) throws -> [UnitOutcome]
    /// Headline numbers of a finished stage for the manifest and the report (e.g. NSC accuracy).
    static func metrics(_ config: Config, context: StageContext) -> [String: Double]
    /// The units of a `custom`-scope stage, in running order.
    static func units(_ config: Config, context: StageContext) throws -> [StageUnit]
}

extension PipelineStage {
    public static func validate(_ config: Config) throws {}
    public static func units(_ config: Config, context: StageContext) throws -> [StageUnit] { [] }
    public static func metrics(_ config: Config, context: StageContext) -> [String: Double] { [:] }
}

/// Everything a stage sees: the run folder, the experiment (plates selected for this invocation), the
/// engine threads, and where each artifact lives.
public struct StageContext: Sendable {
    public let runFolder: URL
    public let experiment: Experiment
    /// The plates this invocation works on (all, or those given with `--plates`).
    public let plates: [Plate]
    /// The units of a `custom`-scope stage this invocation runs (nil: all of them; `--units`).
    public var units: Set<String>? = nil
    public let threads: Int
    public let progress: Bool
    /// The RxRx1 screen, when the experiment is one (classifier stages read its tables).
    public let rxrx1: RxRx1Source?
    /// The configs of the pipeline's stages, by stage name, as resolved JSON (for stages that read another's settings).
    public let stageConfigs: [String: Data]

    public func folder(_ artifact: Artifact) -> URL { runFolder.appendingPathComponent(artifact.name) }

    /// The experiment restricted to `plates`.
    public var selected: Experiment {
        var e = experiment
        let names = Set(plates.map(\.name))
        e.plates = e.plates.filter { names.contains($0.name) }
        return e
    }

    /// The config of another stage of this pipeline, if it has one.
    /// nil when the pipeline has no such stage; a record that does not decode is an error naming the
    /// stage (never read as "absent").
    public func config<S: PipelineStage>(of stage: S.Type) throws -> S.Config? {
        guard let data = stageConfigs[S.name] else { return nil }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do { return try decoder.decode(S.Config.self, from: data) } catch {
            throw MorphoError.config(key: "stages.\(S.name)", problem: "its settings cannot be read by a later stage: \(error)")
        }
    }

    /// Runs `body` as one unit of work keyed on `config` and the content of `inputs`; skips it when the
    /// record beside `output` is current. `body` returns the counts to record.
    public func unit<C: Encodable>(_ stage: String, _ unit: String, config: C, inputs: [URL], output: URL, extra: String = "",
                                   _ body: () throws -> (outputs: [URL], counts: [String: Int])) throws -> UnitOutcome {
        let key = try UnitKey(config: config, inputs: inputs, extra: extra, output: output)
        if let record = key.current { return UnitOutcome(unit: unit, reused: true, seconds: record.seconds, counts: record.counts) }
        let start = Date()
        let (outputs, counts) = try body()
        let seconds = Date().timeIntervalSince(start)
        try key.finish(stage: stage, unit: unit, outputs: outputs, counts: counts, seconds: seconds)
        return UnitOutcome(unit: unit, reused: false, seconds: seconds, counts: counts)
    }
}
