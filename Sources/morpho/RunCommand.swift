import ArgumentParser
import Foundation
import MorphoCore
import Pipeline
import Yams

/// `morpho run`: a whole pipeline from one YAML file, resumable.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a pipeline file (Pipelines/*.yaml): every stage in order, skipping units whose inputs and settings are unchanged.",
        discussion: """
        The run folder (`output:`) gets one sub-folder per artifact, manifest.json (provenance) and report.html.
        A killed run resumes where it stopped. Stages: \(StageRegistry.standard.order.joined(separator: ", ")).
        Examples:
          morpho run Pipelines/quickstart.yaml
          morpho run Pipelines/bbbc021.yaml --set experiment.bbbc021.images=/data/BBBC021 --until embed
          morpho run Pipelines/quickstart.yaml --stage segmentation --plates Week1_00001
          morpho run Pipelines/quickstart.yaml --print-config
        """
    )
    @Argument(help: "The pipeline file.") var pipeline: String
    @Option(help: "Start at this stage (earlier stages' outputs must exist).") var from: String?
    @Option(help: "Stop after this stage.") var until: String?
    @Option(help: "Run only this stage (= --from S --until S).") var stage: String?
    @Option(help: "Comma-separated plates (per-plate stages only work on these).") var plates: String?
    @Option(help: "Comma-separated units of a stage with its own units (cross-validation folds; see --list-units).") var units: String?
    @Option(name: .customLong("set"), help: "Override a setting: KEY.PATH=VALUE (repeatable), e.g. stages.train.epochs=2.") var overrides: [String] = []
    @Flag(help: "Print the pipeline with every default filled in, and exit.") var printConfig = false
    @Flag(help: "Print the units of work and their dependencies as JSON (for workflow engines), and exit.") var listUnits = false
    @Flag(help: "No progress on stderr.") var quiet = false

    func run() throws {
        try Morpho.reportingErrors {
            let loaded = try Pipeline.load(URL(fileURLWithPath: pipeline), overrides: overrides)
            var runner = PipelineRunner(pipeline: loaded)
            runner.progress = !quiet
            if printConfig { return say(try Self.resolvedYAML(loaded)) }
            if listUnits {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                return say(String(decoding: try encoder.encode(try runner.plan()), as: UTF8.self))
            }
            if stage != nil, from != nil || until != nil {
                throw MorphoError.config(key: "stage", problem: "give --stage or --from/--until, not both")
            }
            let selection = RunSelection(from: stage ?? from, until: stage ?? until,
                                         plates: plates.map { $0.split(separator: ",").map(String.init) },
                                         units: units.map { $0.split(separator: ",").map(String.init) })
            let runs = try runner.run(selection)
            if let match = runs.first(where: { $0.stage == "match" }) {
                say(String(format: "MoA matching: NSC %@, NSCB %@", fmt(match.metrics["NSC"]), fmt(match.metrics["NSCB"])))
            }
            if selection.isFullRun {
                say("run folder: \(loaded.output.path)")
            }
        }
    }

    func fmt(_ v: Double?) -> String { v.map { $0.isNaN ? "n/a" : String(format: "%.3f", $0) } ?? "-" }

    /// The pipeline as YAML with every stage's defaults filled in.
    static func resolvedYAML(_ p: Pipeline) throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        func path(_ u: URL?) -> Node { Node(u?.path ?? "") }
        let experiment: Node
        switch p.source {
        case .bbbc021(let i, let m, let images, let annotated, let check, let excludeControls):
            func flag(_ b: Bool) -> Node { Node(b ? "true" : "false", Tag(.bool)) }
            experiment = Node([(Node("bbbc021"), Node([(Node("image_csv"), path(i)), (Node("moa_csv"), path(m)), (Node("images"), path(images)),
                                                       (Node("annotated_only"), flag(annotated)), (Node("check_files"), flag(check)),
                                                       (Node("exclude_plate_controls"), flag(excludeControls))]))])
        case .loaddata(let csv, let moa, let images, let metadata):
            experiment = Node([(Node("loaddata"), Node([(Node("csv"), path(csv)), (Node("moa"), path(moa)), (Node("images"), path(images)),
                                                        (Node("metadata"), path(metadata))]))])
        case .synthetic(let c, let layout):
            var node = try JSONValue(json: try encoder.encode(c)).node
            if let layout, case .mapping(var m) = node {
                m[Node("layout")] = try JSONValue(json: try encoder.encode(layout)).node
                node = .mapping(m)
            }
            experiment = Node([(Node("synthetic"), node)])
        case .rxrx1(let r):
            var fields: [(Node, Node)] = [(Node("truth"), path(r.truth)), (Node("image_extension"), Node(r.imageExtension))]
            if let c = r.synthetic {
                fields.append((Node("synthetic"), try JSONValue(json: try encoder.encode(c)).node))
            } else {
                fields.insert((Node("folder"), path(r.folder)), at: 0)
            }
            experiment = Node([(Node("rxrx1"), Node(fields))])
        case .bbbc014(let folder, let layout, let synthetic):
            var node = try JSONValue(json: try encoder.encode(layout)).node
            if case .mapping(var m) = node {
                if let synthetic { m[Node("synthetic")] = try JSONValue(json: try encoder.encode(synthetic)).node } else { m[Node("folder")] = path(folder) }
                node = .mapping(m)
            }
            experiment = Node([(Node("bbbc014"), node)])
        }
        let stages = Node(try p.stages.map { Node([(Node($0.name), try JSONValue(json: $0.configJSON).node)]) })
        let doc = Node([(Node("name"), Node(p.name)), (Node("output"), Node(p.output.path)), (Node("threads"), Node(String(p.threads), Tag(.int))),
                        (Node("experiment"), experiment), (Node("stages"), stages)])
        return try Yams.serialize(node: doc)
    }
}
