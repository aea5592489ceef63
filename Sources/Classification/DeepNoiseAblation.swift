import Foundation
import MorphoCore
import MorphoIO

/// The two tables of the DeepNoise paper on one screen with held-out experiments: normalization per cell
/// type / experiment / plate with a softmax baseline, then baseline -> +ArcFace -> +mean teacher ->
/// +ensemble -> +post-processing. Accuracy is over the treatment wells of the held-out experiments.
public struct DeepNoiseAblation {
    public struct Row: Codable, Sendable {
        public var table: Int
        public var name: String
        public var accuracy: Double
        public var trainSeconds: Double
        public var imagesPerSecond: Double
    }

    public let data: RxRx1Images
    public let base: DeepNoiseConfig
    public let groups: [[Int]]
    public let treatments: Int
    public let classes: Int
    public var progress = true
    /// Where each trained arm's well probabilities (`<arm>.json`) and weights (`<arm>.h5`, written after
    /// every epoch) are kept, so a rerun (or a run killed midway) trains only what is missing.
    public var cacheFolder: URL?
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }

    /// `data` holds every well (train and held-out); labels of held-out wells are used only for scoring.
    public init(data: RxRx1Images, base: DeepNoiseConfig, treatments: Int, groups: [[Int]]) {
        self.data = data
        self.base = base
        self.treatments = treatments
        self.groups = groups
        classes = (data.wells.compactMap(\.sirna).max() ?? 0) + 1
    }

    public func run() throws -> [Row] {
        let trainImages = (0..<data.count).filter { !data.wells[data.imageWell[$0]].test }
        let testImages = (0..<data.count).filter { data.wells[data.imageWell[$0]].test }
        let testWells = data.wells.indices.filter { data.wells[$0].test && data.wells[$0].kind == .treatment }
        let scored = testWells.map { data.wells[$0] }
        var rows = [Row]()
        struct Arm: Codable { var probabilities: [[Double]]; var seconds: Double; var imagesPerSecond: Double; var key: String }
        var cache = [String: ([[Double]], DeepNoiseTrainer.Trained)]()
        var normalized = [RxRx1Images.Normalization: RxRx1Images]()  // the pixels are shared, only the statistics differ

        func armName(_ c: DeepNoiseConfig, width: Int) -> String {
            "\(c.normalization.rawValue)-\(c.loss)\(c.meanTeacher ? "-teacher" : "")-w\(width)" + (c.backbone == "xception" ? "" : "-\(c.backbone)")
        }
        func setUp(_ c: DeepNoiseConfig) -> (DeepNoiseTrainer, RxRx1Images) {
            let d = normalized[c.normalization] ?? {
                var d = data
                d.normalize(c.normalization)
                return d
            }()
            normalized[c.normalization] = d
            var trainer = DeepNoiseTrainer(config: c, classes: classes)
            trainer.progress = progress
            trainer.log = log
            return (trainer, d)
        }
        func probabilities(_ c: DeepNoiseConfig, width: Int) throws -> ([[Double]], DeepNoiseTrainer.Trained) {
            let name = armName(c, width: width)
            if let hit = cache[name] { return hit }
            // The file is current only for the same config, screen (wells) and Morpho version.
            var keyed = c
            keyed.width = width
            let key = ContentHash.of(try JSONEncoder.sorted.encode(keyed) + Data("\(data.wells.map(\.idCode)) \(data.size) \(MorphoVersion.current)".utf8))
            let file = cacheFolder?.appendingPathComponent(name + ".json")
            if let file, let saved = try? JSONDecoder().decode(Arm.self, from: Data(contentsOf: file)), saved.key == key {
                log("ablation: \(name) already trained (\(file.path))")
                let hit = (saved.probabilities, DeepNoiseTrainer.Trained(student: nil, teacher: nil, seconds: saved.seconds, imagesPerSecond: saved.imagesPerSecond))
                cache[name] = hit
                return hit
            }
            let (trainer, d) = setUp(c)
            let trained = try trainer.train(d, labelled: trainImages, unlabelled: c.meanTeacher ? testImages : [], width: width, seed: c.seed,
                                            checkpoint: cacheFolder?.appendingPathComponent(name + ".h5"))
            let p = DeepNoiseEvaluation.treatmentProbabilities(try trainer.predict(trained.model!, d, wells: testWells), treatments: treatments)
            if let file {
                try AtomicFile.write(try JSONEncoder.sorted.encode(Arm(probabilities: p, seconds: trained.seconds, imagesPerSecond: trained.imagesPerSecond, key: key)), to: file)
            }
            cache[name] = (p, trained)
            return (p, trained)
        }
        func add(_ table: Int, _ name: String, _ p: [[Double]], _ t: [DeepNoiseTrainer.Trained], post: String = "none") {
            let acc = DeepNoiseEvaluation.accuracy(DeepNoiseEvaluation.predict(p, wells: scored, groups: groups, method: post), scored)
            let row = Row(table: table, name: name, accuracy: acc, trainSeconds: t.reduce(0) { $0 + $1.seconds },
                          imagesPerSecond: t.map(\.imagesPerSecond).reduce(0, +) / Double(max(1, t.count)))
            rows.append(row)
            log(String(format: "ablation table %d: %@: %.1f%%", table, name, 100 * acc))
        }

        var softmax = base
        softmax.loss = "softmax"; softmax.meanTeacher = false
        for mode in RxRx1Images.Normalization.allCases {
            var c = softmax
            c.normalization = mode
            let (p, t) = try probabilities(c, width: base.width)
            add(1, "softmax, normalized per \(mode.rawValue)", p, [t])
        }
        softmax.normalization = .plate
        let (p0, t0) = try probabilities(softmax, width: base.width)
        add(2, "baseline (plate normalization, softmax)", p0, [t0])
        var arc = softmax
        arc.loss = "arcface"
        let (p1, t1) = try probabilities(arc, width: base.width)
        add(2, "+ ArcFace", p1, [t1])
        var teacher = arc
        teacher.meanTeacher = true
        let (p2, t2) = try probabilities(teacher, width: base.width)
        add(2, "+ mean teacher", p2, [t2])
        let (pw, tw) = try probabilities(teacher, width: base.wideWidth)
        /// The ensemble: the two members' well probabilities averaged.
        func mean(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] { zip(a, b).map { x, y in zip(x, y).map { ($0 + $1) / 2 } } }
        let averaged = mean(p2, pw)
        add(2, "+ ensemble (normal + wide)", averaged, [t2, tw])
        add(2, "+ post-processing (plate group, assignment)", averaged, [t2, tw], post: "group-assign")
        add(3, "ensemble + rebalancing (DeepNoise)", averaged, [t2, tw], post: "rebalance")
        add(3, "ensemble + assignment over all classes", averaged, [t2, tw], post: "assign")

        // Pseudo labels: the post-processed ensemble labels the held-out treatment wells, and each member
        // is fine-tuned with them (from its checkpoint when the arm was read back).
        let (trainer, d) = setUp(teacher)
        let pseudo = DeepNoiseEvaluation.pseudoLabels(averaged, wells: testWells, data: d, groups: groups, method: "group-assign",
                                                      minProbability: base.pseudoLabelMinProbability)
        var tuned = [[[Double]]](), tunedTimes = [DeepNoiseTrainer.Trained]()
        for (width, trained) in [(base.width, t2), (base.wideWidth, tw)] {
            let name = armName(teacher, width: width)
            // An arm read back from its probabilities has no weights in memory: its checkpoint has them.
            let first = trained.model != nil ? trained : try trainer.train(d, labelled: trainImages, unlabelled: testImages, width: width, seed: teacher.seed,
                                                                           checkpoint: cacheFolder?.appendingPathComponent(name + ".h5"))
            let t = try trainer.train(d, labelled: trainImages, unlabelled: testImages, width: width, seed: teacher.seed,
                                      checkpoint: cacheFolder?.appendingPathComponent(name + "-pseudo.h5"), pseudo: pseudo, startingFrom: first)
            tuned.append(DeepNoiseEvaluation.treatmentProbabilities(try trainer.predict(t.model!, d, wells: testWells), treatments: treatments))
            tunedTimes += [first, t]
        }
        let tunedAverage = mean(tuned[0], tuned[1])
        add(3, "+ pseudo labels (raw)", tunedAverage, tunedTimes)
        add(3, "+ pseudo labels, post-processed", tunedAverage, tunedTimes, post: "group-assign")
        return rows
    }

    /// The tables as Markdown, with the paper's numbers beside ours. With several runs (one per model
    /// seed, rows in the same order) the accuracy is their mean, with the standard deviation and the range.
    public static func markdown(_ runs: [[Row]]) -> String {
        let paper1 = ["51.5", "62.9", "74.6"], paper2 = ["74.6", "85.5", "90.1", "95.5", "99.6"]
        let several = runs.count > 1
        var out = several
            ? "| table | setting | accuracy, mean ± sd over \(runs.count) seeds | range | paper | train s | images/s |\n|---|---|---|---|---|---|---|\n"
            : "| table | setting | accuracy | paper | train s | images/s |\n|---|---|---|---|---|---|\n"
        var i1 = 0, i2 = 0
        for (k, r) in (runs.first ?? []).enumerated() {
            var paper = ""
            if r.table == 1, i1 < paper1.count { paper = paper1[i1]; i1 += 1 }
            if r.table == 2, i2 < paper2.count { paper = paper2[i2]; i2 += 1 }
            let values = runs.map { 100 * $0[k].accuracy }
            let mean = values.reduce(0, +) / Double(values.count)
            let seconds = runs.map { $0[k].trainSeconds }.reduce(0, +) / Double(runs.count)
            let rate = runs.map { $0[k].imagesPerSecond }.reduce(0, +) / Double(runs.count)
            if several {
                let sd = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1)).squareRoot()
                out += String(format: "| %d | %@ | %.1f ± %.1f%% | %.1f-%.1f | %@ | %.0f | %.0f |\n", r.table, r.name, mean, sd,
                              values.min()!, values.max()!, paper, seconds, rate)
            } else {
                out += String(format: "| %d | %@ | %.1f%% | %@ | %.0f | %.0f |\n", r.table, r.name, mean, paper, seconds, rate)
            }
        }
        return out
    }
}
