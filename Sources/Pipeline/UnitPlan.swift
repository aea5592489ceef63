import Foundation
import MorphoCore

/// The units of work of a pipeline and what each waits for, for workflow engines (the Snakefile):
/// a unit is finished when its `done` record exists; a per-plate unit needs the same plate's units of
/// every earlier per-plate stage and all units of every earlier all-plate stage; a unit of a custom-scope stage
/// (a cross-validation fold) also needs the units of its own stage it names.
public struct UnitPlan: Codable, Sendable {
    public struct Unit: Codable, Sendable {
        public var stage: String
        public var unit: String
        public var done: String
        public var needs: [String]
        /// The `morpho run` arguments (after the pipeline file) that run this unit alone.
        public var arguments: [String]
    }
    public var pipeline: String
    public var output: String
    /// Engine threads each unit uses (a workflow engine schedules by it).
    public var threads: Int
    /// The file that marks the whole run finished (written by a plain `morpho run` once all units are done).
    public var manifest: String
    public var plates: [String]
    public var units: [Unit]
}

extension PipelineRunner {
    /// Every unit of the pipeline (stages that store nothing have none).
    public func plan() throws -> UnitPlan {
        let experiment = try experiment()
        let context = try context(experiment, plates: nil)
        var units = [UnitPlan.Unit]()
        var earlier = [(stage: BoundStage, done: [String: String])]()
        for stage in pipeline.stages where !stage.outputs.isEmpty {
            var done = [String: String]()
            for unit in try stage.units(context) {
                let name = unit.name
                let record = UnitRecord.url(for: stage.mainOutput(unit: name, context: context)).path
                done[name] = record
                let needs = earlier.flatMap { e -> [String] in
                    e.stage.scope == .plate && stage.scope == .plate ? [e.done[name]!] : e.done.keys.sorted().map { e.done[$0]! }
                } + unit.needs.compactMap { done[$0] }
                var arguments = ["--stage", stage.name]
                if stage.scope == .plate { arguments += ["--plates", name] }
                if stage.scope == .custom { arguments += ["--units", name] }
                units.append(.init(stage: stage.name, unit: name, done: record, needs: needs, arguments: arguments))
            }
            earlier.append((stage, done))
        }
        return UnitPlan(pipeline: pipeline.file.path, output: pipeline.output.path, threads: pipeline.threads,
                        manifest: RunManifest.url(run: pipeline.output).path, plates: experiment.plates.map(\.name), units: units)
    }
}
