import Foundation
import MorphoCore

/// The provenance of a run folder (`manifest.json`): Morpho version, the pipeline file and its resolved
/// config, the seeds, and per stage and unit the key, the input hash, counts and timings, assembled
/// from the units' records on disk (so units run by separate processes, e.g. Snakemake jobs, are in it).
public struct RunManifest: Codable, Sendable {
    public struct Unit: Codable, Sendable {
        public var unit: String
        public var key: String
        /// Combined content hash of the unit's inputs, and how many there were.
        public var inputsHash: String
        public var inputs: Int
        public var counts: [String: Int]
        public var seconds: Double
        /// Whether this invocation reused the unit (nil: not part of this invocation).
        public var reusedNow: Bool?
    }
    public struct Stage: Codable, Sendable {
        public var stage: String
        public var scope: UnitScope
        public var config: JSONValue
        public var units: [Unit]
        public var seconds: Double
        public var metrics: [String: Double]
    }
    public var morphoVersion: String
    public var pipeline: String
    public var pipelineFile: String
    public var pipelineHash: String
    /// The `--set` overrides of the invocation that wrote the manifest.
    public var overrides: [String]
    public var created: String
    public var threads: Int
    public var cores: Int
    public var seeds: [String: UInt64]
    public var plates: [String]
    public var stages: [Stage]
    /// Wall time of the invocation that wrote the manifest, and the sum of all units' times.
    public var invocationSeconds: Double
    public var computeSeconds: Double

    public static func url(run: URL) -> URL { run.appendingPathComponent("manifest.json") }

    public static func read(run: URL) throws -> RunManifest {
        let url = url(run: run)
        guard let data = FileManager.default.contents(atPath: url.path) else { throw MorphoError.file(path: url.path, problem: "no manifest (run the pipeline first)") }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do { return try decoder.decode(RunManifest.self, from: data) } catch {
            throw MorphoError.file(path: url.path, problem: "not a Morpho manifest: \(error)")
        }
    }
}

extension PipelineRunner {
    /// Seeds of the synthetic screen and of every stage config (keys named `seed`).
    func seeds() -> [String: UInt64] {
        var out = [String: UInt64]()
        if case .synthetic(let c, _) = pipeline.source { out["experiment.synthetic"] = c.seed }
        for stage in pipeline.stages {
            if let object = try? JSONSerialization.jsonObject(with: stage.configJSON) as? [String: Any], let seed = object["seed"] as? NSNumber {
                out["stages.\(stage.name)"] = seed.uint64Value
            }
        }
        return out
    }

    /// The manifest from the records on disk, with this invocation's reuse flags.
    public func manifest(experiment: Experiment, runs: [StageRun], seconds: Double) throws -> RunManifest {
        let context = try context(experiment, plates: nil)
        var stages = [RunManifest.Stage]()
        for stage in pipeline.stages {
            let now = runs.first { $0.stage == stage.name }
            let unitNames = try stage.units(context).map(\.name)
            var units = [RunManifest.Unit]()
            for name in unitNames {
                guard let record = UnitRecord.read(for: stage.mainOutput(unit: name, context: context)) else { continue }
                var h = ContentHash.Hasher()
                for f in record.inputs ?? [] { h.update(Data(f.hash.utf8)) }
                units.append(.init(unit: name, key: record.key, inputsHash: h.digest(), inputs: record.inputs?.count ?? 0, counts: record.counts,
                                   seconds: record.seconds, reusedNow: now?.units.first { $0.unit == name }?.reused))
            }
            stages.append(.init(stage: stage.name, scope: stage.scope, config: try JSONValue(json: stage.configJSON), units: units,
                                seconds: units.reduce(0) { $0 + $1.seconds }, metrics: now?.metrics ?? stage.metrics(context)))
        }
        let formatter = ISO8601DateFormatter()
        return RunManifest(morphoVersion: MorphoVersion.current, pipeline: pipeline.name, pipelineFile: pipeline.file.path, pipelineHash: pipeline.hash, overrides: pipeline.overrides,
                           created: formatter.string(from: Date()), threads: pipeline.threads, cores: ProcessInfo.processInfo.activeProcessorCount,
                           seeds: seeds(), plates: experiment.plates.map(\.name), stages: stages, invocationSeconds: seconds,
                           computeSeconds: stages.reduce(0) { $0 + $1.seconds })
    }

    /// Writes `manifest.json` (atomically) and the report.
    public func writeManifest(experiment: Experiment, runs: [StageRun], seconds: Double) throws {
        let manifest = try manifest(experiment: experiment, runs: runs, seconds: seconds)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try AtomicFile.write(try encoder.encode(manifest), to: RunManifest.url(run: pipeline.output))
        let report = try RunReport(runner: self, experiment: experiment, manifest: manifest).write()
        log("manifest: \(RunManifest.url(run: pipeline.output).path)")
        log("report: \(report.path)")
    }
}
