import Foundation
import MorphoCore
import NeuralNetwork

/// The network and its training for whole-image classification (Kensert et al. 2019): a ResNet (50 in the
/// paper) started from ImageNet weights when a TorchScript export is given, else from scratch, fine-tuned with
/// SGD + momentum and class-weighted cross-entropy, on tiles augmented with the 8 flips/rotations,
/// per-channel intensity scaling, blur and Gaussian noise.
public struct WholeImageModelConfig: Codable, Sendable, Equatable {
    public var depth = 50
    public var width = 64
    /// A TorchScript ResNet of the same depth and width (e.g. torchvision's ImageNet ResNet50 saved with
    /// `torch.jit.save(torch.jit.script(m), "resnet50.pt")`); its `fc` layer is replaced. Nil: from scratch.
    public var pretrained: String?
    public var epochs = 10
    public var batchSize = 32
    /// Peak learning rate of SGD, decayed by a cosine over the epochs.
    public var learningRate = 0.01
    public var momentum = 0.9
    public var weightDecay = 1e-4
    /// Weight each class by n / (k n_c) so that rare mechanisms count as much as common ones.
    public var classWeights = true
    /// Per-channel gain drawn from [1 - a, 1 + a].
    public var intensityScale = 0.2
    /// Probability of a 3x3 binomial blur.
    public var blur = 0.25
    /// Standard deviation of added Gaussian noise, as a fraction of the 8-bit range.
    public var noise = 0.02
    public var seed: UInt64 = 1

    public init() {}

    public func validate() throws {
        guard [18, 34, 50].contains(depth) else { throw MorphoError.config(key: "depth", problem: "\(depth) is not one of 18, 34, 50") }
        guard width >= 4, epochs >= 1, batchSize >= 2, learningRate > 0 else {
            throw MorphoError.config(key: "epochs", problem: "width >= 4, epochs >= 1, batch_size >= 2, learning_rate > 0")
        }
        guard (0..<1).contains(intensityScale), (0...1).contains(blur), noise >= 0 else {
            throw MorphoError.config(key: "intensity_scale", problem: "intensity_scale in 0..<1, blur in 0...1, noise >= 0")
        }
        if let p = pretrained, !FileManager.default.fileExists(atPath: p) {
            throw MorphoError.config(key: "pretrained", problem: "no TorchScript file at \(p)")
        }
    }
}

/// Trains a whole-image classifier on some tiles and predicts tile probabilities.
public struct WholeImageTrainer {
    public let config: WholeImageModelConfig
    public let classes: Int
    public var progress = true

    public init(config: WholeImageModelConfig, classes: Int) {
        self.config = config
        self.classes = classes
    }

    /// A fresh network: pretrained weights (all but the head) when configured, else seeded random ones.
    public func makeModel(channels: Int) throws -> ResNet {
        var rng = SeededGenerator(seed: config.seed)
        let model = try ResNet(ResNetConfig(depth: config.depth, inputChannels: channels, width: config.width, classes: classes), rng: &rng)
        if let path = config.pretrained {
            let script = try TorchScriptModel(contentsOf: URL(fileURLWithPath: path))
            var values = script.namedTensors.filter { !$0.key.hasPrefix("fc.") }
            for item in model.namedTensors where item.name.hasPrefix("fc.") { values[item.name] = item.tensor }
            try model.load(values, context: path)
        }
        model.channelsLast = true
        return model
    }

    /// Class weights n / (k n_c) over the classes present in `labels` (1 for absent classes).
    public static func classWeights(_ labels: [Int], classes: Int) -> [Double] {
        var counts = [Int](repeating: 0, count: classes)
        for y in labels { counts[y] += 1 }
        let present = counts.filter { $0 > 0 }.count
        return counts.map { $0 > 0 ? Double(labels.count) / Double(present * $0) : 1 }
    }

    /// Trains on tiles `indices` with class `labels` (same order); `label` names the run in progress lines.
    public func train(_ tiles: WholeImageTiles, indices: [Int], labels: [Int], label: String) throws -> ResNet {
        guard !indices.isEmpty else { throw MorphoError.data(context: label, problem: "no training tiles") }
        let model = try makeModel(channels: tiles.channels)
        let optimizer = SGD(model, learningRate: config.learningRate, momentum: config.momentum, weightDecay: config.weightDecay)
        let weights = config.classWeights ? Self.classWeights(labels, classes: classes) : [Double](repeating: 1, count: classes)
        let bs = min(config.batchSize, indices.count), steps = (indices.count + bs - 1) / bs
        let reporter = ProgressReporter("train \(label)", total: config.epochs * steps * bs, unit: "tiles", enabled: progress)
        Engine.seed(config.seed)
        for epoch in 0..<config.epochs {
            var rng = SeededGenerator(seed: config.seed, stream: "wholeimage epoch \(epoch)")
            let order = indices.indices.shuffled(using: &rng)
            optimizer.learningRate = LearningRateSchedule.cosine(epochs: config.epochs, minimum: 0).rate(base: config.learningRate, epoch: epoch)
            var lossSum = 0.0, correct = 0
            for s in 0..<steps {
                let picks = (0..<bs).map { order[(s * bs + $0) % order.count] }
                let x = try Tensor(batch(tiles, picks.map { indices[$0] }, augment: true, rng: &rng), shape: [bs, tiles.channels, tiles.size, tiles.size])
                let batchWeights = picks.map { weights[labels[$0]] }
                let mean = batchWeights.reduce(0, +) / Double(bs)
                var targets = [Float](repeating: 0, count: bs * classes)
                for (k, p) in picks.enumerated() { targets[k * classes + labels[p]] = Float(batchWeights[k] / mean) }
                let logits = try model.logits(x, training: true)
                let loss = try Loss.softCrossEntropy(logits, targets: try Tensor(targets, shape: [bs, classes]))
                try loss.backward()
                try optimizer.step()
                lossSum += try loss.item()
                correct += zip(try logits.argmax(1).indices(), picks).filter { $0.0 == labels[$0.1] }.count
                reporter.advance(by: bs)
            }
            if progress {
                FileHandle.standardError.write(Data(String(format: "train %@: epoch %d/%d loss %.3f, training accuracy %.3f\n", label, epoch + 1, config.epochs,
                                                           lossSum / Double(steps), Double(correct) / Double(steps * bs)).utf8))
            }
        }
        reporter.finish()
        return model
    }

    /// Softmax probabilities of tiles `indices`, one row each.
    public func probabilities(_ model: ResNet, _ tiles: WholeImageTiles, indices: [Int]) throws -> [[Double]] {
        try model.prepareForInference(channelsLast: true)
        var rows = [[Double]]()
        var rng = SeededGenerator(seed: 0)
        for start in stride(from: 0, to: indices.count, by: 64) {
            let chunk = Array(indices[start..<min(indices.count, start + 64)])
            let x = try Tensor(batch(tiles, chunk, augment: false, rng: &rng), shape: [chunk.count, tiles.channels, tiles.size, tiles.size])
            let p = try Tensor.withoutGradients { try model.logits(x, training: false).softmax(1) }.doubles()
            for k in chunk.indices { rows.append(Array(p[(k * classes)..<((k + 1) * classes)])) }
        }
        return rows
    }

    /// Network inputs for `picks`: bytes / 255, optionally augmented, then standardized with ImageNet's
    /// overall statistics ((x - 0.45) / 0.225). [N, C, S, S].
    public func batch(_ tiles: WholeImageTiles, _ picks: [Int], augment: Bool, rng: inout SeededGenerator) -> [Float] {
        let c = tiles.channels, n = tiles.size, plane = n * n, per = c * plane
        var out = [Float](repeating: 0, count: picks.count * per)
        var source = [Int](repeating: 0, count: plane), scratch = [Float](repeating: 0, count: plane)
        out.withUnsafeMutableBufferPointer { o in
            tiles.pixels.withUnsafeBufferPointer { px in
                for (k, i) in picks.enumerated() {
                    dihedralSource(&source, n: n, transform: augment ? Int(rng.next() % 8) : 0)
                    let blur = augment && rng.uniform() < config.blur
                    for ch in 0..<c {
                        let gain = Float(augment ? rng.uniform(1 - config.intensityScale, 1 + config.intensityScale) : 1) / 255
                        let base = i * per + ch * plane, dst = o.baseAddress! + k * per + ch * plane
                        for p in 0..<plane { dst[p] = Float(px[base + source[p]]) * gain }
                        if blur { Self.binomialBlur(dst, n: n, scratch: &scratch) }
                        for p in 0..<plane {
                            let noisy = augment && config.noise > 0 ? dst[p] + Float(rng.normal() * config.noise) : dst[p]
                            dst[p] = (noisy - 0.45) / 0.225
                        }
                    }
                }
            }
        }
        return out
    }

    /// In-place separable [1 2 1] / 4 blur of an n x n plane, edges replicated.
    static func binomialBlur(_ p: UnsafeMutablePointer<Float>, n: Int, scratch: inout [Float]) {
        scratch.withUnsafeMutableBufferPointer { s in
            for y in 0..<n {
                let row = y * n
                for x in 0..<n { s[row + x] = (p[row + max(0, x - 1)] + 2 * p[row + x] + p[row + min(n - 1, x + 1)]) / 4 }
            }
            for y in 0..<n {
                let up = max(0, y - 1) * n, down = min(n - 1, y + 1) * n, row = y * n
                for x in 0..<n { p[row + x] = (s[up + x] + 2 * s[row + x] + s[down + x]) / 4 }
            }
        }
    }
}
