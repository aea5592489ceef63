import Foundation
import MorphoCore
import MorphoIO
import Synthetic

/// Which part of a pipeline one invocation runs.
public struct RunSelection: Sendable {
    /// First and last stage to run (inclusive); nil: from the start / to the end.
    public var from: String?
    public var until: String?
    /// Only these plates (per-plate stages); nil: all.
    public var plates: [String]?
    /// Only these units of the (single) selected custom-scope stage, e.g. cross-validation folds; nil: all.
    public var units: [String]?
    public init(from: String? = nil, until: String? = nil, plates: [String]? = nil, units: [String]? = nil) {
        self.from = from; self.until = until; self.plates = plates; self.units = units
    }

    /// Whether this selection is the whole run (every stage, plate and unit).
    public var isFullRun: Bool { from == nil && until == nil && plates == nil && units == nil }

    /// The run folder's lock for this selection: one stage (a workflow engine's unit job) shares the
    /// folder with other single-stage runs but not with a run of its own selection; anything more
    /// holds the folder alone.
    func lock(_ folder: URL) throws -> RunFolderLock {
        guard let stage = from, stage == until else { return try RunFolderLock.acquire(folder: folder, mode: .exclusive) }
        let part = plates ?? units
        return try RunFolderLock.acquire(folder: folder, mode: .shared, selection: ([stage] + (part ?? [])).joined(separator: "-"))
    }
}

/// What one stage did in one invocation.
public struct StageRun: Sendable, Codable {
    public var stage: String
    public var scope: UnitScope
    public var seconds: Double
    public var units: [UnitOutcome]
    public var metrics: [String: Double]
}

/// Runs a pipeline's stages in order over its experiment; every unit of work skips itself when its
/// inputs (content hashes) and config are unchanged, so a killed run resumes where it stopped.
public struct PipelineRunner {
    public let pipeline: Pipeline
    public var progress = true
    /// Called with one line per finished stage and per notable event.
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }

    public init(pipeline: Pipeline) { self.pipeline = pipeline }

    public var screenFolder: URL { pipeline.output.appendingPathComponent("screen") }

    /// The experiment: read from its layout, or generated first when synthetic (resumable).
    public func experiment() throws -> Experiment {
        var experiment: Experiment
        switch pipeline.source {
        case .bbbc021(let imageCSV, let moaCSV, let images, let annotatedOnly, let checkFiles, let excludePlateControls):
            experiment = try BBBC021Layout.read(imageCSV: imageCSV, moaCSV: moaCSV,
                                                options: .init(imageRoot: images, checkFiles: checkFiles, annotatedOnly: annotatedOnly,
                                                              plates: pipeline.plates.map(Set.init), excludePlateControls: excludePlateControls)).0
        case .loaddata(let csv, let moa, let images, let metadata):
            let annotations = try moa.map { try MoAAnnotations.read($0) }
            experiment = try LoadDataLayout.read(csv, options: .init(imageRoot: images, checkFiles: true, annotations: annotations, metadata: metadata)).0
        case .synthetic(let config, let layout):
            let folder = screenFolder
            var design = try ScreenDesign.make(config)
            if let layout {
                let real = try BBBC021Layout.read(imageCSV: URL(fileURLWithPath: layout.imageCsv), moaCSV: URL(fileURLWithPath: layout.moaCsv),
                                                  options: .init(annotatedOnly: true, plates: pipeline.plates.map(Set.init),
                                                                 excludePlateControls: layout.excludePlateControls)).0
                design = ScreenDesign.from(real, maxSites: layout.maxSites)
            }
            let writer = ScreenWriter(config: config, design: design, source: "pipeline \(pipeline.name)")
            let summary = try writer.write(to: folder, overwrite: false, progress: progress)
            if summary.fieldsRendered > 0 { log("synthetic screen: \(summary.fieldsRendered) of \(summary.fields) fields rendered into \(folder.path)") }
            experiment = try BBBC021Layout.read(imageCSV: folder.appendingPathComponent("image.csv"), moaCSV: folder.appendingPathComponent("moa.csv"),
                                                options: .init(imageRoot: folder.appendingPathComponent("images"), checkFiles: true)).0
        case .rxrx1(let given):
            let source = rxrx1Source!
            if let config = given.synthetic {
                let rendered = try RxRx1ScreenWriter(design: try RxRx1Design(config: config)).write(to: screenFolder, progress: progress)
                if rendered > 0 { log("synthetic RxRx1-like screen: \(rendered) wells rendered into \(screenFolder.path)") }
            }
            let wells = try RxRx1Layout.read(source.folder!, truthFile: source.truth)
            let sites = try RxRx1Layout.siteCount(root: source.folder!, wells: wells, ext: source.imageExtension)
            experiment = RxRx1Layout.experiment(wells, root: source.folder!, sites: sites, ext: source.imageExtension)
        case .bbbc014(let folder, let layout, let synthetic):
            if let synthetic {
                let rendered = try TranslocationScreenWriter(config: synthetic).write(to: screenFolder, progress: progress)
                if rendered > 0 { log("synthetic BBBC014-like screen: \(rendered) wells rendered into \(screenFolder.path)") }
            }
            experiment = try layout.read(folder: folder ?? TranslocationScreenWriter.imageFolder(screenFolder))
        }
        if let plates = pipeline.plates {
            for p in plates where !experiment.plates.contains(where: { $0.name == p }) {
                throw MorphoError.config(key: "experiment.plates", problem: "plate '\(p)' is not in the experiment")
            }
            experiment.plates = experiment.plates.filter { plates.contains($0.name) }
        }
        guard !experiment.plates.isEmpty else { throw MorphoError.data(context: "experiment", problem: "no plates to process") }
        return experiment
    }

    /// The RxRx1 source with its folder set: a synthetic screen lives in `<output>/screen`, its answers in
    /// `truth/test_labels.csv` (`experiment()` generates it). Nil for other experiments.
    var rxrx1Source: RxRx1Source? {
        guard case .rxrx1(var source) = pipeline.source else { return nil }
        if source.synthetic != nil {
            source.folder = screenFolder
            source.truth = source.truth ?? screenFolder.appendingPathComponent("truth/test_labels.csv")
        }
        return source
    }

    /// The stages `selection` names, in pipeline order.
    public func selectedStages(_ selection: RunSelection) throws -> [BoundStage] {
        let names = pipeline.stages.map(\.name)
        func index(_ name: String?, default d: Int) throws -> Int {
            guard let name else { return d }
            guard let i = names.firstIndex(of: name) else {
                throw MorphoError.config(key: name, problem: "no stage '\(name)' in \(pipeline.file.lastPathComponent) (stages: \(names.joined(separator: ", ")))")
            }
            return i
        }
        let first = try index(selection.from, default: 0), last = try index(selection.until, default: names.count - 1)
        guard first <= last else { throw MorphoError.config(key: "from", problem: "stage '\(names[first])' comes after '\(names[last])'") }
        return Array(pipeline.stages[first...last])
    }

    public func context(_ experiment: Experiment, plates: [String]?) throws -> StageContext {
        var selected = experiment.plates
        if let plates {
            for p in plates where !experiment.plates.contains(where: { $0.name == p }) {
                throw MorphoError.config(key: "plates", problem: "plate '\(p)' is not in the experiment (\(experiment.plates.map(\.name).joined(separator: ", ")))")
            }
            selected = selected.filter { plates.contains($0.name) }
        }
        return StageContext(runFolder: pipeline.output, experiment: experiment, plates: selected, threads: pipeline.threads,
                            progress: progress, rxrx1: rxrx1Source, stageConfigs: Dictionary(uniqueKeysWithValues: pipeline.stages.map { ($0.name, $0.configJSON) }))
    }

    /// Runs the selected stages. A full run (every stage, every plate) also writes the manifest.
    @discardableResult
    public func run(_ selection: RunSelection = RunSelection()) throws -> [StageRun] {
        let start = Date()
        try FileManager.default.createDirectory(at: pipeline.output, withIntermediateDirectories: true)
        let lock = try selection.lock(pipeline.output)
        defer { withExtendedLifetime(lock) {} }
        Parallelism.maxThreads = pipeline.threads  // Morpho's image loops; the engine's threads are set per stage
        let experiment = try experiment()
        let context = try context(experiment, plates: selection.plates)
        var allPlates = try self.context(experiment, plates: nil)
        let stages = try selectedStages(selection)
        if let wanted = selection.units {
            guard stages.count == 1, stages[0].scope == .custom else {
                throw MorphoError.config(key: "units", problem: "--units selects units of one stage that names its own units (e.g. --stage classify with method wholeimage)")
            }
            let known = try stages[0].units(allPlates).map(\.name)
            for u in wanted where !known.contains(u) {
                throw MorphoError.config(key: "units", problem: "stage \(stages[0].name) has no unit '\(u)' (units: \(known.prefix(12).joined(separator: ", "))\(known.count > 12 ? ", ..." : ""))")
            }
            allPlates.units = Set(wanted)
        }
        var runs = [StageRun]()
        for stage in stages {
            let stageStart = Date()
            let units: [UnitOutcome]
            do {
                units = try stage.run(stage.scope == .plate ? context : allPlates)
            } catch let error as MorphoError {
                throw MorphoError.stage(stage.name, error)
            }
            let metrics = stage.metrics(context)
            let run = StageRun(stage: stage.name, scope: stage.scope, seconds: Date().timeIntervalSince(stageStart), units: units, metrics: metrics)
            runs.append(run)
            let reused = units.filter(\.reused).count
            var line = "\(stage.name): \(units.count - reused) unit(s) run, \(reused) up to date, \(String(format: "%.1f", run.seconds)) s"
            if !metrics.isEmpty { line += "; " + metrics.sorted { $0.key < $1.key }.map { "\($0.key) \(formatMetric($0.value))" }.joined(separator: ", ") }
            log(line)
        }
        if selection.isFullRun {
            try writeManifest(experiment: experiment, runs: runs, seconds: Date().timeIntervalSince(start))
        }
        return runs
    }

    func formatMetric(_ v: Double) -> String { v.isNaN ? "n/a" : v == v.rounded() && abs(v) < 1e9 ? String(Int(v)) : String(format: "%.3f", v) }
}

extension MorphoError {
    /// `error` with the stage that raised it named first.
    static func stage(_ name: String, _ error: MorphoError) -> MorphoError {
        .data(context: "stage \(name)", problem: error.description)
    }
}
