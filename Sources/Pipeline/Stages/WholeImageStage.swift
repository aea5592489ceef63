import Classification
import Foundation
import MorphoCore
import MorphoIO
import NeuralNetwork

/// `classify` with `method: wholeimage`: Kensert et al. (2019)'s whole-image MoA classifier under
/// leave-one-compound-out cross-validation, with split-conformal prediction sets.
///
/// Units: `tiles` (the preprocessed tiles of every plate, `predictions/tiles/<plate>.h5`), then one unit per
/// fold (`nsc-<compound>`, `nscb-<compound>`: a network trained afresh without that compound, its tile
/// probabilities in `predictions/folds/<unit>.csv`). A full run then writes `treatments.csv` (per treatment and
/// holdout: median probabilities, prediction, conformal set), `images.csv`, `confusion_<holdout>.csv`,
/// `conformal.csv` (coverage and set size per fold) and `metrics.json`.
public enum WholeImagePipelineStage: PipelineStage {
    public struct Extra: Codable, Sendable {
        public var method = "wholeimage"
        /// `nsc` (leave the compound out), `nscb` (also its batches), `batch` (leave one batch, e.g. a cell line, out).
        public var holdouts: [WholeImageEvaluation.Holdout] = [.nsc, .nscb]
        /// Only these compounds' folds (nil: every annotated compound).
        public var compounds: [String]?
        /// Target coverage of the conformal prediction sets.
        public var coverage = 0.9
        public var conformalScore = ConformalPredictor.Score.lac
    }
    public typealias Config = FlatConfig<FlatConfig<WholeImagePreprocessing, WholeImageModelConfig>, Extra>
    public static let name = "classify"
    public static let abstract = "Classify mechanisms from whole images (Kensert et al. 2019) with leave-one-compound-out folds and conformal sets."
    public static func inputs(_ config: Config) -> [[Artifact]] { [[.images]] }
    public static func outputs(_ config: Config) -> [Artifact] { [.predictions] }
    public static let scope = UnitScope.custom
    public static var defaults: Config { FlatConfig(FlatConfig(WholeImagePreprocessing(), WholeImageModelConfig()), Extra()) }

    public static func validate(_ config: Config) throws {
        try config.base.base.validate()
        try config.base.extra.validate()
        guard !config.extra.holdouts.isEmpty else { throw MorphoError.config(key: "holdouts", problem: "give one or more of nsc, nscb, batch") }
        guard config.extra.coverage > 0, config.extra.coverage < 1 else { throw MorphoError.config(key: "coverage", problem: "must be in (0, 1)") }
    }

    static func folder(_ context: StageContext) -> URL { context.folder(.predictions) }

    public static func mainOutput(_ config: Config, unit: String, context: StageContext) -> URL {
        unit == "tiles" ? folder(context).appendingPathComponent("tiles/index.json")
            : folder(context).appendingPathComponent("folds/\(unit).csv")
    }

    /// The annotated compounds of the experiment (not the control) whose folds run.
    static func compounds(_ config: Config, _ experiment: Experiment) throws -> [String] {
        let all = WholeImageEvaluation.compounds(experiment.treatments, control: experiment.controlCompound ?? "DMSO")
        guard let chosen = config.extra.compounds else { return all }
        for c in chosen where !all.contains(c) {
            throw MorphoError.config(key: "stages.classify.compounds", problem: "'\(c)' is not an annotated compound of the experiment (\(all.prefix(10).joined(separator: ", ")), ...)")
        }
        return all.filter(chosen.contains)
    }

    public static func units(_ config: Config, context: StageContext) throws -> [StageUnit] {
        [StageUnit("tiles")] + (try foldKeys(config, context.experiment)).map { StageUnit(WholeImageEvaluation.Fold.unitName($0.0, $0.1), needs: ["tiles"]) }
    }

    /// (holdout, compound or batch) of every fold, in running order.
    static func foldKeys(_ config: Config, _ experiment: Experiment) throws -> [(WholeImageEvaluation.Holdout, String)] {
        let compounds = try compounds(config, experiment)
        return config.extra.holdouts.flatMap { h in (h == .batch ? experiment.batches : compounds).map { (h, $0) } }
    }

    public static func run(_ config: Config, context: StageContext) throws -> [UnitOutcome] {
        try Engine.setThreads(context.threads)
        let wanted = context.units
        let experiment = context.experiment
        let channels = try experiment.channels(selecting: config.base.base.channels, key: "stages.classify.channels")
        let (tiles, tilesOutcome) = try makeTiles(config, context: context, channels: channels)
        var outcomes = wanted == nil || wanted!.contains("tiles") ? [tilesOutcome] : []
        let classes = WholeImageEvaluation.classes(experiment.treatments, control: experiment.controlCompound ?? "DMSO")
        guard classes.count >= 2 else { throw MorphoError.data(context: "experiment", problem: "whole-image classification needs at least 2 annotated mechanisms, found \(classes.count)") }
        let labels = tiles.records.map { $0.treatment.moa.flatMap { classes.firstIndex(of: $0) } ?? -1 }
        let folds = try foldKeys(config, experiment).map { WholeImageEvaluation.fold(tiles.records, compound: $0.1, holdout: $0.0) }
        let tileFiles = tileFileURLs(context)
        let todo = folds.filter { wanted == nil || wanted!.contains($0.name) }
        for (k, fold) in todo.enumerated() {
            let output = mainOutput(config, unit: fold.name, context: context)
            let outcome = try context.unit(name, fold.name, config: config.base, inputs: tileFiles, output: output,
                                           extra: "fold \(fold.name) classes \(classes.joined(separator: ","))") {
                if context.progress { FileHandle.standardError.write(Data("classify: fold \(k + 1) of \(todo.count): \(fold.name), \(fold.train.count) training and \(fold.test.count) test tiles\n".utf8)) }
                var trainer = WholeImageTrainer(config: config.base.extra, classes: classes.count)
                trainer.progress = context.progress
                var rows = [[Double]]()
                if fold.train.isEmpty, !fold.test.isEmpty, context.progress {
                    FileHandle.standardError.write(Data("classify: fold \(fold.name) has no training tiles (every other compound shares its batch); it is not scored\n".utf8))
                }
                if !fold.test.isEmpty, !fold.train.isEmpty {
                    let model = try trainer.train(tiles, indices: fold.train, labels: fold.train.map { labels[$0] }, label: fold.name)
                    rows = try trainer.probabilities(model, tiles, indices: fold.test)
                }
                try writeFold(fold.test.map { tiles.records[$0] }, rows: rows, classes: classes, to: output)
                return ([output], ["train_tiles": fold.train.count, "test_tiles": fold.test.count])
            }
            outcomes.append(outcome)
        }
        if wanted == nil { try summarize(config, context: context, tiles: tiles, folds: folds, classes: classes) }
        return outcomes
    }

    // MARK: Tiles

    static func tileFileURLs(_ context: StageContext) -> [URL] {
        context.experiment.plates.map { folder(context).appendingPathComponent("tiles/\($0.name).h5") }
    }

    /// The tiles of every plate, each plate made once (its own unit record) and then read back.
    static func makeTiles(_ config: Config, context: StageContext, channels: [String]) throws -> (WholeImageTiles, UnitOutcome) {
        let start = Date()
        let control = context.experiment.controlCompound ?? "DMSO"
        let plates = context.experiment.plates
        let fields = plates.reduce(0) { $0 + $1.wells.filter { $0.treatment != nil && $0.treatment!.compound != control }.reduce(0) { $0 + $1.sites.count } }
        let reporter = ProgressReporter("tiles", total: fields, unit: "fields", enabled: context.progress)
        var made = 0
        var parts = [WholeImageTiles]()
        for (plate, url) in zip(plates, tileFileURLs(context)) {
            let files = plate.wells.flatMap { $0.sites.flatMap { $0.files.values.map(\.path) } }.sorted()
            var fresh: WholeImageTiles?
            _ = try context.unit(name, "tiles \(plate.name)", config: config.base.base, inputs: [], output: url,
                                 extra: "channels \(channels) files \(ContentHash.of(Data(files.joined(separator: "\n").utf8)))") {
                let t = try WholeImageTiles.make(plate: plate, channels: channels, control: control, settings: config.base.base, progress: reporter)
                try t.write(to: url)
                fresh = t
                return ([url], ["tiles": t.count])
            }
            if fresh != nil { made += 1 }
            parts.append(try fresh ?? WholeImageTiles.read(url))
        }
        reporter.finish()
        let tiles = try WholeImageTiles.joined(parts)
        let index = mainOutput(config, unit: "tiles", context: context)
        let indexData = try JSONEncoder.sorted.encode(["plates": plates.count, "tiles": tiles.count])
        let outcome = try context.unit(name, "tiles", config: config.base.base, inputs: tileFileURLs(context), output: index) {
            try AtomicFile.write(indexData, to: index)
            return ([index], ["plates": plates.count, "tiles": tiles.count])
        }
        return (tiles, UnitOutcome(unit: "tiles", reused: made == 0 && outcome.reused, seconds: Date().timeIntervalSince(start), counts: outcome.counts))
    }

    // MARK: Fold files

    static let recordColumns = ["plate", "batch", "well", "site", "tile", "compound", "concentration", "moa"]

    static func writeFold(_ records: [TileRecord], rows: [[Double]], classes: [String], to url: URL) throws {
        var columns = [[String]](repeating: [], count: recordColumns.count + classes.count)
        for (r, row) in zip(records, rows) {
            let values = [r.plate, r.batch, r.well.description, String(r.site), String(r.tile), r.treatment.compound,
                          formatNumber(r.treatment.concentration), r.treatment.moa ?? ""] + row.map { String(format: "%.6g", $0) }
            for c in values.indices { columns[c].append(values[c]) }
        }
        try CSV.write(CSVTable(header: recordColumns + classes.map { "p_" + $0 }, columns: columns, source: url.path), to: url)
    }

    static func readFold(_ url: URL, classes: [String]) throws -> (records: [TileRecord], rows: [[Double]]) {
        let table = try CSV.read(url)
        let header = recordColumns + classes.map { "p_" + $0 }
        guard table.header == header else {
            throw MorphoError.table(file: url.path, line: 1, column: nil, problem: "columns differ from the classes of this run; rerun the fold")
        }
        var records = [TileRecord](), rows = [[Double]]()
        for i in 0..<table.rowCount {
            let v = table.columns.map { $0[i] }
            guard let well = WellID(v[2]), let site = Int(v[3]), let tile = Int(v[4]), let conc = Double(v[6]) else {
                throw MorphoError.table(file: url.path, line: i + 2, column: nil, problem: "unreadable tile record")
            }
            records.append(TileRecord(plate: v[0], batch: v[1], well: well, site: site, tile: tile,
                                      treatment: Treatment(compound: v[5], concentration: conc, moa: v[7].isEmpty ? nil : v[7])))
            rows.append(try v[recordColumns.count...].enumerated().map { j, s in
                guard let p = Double(s), p.isFinite else { throw MorphoError.table(file: url.path, line: i + 2, column: header[recordColumns.count + j], problem: "'\(s)' is not a probability") }
                return p
            })
        }
        return (records, rows)
    }

    // MARK: Summary

    /// Scores every holdout's folds: accuracies, confusion matrices and conformal sets calibrated, for each
    /// fold, on the held-out predictions of all other compounds (each made by a network that never saw them).
    static func summarize(_ config: Config, context: StageContext, tiles: WholeImageTiles, folds: [WholeImageEvaluation.Fold], classes: [String]) throws {
        let out = folder(context)
        var metrics = [String: Double]()
        var treatmentColumns = [[String]](repeating: [], count: 9)
        var imageColumns = [[String]](repeating: [], count: 6)
        var conformalColumns = [[String]](repeating: [], count: 7)
        let alpha = 1 - config.extra.coverage
        for holdout in config.extra.holdouts {
            var treatments = [WholeImageEvaluation.Scored](), fields = [WholeImageEvaluation.Scored]()
            var scorable = Set<String>()
            for fold in folds where fold.holdout == holdout {
                let (records, rows) = try readFold(mainOutput(config, unit: fold.name, context: context), classes: classes)
                // A mechanism with no training tile in this fold cannot be predicted (NSCB: all its compounds in one batch).
                let trained = Set(fold.train.compactMap { tiles.records[$0].treatment.moa })
                let t = WholeImageEvaluation.treatments(records, rows: rows, classes: classes).map { var s = $0; s.fold = fold.name; return s }
                for s in t where trained.contains(classes[s.truth]) { scorable.insert(s.fold + "|" + s.treatment) }
                treatments += t
                fields += WholeImageEvaluation.fields(records, rows: rows, classes: classes).map { var s = $0; s.fold = fold.name; return s }
            }
            let scoredTreatments = treatments.filter { scorable.contains($0.fold + "|" + $0.treatment) }
            let scoredFields = fields.filter { scorable.contains($0.fold + "|" + $0.treatment) }
            let h = holdout.rawValue
            metrics["\(h)_treatment_accuracy"] = WholeImageEvaluation.accuracy(scoredTreatments)
            metrics["\(h)_image_accuracy"] = WholeImageEvaluation.accuracy(scoredFields)
            metrics["\(h)_treatments"] = Double(scoredTreatments.count)
            metrics["\(h)_treatments_total"] = Double(treatments.count)

            // Conformal sets, fold by fold, calibrated on the other folds.
            var covered = 0, sizes = 0, fieldCovered = 0, fieldSizes = 0
            var setOf = [String: [Int]]()
            for fold in scoredTreatments.map(\.fold).uniqued() {
                let calibration = scoredTreatments.filter { $0.fold != fold }
                let predictor = ConformalPredictor(score: config.extra.conformalScore, calibration: calibration.map(\.probabilities),
                                                   truths: calibration.map(\.truth), alpha: alpha)
                let calibrationFields = scoredFields.filter { $0.fold != fold }
                let fieldPredictor = ConformalPredictor(score: config.extra.conformalScore, calibration: calibrationFields.map(\.probabilities),
                                                        truths: calibrationFields.map(\.truth), alpha: alpha)
                let mine = scoredTreatments.filter { $0.fold == fold }
                let myFields = scoredFields.filter { $0.fold == fold }
                var c = 0, s = 0, fc = 0, fs = 0
                for t in mine { let set = predictor.set(t.probabilities); setOf[t.fold + "|" + t.key] = set; s += set.count; if set.contains(t.truth) { c += 1 } }
                for f in myFields { let set = fieldPredictor.set(f.probabilities); fs += set.count; if set.contains(f.truth) { fc += 1 } }
                covered += c; sizes += s; fieldCovered += fc; fieldSizes += fs
                let row = [h, fold, String(mine.count), String(format: "%.4f", Double(c) / Double(mine.count)), String(format: "%.3f", Double(s) / Double(mine.count)),
                           String(format: "%.4f", myFields.isEmpty ? .nan : Double(fc) / Double(myFields.count)),
                           String(format: "%.3f", myFields.isEmpty ? .nan : Double(fs) / Double(myFields.count))]
                for i in row.indices { conformalColumns[i].append(row[i]) }
            }
            if !scoredTreatments.isEmpty {
                metrics["\(h)_conformal_coverage"] = Double(covered) / Double(scoredTreatments.count)
                metrics["\(h)_conformal_set_size"] = Double(sizes) / Double(scoredTreatments.count)
            }
            if !scoredFields.isEmpty {
                metrics["\(h)_image_conformal_coverage"] = Double(fieldCovered) / Double(scoredFields.count)
                metrics["\(h)_image_conformal_set_size"] = Double(fieldSizes) / Double(scoredFields.count)
            }
            for t in treatments {
                let parts = t.key.split(separator: "@", maxSplits: 1).map(String.init)
                let row = [h, t.fold, parts[0], parts.count > 1 ? parts[1] : "", classes[t.truth], classes[t.predicted], String(format: "%.4f", t.probabilities[t.predicted]),
                           scorable.contains(t.fold + "|" + t.treatment) ? "yes" : "no", (setOf[t.fold + "|" + t.key] ?? []).map { classes[$0] }.joined(separator: ";")]
                for i in row.indices { treatmentColumns[i].append(row[i]) }
            }
            for f in fields {
                let row = [h] + f.key.split(separator: "|").map(String.init) + [classes[f.truth], classes[f.predicted]]
                for i in row.indices { imageColumns[i].append(row[i]) }
            }
            let confusion = WholeImageEvaluation.confusion(scoredTreatments, classes: classes.count)
            let confusionColumns = [classes] + classes.indices.map { j in confusion.map { String($0[j]) } }
            try CSV.write(CSVTable(header: ["truth"] + classes, columns: confusionColumns, source: "classify"), to: out.appendingPathComponent("confusion_\(h).csv"))
        }
        try CSV.write(CSVTable(header: ["holdout", "fold", "compound", "concentration", "moa", "predicted", "probability", "scored", "conformal_set"],
                               columns: treatmentColumns, source: "classify"), to: out.appendingPathComponent("treatments.csv"))
        try CSV.write(CSVTable(header: ["holdout", "plate", "well", "site", "moa", "predicted"], columns: imageColumns, source: "classify"),
                      to: out.appendingPathComponent("images.csv"))
        try CSV.write(CSVTable(header: ["holdout", "fold", "treatments", "coverage", "set_size", "image_coverage", "image_set_size"],
                               columns: conformalColumns, source: "classify"), to: out.appendingPathComponent("conformal.csv"))
        metrics["coverage_target"] = config.extra.coverage
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(metrics.filter { !$0.value.isNaN }), to: out.appendingPathComponent("metrics.json"))
    }

    public static func metrics(_ config: Config, context: StageContext) -> [String: Double] {
        guard let data = FileManager.default.contents(atPath: folder(context).appendingPathComponent("metrics.json").path),
              let m = try? JSONDecoder().decode([String: Double].self, from: data) else { return [:] }
        return m.filter { $0.key.hasSuffix("accuracy") || $0.key.hasSuffix("_conformal_coverage") || $0.key.hasSuffix("_conformal_set_size") }
    }
}

extension Sequence where Element: Hashable {
    /// The elements in first-seen order without repeats.
    func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
