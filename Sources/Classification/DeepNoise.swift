import Foundation
import MorphoCore
import MorphoIO
import NeuralNetwork

/// The DeepNoise classifier (Yang et al., 2nd of 866 on RxRx1): per-plate input normalization, an
/// Xception-style CNN, ArcFace, a mean teacher trained with the unlabelled test images, a two-model
/// ensemble and plate-prior post-processing. Every part can be switched off for the ablation.
public struct DeepNoiseConfig: Codable, Sendable, Equatable {
    public var normalization = RxRx1Images.Normalization.plate
    /// Mean and std jittered by up to this fraction during training.
    public var jitter = 0.1
    /// `softmax` or `arcface` (s cos(theta + m) for the target class).
    public var loss = "arcface"
    public var arcfaceScale = 30.0
    public var arcfaceMargin = 0.1
    public var meanTeacher = true
    public var emaDecay = 0.99
    /// Weight of the consistency loss after the sigmoid ramp-up exp(-5 (1 - t)^2) over `rampupEpochs`.
    public var consistencyWeight = 10.0
    public var rampupEpochs = 5
    /// Train the wide model too and average both (DeepNoise's ensemble).
    public var ensemble = true
    public var width = 16
    public var wideWidth = 24
    public var epochs = 30
    public var batchSize = 32
    public var learningRate = 0.002
    public var weightDecay = 1e-4
    public var erasing = 0.5
    public var scale = 0.1
    /// `xception` (DeepNoise's) or a ResNet of the engine: `resnet18`, `resnet34`, `resnet50`
    /// (`width` and `wide_width` set their stem channels).
    public var backbone = "xception"
    /// Pseudo labels (DeepNoise): after the ensemble, each held-out treatment well takes the ensemble's
    /// post-processed prediction as its label, and every member is fine-tuned for `pseudoLabelEpochs`
    /// with a softmax loss on those images (weight `pseudoLabelWeight`) beside its own loss on the
    /// labelled ones; wells whose averaged probability of their label is below
    /// `pseudoLabelMinProbability` are left unlabelled.
    public var pseudoLabels = false
    public var pseudoLabelEpochs = 10
    public var pseudoLabelLearningRate = 0.0005
    public var pseudoLabelWeight = 1.0
    public var pseudoLabelMinProbability = 0.0
    /// `none`, `rebalance` (DeepNoise's iterative coefficients), `assign` (Hungarian per plate) or
    /// `group-assign` (infer each plate's group, then assign within it).
    public var postprocess = "group-assign"
    public var seed: UInt64 = 1

    public init() {}

    public func validate() throws {
        guard ["softmax", "arcface"].contains(loss) else { throw MorphoError.config(key: "loss", problem: "'\(loss)' is not softmax or arcface") }
        guard ["none", "rebalance", "assign", "group-assign"].contains(postprocess) else {
            throw MorphoError.config(key: "postprocess", problem: "'\(postprocess)' is not none, rebalance, assign or group-assign")
        }
        guard epochs >= 1, batchSize >= 2, width >= 4, wideWidth >= 4 else { throw MorphoError.config(key: "epochs", problem: "epochs >= 1, batch_size >= 2, widths >= 4") }
        guard DeepNoiseNetwork.backbones.contains(backbone) else {
            throw MorphoError.config(key: "backbone", problem: "'\(backbone)' is not one of \(DeepNoiseNetwork.backbones.joined(separator: ", "))")
        }
        guard pseudoLabelEpochs >= 1, pseudoLabelLearningRate > 0, pseudoLabelWeight >= 0, (0...1).contains(pseudoLabelMinProbability) else {
            throw MorphoError.config(key: "pseudo_label_epochs", problem: "pseudo_label_epochs >= 1, pseudo_label_learning_rate > 0, pseudo_label_weight >= 0, pseudo_label_min_probability in 0...1")
        }
    }
}

/// Trains DeepNoise models and predicts well probabilities.
public struct DeepNoiseTrainer {
    public let config: DeepNoiseConfig
    /// Classes the network learns: treatments, positive controls and the untreated well.
    public let classes: Int
    public var progress = true
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }

    public init(config: DeepNoiseConfig, classes: Int) {
        self.config = config
        self.classes = classes
    }

    public struct Trained {
        /// The network used for prediction: the teacher with a mean teacher, else the student (nil when
        /// only the record of a finished training was read back).
        public var model: DeepNoiseNetwork? { teacher ?? student }
        public let student: DeepNoiseNetwork?
        public let teacher: DeepNoiseNetwork?
        public let seconds: Double
        public let imagesPerSecond: Double
        public init(student: DeepNoiseNetwork?, teacher: DeepNoiseNetwork?, seconds: Double, imagesPerSecond: Double) {
            self.student = student
            self.teacher = teacher
            self.seconds = seconds
            self.imagesPerSecond = imagesPerSecond
        }
    }

    /// What a checkpoint records besides the weights: which training it belongs to and how far it got.
    struct CheckpointState: Codable, Equatable {
        /// The configuration, width, seed, class count and training images the run was started with.
        var key: String
        var epochsDone: Int
        var seen: Int
        var seconds: Double
    }

    /// Test hook: throws after the checkpoint of this epoch (1-based) is written, as a crash would.
    var interruptAfterEpoch: Int?

    /// Trains one model of `width` on the labelled images (`labelled`, indices into `data`); with a mean
    /// teacher the unlabelled images (`unlabelled`) enter the consistency loss.
    /// With `pseudo` (image index -> class, from `pseudoLabels`) those images join the labelled ones
    /// with a softmax loss of weight `pseudoLabelWeight`; with `startingFrom` the student and teacher
    /// start from a trained model and train for `pseudoLabelEpochs` at `pseudoLabelLearningRate` (the
    /// fine-tuning round of pseudo labelling), else from scratch for `epochs`.
    /// With `checkpoint`, the student, teacher and optimizer are written there (atomically) after every
    /// epoch, and a run that finds a checkpoint of the same training continues after its last epoch:
    /// every epoch draws its batches from its own seeded stream, so the result is that of an
    /// uninterrupted run. A checkpoint of another training (configuration, width, seed, classes,
    /// images or pseudo labels changed) is replaced.
    public func train(_ data: RxRx1Images, labelled: [Int], unlabelled: [Int], width: Int, seed: UInt64,
                      checkpoint: URL? = nil, pseudo: [Int: Int] = [:], startingFrom: Trained? = nil) throws -> Trained {
        func network() throws -> DeepNoiseNetwork {
            try DeepNoiseNetwork(backbone: config.backbone, inputChannels: data.channels, width: width, classes: classes,
                                 cosineHead: config.loss == "arcface", seed: seed)
        }
        let student = try network()
        let teacher: DeepNoiseNetwork? = config.meanTeacher ? try network() : nil
        if let from = startingFrom?.student {
            try student.load(Dictionary(uniqueKeysWithValues: from.namedTensors.map { ($0.name, $0.tensor) }), context: "pseudo-label round")
        }
        try teacher?.updateAsTeacher(of: startingFrom?.teacher ?? student, decay: 0)
        let fineTuning = startingFrom != nil
        let epochs = fineTuning ? config.pseudoLabelEpochs : config.epochs
        let baseRate = fineTuning ? config.pseudoLabelLearningRate : config.learningRate
        let optimizer = Adam(student, learningRate: baseRate, weightDecay: config.weightDecay, decoupled: true)
        // The pool of labelled images: the real ones, then the pseudo-labelled ones (sorted).
        let pseudoImages = pseudo.keys.sorted()
        let pool = labelled + pseudoImages
        let labels = labelled.map { data.wells[data.imageWell[$0]].sirna! } + pseudoImages.map { pseudo[$0]! }
        let n = data.size
        let weak = RxRx1Images.Augmentation(dihedral: true, scale: config.scale, erasing: 0, jitter: config.jitter)
        let strong = RxRx1Images.Augmentation(dihedral: true, scale: config.scale, erasing: config.erasing, jitter: config.jitter)
        let bs = config.batchSize, ubs = teacher != nil && !unlabelled.isEmpty ? bs / 2 : 0
        let steps = max(1, pool.count / bs)
        var start = Date()
        var seen = 0, firstEpoch = 0
        Engine.seed(seed)
        let key = try String(decoding: JSONEncoder.sorted.encode(config), as: UTF8.self)
            + " width \(width) seed \(seed) classes \(classes) images \(labelled.count)+\(unlabelled.count) hash \(Self.digest(labelled + [-1] + unlabelled))"
            + (pseudo.isEmpty ? "" : " pseudo \(Self.digest(pseudoImages.flatMap { [$0, pseudo[$0]!] }))") + (fineTuning ? " fine-tuned" : "")
        let name = "deepnoise w\(width)\(fineTuning ? " pseudo-label round" : "")"
        if let checkpoint, let json = Checkpoint.trainingState(checkpoint),
           let state = try? JSONDecoder().decode(CheckpointState.self, from: Data(json.utf8)), state.key == key {
            let file = try HDF5File(opening: checkpoint)
            defer { file.close() }
            try student.load(try Checkpoint.readGroup("student", from: file), context: checkpoint.path)
            try teacher?.load(try Checkpoint.readGroup("teacher", from: file), context: checkpoint.path)
            try optimizer.loadState(try Checkpoint.readGroup("optimizer", from: file))
            firstEpoch = state.epochsDone; seen = state.seen
            start = Date(timeIntervalSinceNow: -state.seconds)
            if progress { log("\(name): resuming after epoch \(firstEpoch) of \(epochs) from \(checkpoint.path)") }
        }
        for epoch in firstEpoch..<epochs {
            var rng = SeededGenerator(seed: seed, stream: "deepnoise epoch \(epoch)")
            let order = pool.indices.shuffled(using: &rng)
            optimizer.learningRate = LearningRateSchedule.cosine(epochs: epochs, minimum: 0).rate(base: baseRate, epoch: epoch)
            let reporter = ProgressReporter("\(name) epoch \(epoch + 1)/\(epochs)", total: steps * bs, unit: "images", enabled: progress)
            var lossSum = 0.0
            for s in 0..<steps {
                // Real labels first, then pseudo labels, then the unlabelled images of the consistency loss.
                let picks = (0..<bs).map { order[(s * bs + $0) % order.count] }.sorted()
                let real = picks.prefix { $0 < labelled.count }.count
                let extra = (0..<ubs).map { _ in unlabelled[Int(rng.next() % UInt64(unlabelled.count))] }
                let images = picks.map { pool[$0] } + extra
                let shape = [images.count, data.channels, n, n]
                let x = try Tensor(data.batch(images, weak, rng: &rng), shape: shape)
                let out = try student(x, training: true)
                // Per-image losses summed and divided by the batch: real labels with the configured loss,
                // pseudo labels with softmax at `pseudoLabelWeight`.
                var loss: Tensor?
                func add(_ term: Tensor, _ weight: Double) throws {
                    let t = weight == 1 ? term : try term * weight
                    loss = try loss.map { try $0 + t } ?? t
                }
                if real > 0 {
                    let y = try Tensor(indices: picks[..<real].map { labels[$0] })
                    let o = try out.narrowed(0, 0, real)
                    try add(config.loss == "arcface"
                        ? try Loss.crossEntropy(try Loss.arcFaceLogits(o, labels: y, scale: config.arcfaceScale, margin: config.arcfaceMargin), labels: y)
                        : try Loss.crossEntropy(o, labels: y), Double(real) / Double(bs))
                }
                if real < bs {
                    let y = try Tensor(indices: picks[real...].map { labels[$0] })
                    try add(try Loss.crossEntropy(try logits(try out.narrowed(0, real, bs - real)), labels: y),
                            config.pseudoLabelWeight * Double(bs - real) / Double(bs))
                }
                if let teacher {
                    let xt = try Tensor(data.batch(images, strong, rng: &rng), shape: shape)
                    let target = try Tensor.withoutGradients { try logits(try teacher(xt, training: false)) }
                    let progressFraction = fineTuning ? 1 : min(1, (Double(epoch) + Double(s) / Double(steps)) / Double(max(1, config.rampupEpochs)))
                    let weight = config.consistencyWeight * Foundation.exp(-5 * (1 - progressFraction) * (1 - progressFraction))
                    try add(try Loss.softmaxMSE(try logits(out), target.detached()), weight)
                }
                guard let loss else { continue }
                try loss.backward()
                try optimizer.step()
                // A fine-tuned teacher keeps its full decay; a new one starts as a short average.
                let decay = fineTuning ? config.emaDecay : min(config.emaDecay, 1 - 1 / Double(optimizer.steps + 1))
                try teacher?.updateAsTeacher(of: student, decay: decay)
                lossSum += try loss.item()
                seen += images.count
                reporter.advance(by: bs)
            }
            reporter.finish()
            if progress { log(String(format: "%@ epoch %d: loss %.4f", name, epoch + 1, lossSum / Double(steps))) }
            if let checkpoint {
                let state = CheckpointState(key: key, epochsDone: epoch + 1, seen: seen, seconds: Date().timeIntervalSince(start))
                try FileManager.default.createDirectory(at: checkpoint.deletingLastPathComponent(), withIntermediateDirectories: true)
                try HDF5File.writeAtomically(to: checkpoint) { file in
                    try Checkpoint.writeGroup("student", student.namedTensors.map { ($0.name, $0.tensor) }, to: file)
                    try Checkpoint.writeGroup("teacher", teacher?.namedTensors.map { ($0.name, $0.tensor) } ?? [], to: file)
                    try Checkpoint.writeGroup("optimizer", optimizer.state.map { ($0.key, $0.value) }, to: file)
                    try file.setAttribute("training_state", String(decoding: try JSONEncoder.sorted.encode(state), as: UTF8.self))
                }
            }
            if interruptAfterEpoch == epoch + 1 {
                throw MorphoError.data(context: name, problem: "interrupted after epoch \(epoch + 1) (test)")
            }
        }
        let seconds = Date().timeIntervalSince(start)
        return Trained(student: student, teacher: teacher, seconds: seconds, imagesPerSecond: Double(seen) / max(seconds, 1e-9))
    }

    /// FNV-1a over the image indices: two runs on the same images get the same checkpoint key.
    static func digest(_ values: [Int]) -> UInt64 {
        values.reduce(0xcbf2_9ce4_8422_2325 as UInt64) { ($0 ^ UInt64(bitPattern: Int64($1))) &* 0x100_0000_01b3 }
    }

    /// What the softmax sees: the scaled cosines with ArcFace, else the logits as they are.
    func logits(_ out: Tensor) throws -> Tensor {
        config.loss == "arcface" ? try out * config.arcfaceScale : out
    }

    /// Class probabilities of each image (rows follow `images`): the softmax of the logits, or of the
    /// scaled cosines with ArcFace.
    public func predictImages(_ model: DeepNoiseNetwork, _ data: RxRx1Images, images: [Int]) throws -> [[Double]] {
        var rows = [[Double]]()
        rows.reserveCapacity(images.count)
        var rng = SeededGenerator(seed: 0)
        for startIndex in stride(from: 0, to: images.count, by: 128) {
            let part = Array(images[startIndex..<min(images.count, startIndex + 128)])
            let x = try Tensor(data.batch(part, .none, rng: &rng), shape: [part.count, data.channels, data.size, data.size])
            let p = try Tensor.withoutGradients { try logits(try model(x, training: false)).softmax(1).floats() }
            for k in part.indices { rows.append((0..<classes).map { Double(p[k * classes + $0]) }) }
        }
        return rows
    }

    /// Class probabilities per well (rows follow `wells`, indices into `data.wells`): the mean of its
    /// images' probabilities.
    public func predict(_ model: DeepNoiseNetwork, _ data: RxRx1Images, wells: [Int]) throws -> [[Double]] {
        let images = data.images(ofWells: wells)
        return DeepNoiseEvaluation.wellMeans(try predictImages(model, data, images: images), images: images, data: data, wells: wells)
    }
}

/// Predictions for the treatment wells of held-out plates, with and without the plate prior.
public enum DeepNoiseEvaluation {
    /// Means of image rows per well, in the order of `wells`.
    public static func wellMeans(_ rows: [[Double]], images: [Int], data: RxRx1Images, wells: [Int]) -> [[Double]] {
        let zero = [Double](repeating: 0, count: rows.first?.count ?? 0)
        var sums = [Int: [Double]](), counts = [Int: Int]()
        for (row, i) in zip(rows, images) {
            let w = data.imageWell[i]
            sums[w, default: zero] = zip(sums[w, default: zero], row).map(+)
            counts[w, default: 0] += 1
        }
        return wells.map { w in sums[w, default: zero].map { $0 / Double(max(1, counts[w, default: 0])) } }
    }

    /// Restricts well probabilities to the treatment classes (0..<treatments) and renormalizes.
    public static func treatmentProbabilities(_ p: [[Double]], treatments: Int) -> [[Double]] {
        p.map { row in
            let s = row[0..<treatments].reduce(0, +)
            return row[0..<treatments].map { $0 / max(s, 1e-30) }
        }
    }

    /// Predicted class per well (rows of `probabilities` follow `wells`), post-processed per plate.
    public static func predict(_ probabilities: [[Double]], wells: [RxRx1Well], groups: [[Int]], method: String) -> [Int] {
        var predictions = PlatePrior.argmax(probabilities)
        guard method != "none" else { return predictions }
        let plates = Dictionary(grouping: wells.indices) { "\(wells[$0].experiment)/\(wells[$0].plate)" }
        for (_, rows) in plates {
            let p = rows.map { probabilities[$0] }
            let result: [Int]
            switch method {
            case "rebalance": result = PlatePrior.rebalance(p)
            case "assign": result = PlatePrior.assign(p)
            default:
                let g = PlatePrior.inferGroup(p, groups: groups)
                result = rows.count <= groups[g].count ? PlatePrior.assign(p, allowed: groups[g]) : PlatePrior.argmax(p)
            }
            for (k, r) in rows.enumerated() { predictions[r] = result[k] }
        }
        return predictions
    }

    /// Pseudo labels (DeepNoise): every image of the given unlabelled treatment wells (`wells`, indices
    /// into `data.wells`; rows of `probabilities` follow them, restricted to the treatment classes) takes
    /// its well's post-processed prediction, unless the well's probability of that class is below
    /// `minProbability`. Returns image index -> class.
    public static func pseudoLabels(_ probabilities: [[Double]], wells: [Int], data: RxRx1Images, groups: [[Int]], method: String,
                                    minProbability: Double) -> [Int: Int] {
        let predictions = predict(probabilities, wells: wells.map { data.wells[$0] }, groups: groups, method: method)
        var classOf = [Int: Int]()
        for (k, w) in wells.enumerated() where probabilities[k][predictions[k]] >= minProbability { classOf[w] = predictions[k] }
        var labels = [Int: Int]()
        for image in data.images(ofWells: Array(classOf.keys)) { labels[image] = classOf[data.imageWell[image]] }
        return labels
    }

    public static func accuracy(_ predictions: [Int], _ wells: [RxRx1Well]) -> Double {
        let right = zip(predictions, wells).filter { $0 == $1.sirna }.count
        return Double(right) / Double(max(1, wells.count))
    }
}
