import Foundation
import MorphoCore
import MorphoIO
import Synthetic
import Yams

/// The stages a pipeline file may name.
public struct StageRegistry: @unchecked Sendable {
    public private(set) var stages: [String: any PipelineStage.Type] = [:]
    public private(set) var order: [String] = []
    /// Stages whose `method` setting picks the implementation (`classify`: deepnoise, wholeimage).
    public private(set) var methods: [String: [(method: String, stage: any PipelineStage.Type)]] = [:]

    public init(_ stages: [any PipelineStage.Type]) { for s in stages { register(s) } }

    /// Adds a stage type (a later registration of the same name replaces the earlier one).
    public mutating func register(_ stage: any PipelineStage.Type) {
        if stages[stage.name] == nil { order.append(stage.name) }
        stages[stage.name] = stage
    }

    /// Adds one implementation of a stage chosen by its `method` key; the first one registered is the default.
    public mutating func register(_ stage: any PipelineStage.Type, method: String) {
        if stages[stage.name] == nil { register(stage) }
        methods[stage.name, default: []].append((method, stage))
    }

    /// The stage type for a `- name: settings` entry.
    func stage(_ name: String, settings: Node?, file: String) throws -> (any PipelineStage.Type)? {
        guard let variants = methods[name] else { return stages[name] }
        guard case .mapping(let m)? = settings, let node = m["method"] else { return variants[0].stage }
        guard let method = node.string, let found = variants.first(where: { $0.method == method }) else {
            throw MorphoError.config(key: "stages.\(name).method", problem: "\(file) \(ConfigDecoding.line(node)): '\(node.string ?? "?")' is not one of \(variants.map(\.method).joined(separator: ", "))")
        }
        return found.stage
    }
}

/// A stage of a loaded pipeline with its config bound (type-erased).
public struct BoundStage: @unchecked Sendable {
    public let name: String
    public let scope: UnitScope
    public let inputs: [[Artifact]]
    public let outputs: [Artifact]
    /// The resolved config (defaults + the file's settings) as sorted snake_case JSON.
    public let configJSON: Data
    let runBody: (StageContext) throws -> [UnitOutcome]
    let mainOutputBody: (String, StageContext) -> URL
    let metricsBody: (StageContext) -> [String: Double]
    let unitsBody: (StageContext) throws -> [StageUnit]

    public func run(_ context: StageContext) throws -> [UnitOutcome] { try runBody(context) }
    /// Every unit of the stage: one per plate, the single "all", or the stage's own.
    public func units(_ context: StageContext) throws -> [StageUnit] {
        switch scope {
        case .plate: return context.experiment.plates.map { StageUnit($0.name) }
        case .all: return [StageUnit("all")]
        case .custom: return try unitsBody(context)
        }
    }
    public func mainOutput(unit: String, context: StageContext) -> URL { mainOutputBody(unit, context) }
    public func metrics(_ context: StageContext) -> [String: Double] { metricsBody(context) }

    static func bind<S: PipelineStage>(_ type: S.Type, node: Node?, file: String) throws -> BoundStage {
        let config = try ConfigDecoding.decode(S.defaults, from: node, path: "stages.\(S.name)", file: file)
        try S.validate(config)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return BoundStage(name: S.name, scope: S.scope, inputs: S.inputs(config), outputs: S.outputs(config),
                          configJSON: try encoder.encode(config),
                          runBody: { try S.run(config, context: $0) },
                          mainOutputBody: { S.mainOutput(config, unit: $0, context: $1) },
                          metricsBody: { S.metrics(config, context: $0) },
                          unitsBody: { try S.units(config, context: $0) })
    }
}

/// Where a pipeline's images come from: a BBBC021-style image.csv, a CellProfiler LoadData CSV, or a
/// synthetic screen generated into `<output>/screen` (seeded, so every machine makes the same one).
public enum ExperimentSource: Sendable {
    case bbbc021(imageCSV: URL, moaCSV: URL, images: URL?, annotatedOnly: Bool, checkFiles: Bool, excludePlateControls: Bool)
    case loaddata(csv: URL, moa: URL?, images: URL?, metadata: URL?)
    /// A synthetic screen: generated from the config, or the real design of `layout` rendered with synthetic pixels.
    case synthetic(SyntheticConfig, layout: SyntheticLayout?)
    /// An RxRx1 screen: its folder (train.csv, ... and the images), or a synthetic RxRx1-like screen
    /// generated into `<output>/screen`.
    case rxrx1(RxRx1Source)
    /// A BBBC014-style translocation plate: its image folder, or a synthetic screen generated into
    /// `<output>/screen` (`synthetic`), read with `layout`.
    case bbbc014(folder: URL?, layout: BBBC014Layout, synthetic: TranslocationConfig?)
}

/// A real BBBC021-style design (image table + MoA table) to render with synthetic pixels: the plates, wells,
/// treatments and batches of the real screen, at most `maxSites` fields per well.
public struct SyntheticLayout: Codable, Sendable, Equatable {
    public var imageCsv = ""
    public var moaCsv = ""
    public var maxSites: Int?
    /// Leave out the real layout's plate-control wells (`BBBC021Layout.Options.excludePlateControls`).
    public var excludePlateControls = true
}

public struct RxRx1Source: Sendable {
    /// The screen folder; nil until a synthetic screen has been placed.
    public var folder: URL?
    /// `id_code,sirna` answers for the test wells (scoring only).
    public var truth: URL?
    public var imageExtension: String
    public var synthetic: RxRx1Config?
}

/// A pipeline file: `name`, `output` (the run folder), `threads`, `experiment` and `stages`.
/// Relative paths are relative to the working directory.
///
/// ```yaml
/// name: quickstart
/// output: Data/quickstart
/// experiment:
///   synthetic: {preset: small, seed: 7}
/// stages:
///   - illumination: {median_filter_size: 51}
///   - segmentation: {}
/// ```
public struct Pipeline: Sendable {
    public var name: String
    public var file: URL
    public var output: URL
    public var threads: Int
    public var source: ExperimentSource
    public var plates: [String]?
    public var stages: [BoundStage]
    /// The file's bytes and content hash (for the manifest).
    public var text: String
    public var hash: String
    public var overrides: [String]

    static let topKeys = ["name", "output", "threads", "experiment", "stages"]

    /// Loads and checks a pipeline file. `overrides` are `key.path=value` settings applied on top of the
    /// file (e.g. `experiment.bbbc021.images=/data/BBBC021`, `stages.train.epochs=2`, `output=run2`).
    public static func load(_ url: URL, overrides: [String] = [], registry: StageRegistry = .standard) throws -> Pipeline {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw MorphoError.file(path: url.path, problem: "cannot read pipeline file")
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            let bytes = [UInt8](data)
            let at = CSV.firstInvalidUTF8(bytes) ?? 0
            let line = 1 + bytes[..<at].reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
            throw MorphoError.config(key: url.lastPathComponent, problem: "line \(line), byte offset \(at) is not UTF-8 (YAML files are UTF-8 text)")
        }
        return try parse(text, file: url, overrides: overrides, registry: registry)
    }

    public static func parse(_ text: String, file url: URL, overrides: [String] = [], registry: StageRegistry = .standard) throws -> Pipeline {
        let file = url.lastPathComponent
        var root: Node
        do {
            try ConfigDecoding.refuseAnchors(in: text, file: file)
            guard let node = try Yams.compose(yaml: text) else { throw MorphoError.config(key: file, problem: "empty pipeline file") }
            root = node
        } catch let error as YamlError {
            throw MorphoError.config(key: file, problem: "not valid YAML: \(error)")
        }
        root = try applying(overrides, to: root, file: file)
        guard case .mapping(let top) = root else { throw MorphoError.config(key: file, problem: "\(ConfigDecoding.line(root)): expected a mapping") }
        for (k, _) in top where !topKeys.contains(k.string ?? "") {
            throw MorphoError.config(key: k.string ?? "?", problem: "\(file) \(ConfigDecoding.line(k)): unknown key (known: \(topKeys.joined(separator: ", ")))")
        }
        func string(_ key: String) throws -> String? {
            guard let n = top[key] else { return nil }
            guard case .scalar(let s) = n else { throw MorphoError.config(key: key, problem: "\(file) \(ConfigDecoding.line(n)): expected a string") }
            return s.string
        }
        let name = try string("name") ?? url.deletingPathExtension().lastPathComponent
        guard let output = try string("output") else { throw MorphoError.config(key: "output", problem: "\(file): give the run folder as `output:`") }
        // An empty value would write into the working folder; a file cannot hold a run.
        if output.trimmingCharacters(in: .whitespaces).isEmpty {
            throw MorphoError.config(key: "output", problem: "\(file) \(ConfigDecoding.line(top["output"]!)): empty; give the run folder, e.g. `output: runs/screen1`")
        }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: output, isDirectory: &isFolder), !isFolder.boolValue {
            throw MorphoError.config(key: "output", problem: "\(file) \(ConfigDecoding.line(top["output"]!)): '\(output)' is a file, not a folder for the run")
        }
        var threads = ProcessInfo.processInfo.activeProcessorCount
        if let n = top["threads"] {
            guard let t = n.int, t > 0 else { throw MorphoError.config(key: "threads", problem: "\(file) \(ConfigDecoding.line(n)): expected a positive integer") }
            threads = t
        }
        guard let experiment = top["experiment"] else { throw MorphoError.config(key: "experiment", problem: "\(file): give the input as `experiment:`") }
        let (source, plates) = try parseExperiment(experiment, file: file)

        guard let stagesNode = top["stages"], case .sequence(let list) = stagesNode else {
            throw MorphoError.config(key: "stages", problem: "\(file): give `stages:` as a list, e.g. `- illumination: {}`")
        }
        var stages = [BoundStage]()
        var made: Set<Artifact> = [.images]
        for item in list {
            guard case .mapping(let m) = item, m.count == 1, let (k, v) = m.first, let stageName = k.string else {
                throw MorphoError.config(key: "stages", problem: "\(file) \(ConfigDecoding.line(item)): each stage is one `- name: {settings}` entry")
            }
            guard let type = try registry.stage(stageName, settings: v, file: file) else {
                throw MorphoError.config(key: "stages.\(stageName)", problem: "\(file) \(ConfigDecoding.line(k)): unknown stage (known: \(registry.order.joined(separator: ", ")))")
            }
            guard !stages.contains(where: { $0.name == stageName }) else {
                throw MorphoError.config(key: "stages.\(stageName)", problem: "\(file) \(ConfigDecoding.line(k)): stage listed twice")
            }
            let bound = try BoundStage.bind(type, node: v, file: file)
            for need in bound.inputs where made.isDisjoint(with: need) {
                throw MorphoError.config(key: "stages.\(stageName)", problem: "\(file) \(ConfigDecoding.line(k)): needs \(need.map(\.name).joined(separator: " or ")), which no earlier stage makes")
            }
            made.formUnion(bound.outputs)
            stages.append(bound)
        }
        return Pipeline(name: name, file: url, output: URL(fileURLWithPath: output), threads: threads, source: source, plates: plates,
                        stages: stages, text: text, hash: ContentHash.of(Data(text.utf8)), overrides: overrides)
    }

    static func parseExperiment(_ node: Node, file: String) throws -> (ExperimentSource, [String]?) {
        guard case .mapping(let m) = node else { throw MorphoError.config(key: "experiment", problem: "\(file) \(ConfigDecoding.line(node)): expected a mapping") }
        let sources = ["bbbc021", "loaddata", "synthetic", "rxrx1", "bbbc014"]
        let keys = sources + ["plates"]
        for (k, _) in m where !keys.contains(k.string ?? "") {
            throw MorphoError.config(key: "experiment.\(k.string ?? "?")", problem: "\(file) \(ConfigDecoding.line(k)): unknown key (known: \(keys.joined(separator: ", ")))")
        }
        let plates = try m["plates"].map { n -> [String] in
            guard case .sequence(let s) = n else { throw MorphoError.config(key: "experiment.plates", problem: "\(file) \(ConfigDecoding.line(n)): expected a list") }
            return s.compactMap(\.string)
        }
        let given = sources.filter { m[$0] != nil }
        guard given.count == 1 else {
            throw MorphoError.config(key: "experiment", problem: "\(file) \(ConfigDecoding.line(node)): give exactly one of \(sources.joined(separator: ", "))")
        }
        func path(_ s: String?) -> URL? { s.map { URL(fileURLWithPath: $0) } }
        switch given[0] {
        case "bbbc021":
            let c = try ConfigDecoding.decode(BBBC021Section(), from: m["bbbc021"], path: "experiment.bbbc021", file: file)
            guard !c.imageCsv.isEmpty, !c.moaCsv.isEmpty else {
                throw MorphoError.config(key: "experiment.bbbc021", problem: "\(file): give image_csv and moa_csv")
            }
            return (.bbbc021(imageCSV: URL(fileURLWithPath: c.imageCsv), moaCSV: URL(fileURLWithPath: c.moaCsv), images: path(c.images),
                              annotatedOnly: c.annotatedOnly, checkFiles: c.checkFiles, excludePlateControls: c.excludePlateControls), plates)
        case "rxrx1":
            var node = m["rxrx1"]!
            var synthetic: RxRx1Config?
            if case .mapping(var rm) = node, let sn = rm["synthetic"] {
                let (preset, rest) = splitPreset(sn, default: "demo")
                synthetic = try ConfigDecoding.decode(try RxRx1Config.preset(preset), from: rest, path: "experiment.rxrx1.synthetic", file: file)
                try synthetic!.validate()
                rm["synthetic"] = nil
                node = .mapping(rm)
            }
            let c = try ConfigDecoding.decode(RxRx1Section(), from: node, path: "experiment.rxrx1", file: file)
            guard synthetic != nil || c.folder != nil else {
                throw MorphoError.config(key: "experiment.rxrx1", problem: "\(file): give folder (an RxRx1 screen) or synthetic")
            }
            return (.rxrx1(RxRx1Source(folder: path(c.folder), truth: path(c.truth), imageExtension: synthetic != nil ? RxRx1ScreenWriter.imageExtension : c.imageExtension,
                                       synthetic: synthetic)), plates)
        case "bbbc014":
            guard case .mapping(var bm) = m["bbbc014"]! else {
                throw MorphoError.config(key: "experiment.bbbc014", problem: "\(file) \(ConfigDecoding.line(m["bbbc014"]!)): expected a mapping")
            }
            var synthetic: TranslocationConfig?
            if let sn = bm["synthetic"] {
                synthetic = try ConfigDecoding.decode(TranslocationConfig(), from: sn, path: "experiment.bbbc014.synthetic", file: file)
                try synthetic!.validate()
                bm["synthetic"] = nil
            }
            let folder = bm["folder"]?.string
            bm["folder"] = nil
            var layout = try ConfigDecoding.decode(BBBC014Layout(), from: .mapping(bm), path: "experiment.bbbc014", file: file)
            if let synthetic { layout.concentrations = synthetic.concentrations }
            try layout.validate()
            guard (synthetic == nil) != (folder == nil) else {
                throw MorphoError.config(key: "experiment.bbbc014", problem: "\(file): give folder (the BBBC014 images) or synthetic, not both")
            }
            return (.bbbc014(folder: path(folder), layout: layout, synthetic: synthetic), plates)
        case "loaddata":
            let c = try ConfigDecoding.decode(LoadDataSection(), from: m["loaddata"], path: "experiment.loaddata", file: file)
            guard !c.csv.isEmpty else { throw MorphoError.config(key: "experiment.loaddata.csv", problem: "\(file): give the LoadData CSV") }
            return (.loaddata(csv: URL(fileURLWithPath: c.csv), moa: path(c.moa), images: path(c.images), metadata: path(c.metadata)), plates)
        default:
            var (preset, rest) = splitPreset(m["synthetic"]!, default: "small")
            var layout: SyntheticLayout?
            if case .mapping(var sm) = rest, let ln = sm["layout"] {
                layout = try ConfigDecoding.decode(SyntheticLayout(), from: ln, path: "experiment.synthetic.layout", file: file)
                guard !layout!.imageCsv.isEmpty, !layout!.moaCsv.isEmpty else {
                    throw MorphoError.config(key: "experiment.synthetic.layout", problem: "\(file) \(ConfigDecoding.line(ln)): give image_csv and moa_csv")
                }
                sm["layout"] = nil
                rest = .mapping(sm)
            }
            let base = try SyntheticConfig.preset(preset)
            return (.synthetic(try ConfigDecoding.decode(base, from: rest, path: "experiment.synthetic", file: file), layout: layout), plates)
        }
    }

    /// `annotated_only`: only wells of compounds with a MoA (and the controls); `check_files: false` for
    /// pipelines that read no images (profiles from a feature table).
    /// `exclude_plate_controls`: leave out wells of a treatment at the same position on more than 3 plates (BBBC021's taxol controls).
    struct BBBC021Section: Codable { var imageCsv = ""; var moaCsv = ""; var images: String?; var annotatedOnly = false; var checkFiles = true; var excludePlateControls = false }
    /// A synthetic section's `preset` (or `fallback`) and the rest of its settings.
    static func splitPreset(_ node: Node, default fallback: String) -> (String, Node) {
        guard case .mapping(var m) = node, let p = m["preset"] else { return (fallback, node) }
        m["preset"] = nil
        return (p.string ?? fallback, .mapping(m))
    }

    struct RxRx1Section: Codable { var folder: String?; var truth: String?; var imageExtension = "png" }
    struct LoadDataSection: Codable { var csv = ""; var moa: String?; var images: String?; var metadata: String? }

    /// `a.b.c=value` overrides set into the document (lists by index: `stages.2.train.epochs=1` is also
    /// reachable as `stages.train.epochs=1`, by stage name).
    static func applying(_ overrides: [String], to root: Node, file: String) throws -> Node {
        var root = root
        for o in overrides {
            guard let eq = o.firstIndex(of: "=") else { throw MorphoError.config(key: o, problem: "an override is KEY.PATH=VALUE") }
            let keys = o[..<eq].split(separator: ".").map(String.init)
            let valueText = String(o[o.index(after: eq)...])
            try ConfigDecoding.refuseAnchors(in: valueText, file: "override '\(o)'")
            guard let value = try Yams.compose(yaml: valueText.isEmpty ? "''" : valueText) else { continue }
            root = try set(keys[...], value, in: root, whole: String(o[..<eq]))
        }
        return root
    }

    static func set(_ keys: ArraySlice<String>, _ value: Node, in node: Node, whole: String) throws -> Node {
        guard let key = keys.first else { return value }
        switch node {
        case .mapping(var m):
            m[Node(key)] = try set(keys.dropFirst(), value, in: m[key] ?? Node([(Node, Node)]()), whole: whole)
            return .mapping(m)
        case .sequence(var s):
            // By stage name: the entry whose single key is `key`.
            if let i = s.firstIndex(where: { if case .mapping(let m) = $0 { return m[key] != nil } else { return false } }) {
                s[i] = try set(keys, value, in: s[i], whole: whole)
                return .sequence(s)
            }
            throw MorphoError.config(key: whole, problem: "no stage '\(key)' in the pipeline")
        default:
            if node.null != nil { return try set(keys, value, in: Node([(Node, Node)]()), whole: whole) }
            throw MorphoError.config(key: whole, problem: "'\(key)' is set inside a value that is not a mapping")
        }
    }
}
