import Classification
import Foundation
import MorphoCore
import MorphoIO
import NeuralNetwork

/// `classify` (method `deepnoise`): the DeepNoise classifier on an RxRx1 screen. It trains on the labelled
/// (training) experiments, with the mean teacher also seeing the unlabelled test images, ensembles the
/// normal and wide models, and post-processes each test plate with the plate prior. It writes
/// `predictions/wells.csv` (per well: true class when known, raw and post-processed prediction),
/// `predictions/images.csv` (per site) and `predictions/metrics.json` (held-out accuracy when the answers are known).
public enum ClassifyPipelineStage: PipelineStage {
    public struct Extra: Codable, Sendable {
        /// `deepnoise` (this stage) or `wholeimage` (`WholeImagePipelineStage`).
        public var method = "deepnoise"
    }
    public typealias Config = FlatConfig<DeepNoiseConfig, Extra>
    public static let name = "classify"
    public static let abstract = "Classify wells from whole images (DeepNoise: plate normalization, ArcFace, mean teacher, ensemble, plate prior)."
    public static func inputs(_ config: Config) -> [[Artifact]] { [[.images]] }
    public static func outputs(_ config: Config) -> [Artifact] { [.predictions] }
    public static let scope = UnitScope.all
    public static var defaults: Config { FlatConfig(DeepNoiseConfig(), Extra()) }

    public static func validate(_ config: Config) throws {
        try config.base.validate()
    }

    public static func mainOutput(_ config: Config, unit: String, context: StageContext) -> URL {
        context.folder(.predictions).appendingPathComponent("wells.csv")
    }

    public static func run(_ config: Config, context: StageContext) throws -> [UnitOutcome] {
        try Engine.setThreads(context.threads)
        guard let source = context.rxrx1, let root = source.folder else {
            throw MorphoError.config(key: "stages.classify", problem: "method deepnoise needs an rxrx1 experiment (experiment: rxrx1: {folder: ...})")
        }
        let tables = ["train.csv", "train_controls.csv", "test.csv", "test_controls.csv"].map { root.appendingPathComponent($0) }
            .filter { FileManager.default.fileExists(atPath: $0.path) } + (source.truth.map { [$0] } ?? [])
        let folder = context.folder(.predictions)
        let plates = Set(context.plates.map(\.name))
        let unit = try context.unit(name, "all", config: config, inputs: tables, output: mainOutput(config, unit: "all", context: context),
                                    extra: plates.sorted().joined(separator: ",")) {
            let all = try RxRx1Layout.read(root, truthFile: source.truth).filter { plates.contains(RxRx1Layout.plateName($0)) }
            // Training uses only the training experiments' labels; answers of test wells are for scoring.
            let sites = try RxRx1Layout.siteCount(root: root, wells: all, ext: source.imageExtension)
            var data = try RxRx1Images(root: root, wells: all, sites: sites, ext: source.imageExtension, progress: context.progress)
            data.normalize(config.base.normalization)
            let trainWells = all.filter { !$0.test }
            guard !trainWells.isEmpty, trainWells.allSatisfy({ $0.sirna != nil }) else {
                throw MorphoError.data(context: "stage classify", problem: "the screen has no labelled training wells (train.csv, train_controls.csv)")
            }
            let classes = trainWells.map { $0.sirna! }.max()! + 1
            let treatments = (trainWells.filter { $0.kind == .treatment }.map { $0.sirna! }.max() ?? -1) + 1
            // Plate groups: the distinct sets of treatment classes on the training plates.
            let groups = Array(Set(Dictionary(grouping: trainWells.filter { $0.kind == .treatment }, by: RxRx1Layout.plateName)
                .values.map { $0.map { $0.sirna! }.sorted() })).sorted { $0.first ?? 0 < $1.first ?? 0 }
            let labelled = (0..<data.count).filter { !data.wells[data.imageWell[$0]].test }
            let unlabelled = (0..<data.count).filter { data.wells[data.imageWell[$0]].test }
            var trainer = DeepNoiseTrainer(config: config.base, classes: classes)
            trainer.progress = context.progress
            let allWells = Array(all.indices), allImages = data.images(ofWells: allWells)
            let widths = [config.base.width] + (config.base.ensemble ? [config.base.wideWidth] : [])
            let checkpoints = folder.appendingPathComponent("checkpoints")
            /// The members' image probabilities, averaged.
            func average(_ models: [DeepNoiseNetwork]) throws -> [[Double]] {
                var rows = [[Double]](repeating: [Double](repeating: 0, count: classes), count: allImages.count)
                for model in models {
                    let p = try trainer.predictImages(model, data, images: allImages)
                    for k in rows.indices { for c in 0..<classes { rows[k][c] += p[k][c] / Double(models.count) } }
                }
                return rows
            }
            var seconds = 0.0
            var members = [DeepNoiseTrainer.Trained]()
            for (member, width) in widths.enumerated() {
                // Checkpoints after every epoch: a rerun after a crash continues where it stopped.
                let trained = try trainer.train(data, labelled: labelled, unlabelled: unlabelled, width: width, seed: config.base.seed,
                                                checkpoint: checkpoints.appendingPathComponent("deepnoise-model\(member + 1)-w\(width).h5"))
                seconds += trained.seconds
                members.append(trained)
            }
            var imageRows = try average(members.map { $0.model! })
            // Test treatment wells: restricted to treatment classes and post-processed per plate.
            let testTreatments = all.indices.filter { all[$0].test && all[$0].kind == .treatment }
            var pseudoLabelledWells = 0
            if config.base.pseudoLabels, !testTreatments.isEmpty {
                let wellRows = DeepNoiseEvaluation.wellMeans(imageRows, images: allImages, data: data, wells: testTreatments)
                let pseudo = DeepNoiseEvaluation.pseudoLabels(DeepNoiseEvaluation.treatmentProbabilities(wellRows, treatments: treatments),
                                                              wells: testTreatments, data: data, groups: groups, method: config.base.postprocess,
                                                              minProbability: config.base.pseudoLabelMinProbability)
                pseudoLabelledWells = Set(pseudo.keys.map { data.imageWell[$0] }).count
                if context.progress { FileHandle.standardError.write(Data("classify: pseudo labels for \(pseudoLabelledWells) of \(testTreatments.count) test treatment wells\n".utf8)) }
                var tuned = [DeepNoiseNetwork]()
                for (member, width) in widths.enumerated() {
                    let trained = try trainer.train(data, labelled: labelled, unlabelled: unlabelled, width: width, seed: config.base.seed,
                                                    checkpoint: checkpoints.appendingPathComponent("deepnoise-model\(member + 1)-w\(width)-pseudo.h5"),
                                                    pseudo: pseudo, startingFrom: members[member])
                    seconds += trained.seconds
                    tuned.append(trained.model!)
                }
                imageRows = try average(tuned)
            }
            let wellRows = DeepNoiseEvaluation.wellMeans(imageRows, images: allImages, data: data, wells: allWells)
            let restricted = DeepNoiseEvaluation.treatmentProbabilities(testTreatments.map { wellRows[$0] }, treatments: treatments)
            let post = DeepNoiseEvaluation.predict(restricted, wells: testTreatments.map { all[$0] }, groups: groups, method: config.base.postprocess)
            var postOf = [Int: Int]()
            for (k, w) in testTreatments.enumerated() { postOf[w] = post[k] }

            let header = ["id_code", "experiment", "plate", "well", "cell_type", "set", "well_type", "sirna", "predicted_raw", "probability", "predicted"]
            var columns = [[String]](repeating: [], count: header.count)
            for (i, w) in all.enumerated() {
                let raw = PlatePrior.argmax(row: wellRows[i])
                let values = [w.idCode, w.experiment, String(w.plate), w.well.description, w.cellType, w.test ? "test" : "train", w.kind.rawValue,
                              w.sirna.map(String.init) ?? "", String(raw), String(format: "%.6f", wellRows[i][raw]), String(postOf[i] ?? raw)]
                for c in header.indices { columns[c].append(values[c]) }
            }
            try CSV.write(CSVTable(header: header, columns: columns, source: "classify"), to: folder.appendingPathComponent("wells.csv"))
            var imageColumns = [[String]](repeating: [], count: 4)
            var sitesSeen = [Int: Int]()
            for (k, i) in allImages.enumerated() {
                let w = data.wells[data.imageWell[i]]
                sitesSeen[data.imageWell[i], default: 0] += 1
                let site = sitesSeen[data.imageWell[i]]!
                let best = PlatePrior.argmax(row: imageRows[k])
                for (c, v) in [w.idCode, String(site), String(best), String(format: "%.6f", imageRows[k][best])].enumerated() { imageColumns[c].append(v) }
            }
            try CSV.write(CSVTable(header: ["id_code", "site", "predicted", "probability"], columns: imageColumns, source: "classify"),
                          to: folder.appendingPathComponent("images.csv"))
            var metrics: [String: Double] = ["train_seconds": seconds, "test_wells": Double(testTreatments.count)]
            if config.base.pseudoLabels { metrics["pseudo_labelled_wells"] = Double(pseudoLabelledWells) }
            let scored = testTreatments.filter { all[$0].sirna != nil }
            if !scored.isEmpty {
                let truth = scored.map { all[$0] }
                metrics["accuracy"] = DeepNoiseEvaluation.accuracy(scored.map { postOf[$0]! }, truth)
                metrics["accuracy_raw"] = DeepNoiseEvaluation.accuracy(scored.map { PlatePrior.argmax(row: Array(wellRows[$0][0..<treatments])) }, truth)
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try encoder.encode(metrics), to: folder.appendingPathComponent("metrics.json"))
            let outputs = ["wells.csv", "images.csv", "metrics.json"].map { folder.appendingPathComponent($0) }
            return (outputs, ["wells": all.count, "test_wells": testTreatments.count, "images": allImages.count])
        }
        return [unit]
    }

    public static func metrics(_ config: Config, context: StageContext) -> [String: Double] {
        guard let data = FileManager.default.contents(atPath: context.folder(.predictions).appendingPathComponent("metrics.json").path),
              let m = try? JSONDecoder().decode([String: Double].self, from: data) else { return [:] }
        return m.filter { ["accuracy", "accuracy_raw"].contains($0.key) }
    }
}
