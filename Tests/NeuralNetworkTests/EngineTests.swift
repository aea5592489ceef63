import Foundation
import MorphoCore
import MorphoIO
import MorphoTestSupport
import NeuralNetwork
import Profiling
import Testing

@Suite("Tensor") struct TensorTests {
    @Test func valuesRoundTripAndArithmeticBroadcasts() throws {
        let x = try Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        #expect(x.shape == [2, 3])
        #expect(try x.floats() == [1, 2, 3, 4, 5, 6])
        let row = try Tensor([10, 20, 30], shape: [3])
        #expect(try (x + row).floats() == [11, 22, 33, 14, 25, 36])
        #expect(try (x * 2).floats() == [2, 4, 6, 8, 10, 12])
        #expect(try x.sum([1]).floats() == [6, 15])
        #expect(try x.mean().item() == 3.5)
        #expect(try x.argmax(1).indices() == [2, 2])
        #expect(try x.transposed().floats() == [1, 4, 2, 5, 3, 6])
        #expect(try x.narrowed(1, 1, 2).floats() == [2, 3, 5, 6])
        #expect(try x.indexSelect(0, [1, 0, 1]).floats() == [4, 5, 6, 1, 2, 3, 4, 5, 6])
        #expect(try Tensor.cat([x, x], dim: 0).shape == [4, 3])
        #expect(try x.variance([1]).floats().map { ($0 * 1000).rounded() / 1000 } == [0.667, 0.667])
    }

    @Test func imageOperationsMatchTheirDefinitions() throws {
        // 1 x 1 x 2 x 3 image [[1 2 3] [4 5 6]]
        let img = try Tensor([1, 2, 3, 4, 5, 6], shape: [1, 1, 2, 3])
        #expect(try img.flipped([3]).floats() == [3, 2, 1, 6, 5, 4])
        #expect(try img.rotated90(1, dims: (2, 3)).floats() == [3, 6, 2, 5, 1, 4])
        #expect(try img.rolled([1], dims: [3]).floats() == [3, 1, 2, 6, 4, 5])
        #expect(try img.padded(left: 1, right: 0, top: 0, bottom: 1).floats() == [0, 1, 2, 3, 0, 4, 5, 6, 0, 0, 0, 0])
        let cl = try Tensor.rand([2, 3, 4, 4]).contiguous(channelsLast: true)
        #expect(cl.isChannelsLast && cl.shape == [2, 3, 4, 4])
    }

    @Test func refusedOperationsAreErrorsNotCrashes() throws {
        let a = try Tensor.zeros([2, 3]), b = try Tensor.zeros([4, 5])
        #expect { _ = try a + b } throws: { "\($0)".contains("add") && "\($0)".contains("[2, 3]") }
        #expect { _ = try a.matmul(b) } throws: { "\($0)".contains("matmul") }
        #expect { _ = try Tensor([1, 2, 3], shape: [2, 2]) } throws: { "\($0)".contains("4 elements but 3") }
        #expect { _ = try a.reshaped([7]) } throws: { "\($0)".contains("reshape") }
        #expect { _ = try a.item() } throws: { "\($0)".contains("6 elements") }
    }

    @Test func gradientModeAndSeedsAreControlled() throws {
        let w = try Tensor([1, 2], shape: [2])
        w.requiresGradient = true
        try (w * w).sum().backward()
        #expect(try w.gradient?.floats() == [2, 4])
        w.zeroGradient()
        #expect(w.gradient == nil)
        Tensor.withoutGradients { #expect(!Tensor.gradientsEnabled) }
        #expect(Tensor.gradientsEnabled)
        Engine.seed(5)
        let r1 = try Tensor.randn([8]).floats()
        Engine.seed(5)
        #expect(try Tensor.randn([8]).floats() == r1)
        try Engine.setThreads(2)
        #expect(Engine.threads == 2)
    }

    /// The engine keeps OpenBLAS on one thread beside its OpenMP pool (other tests may change the
    /// count between two reads, so only the values inside `onAllCores`, which holds a lock, are certain).
    @Test func blasThreadsFollowTheirUser() throws {
        try Engine.setThreads(2)
        let value = LinearAlgebra.onAllCores { LinearAlgebra.blasThreads }
        #expect(value == ProcessInfo.processInfo.activeProcessorCount)
    }

    /// A trace names the operators that ran, as a Chrome trace (a JSON array of complete events), and
    /// the next trace can start once it is written.
    @Test func traceRecordsTheOperators() throws {
        let dir = TestPaths.temporaryDirectory("engine-trace")
        for k in 1...2 {
            let url = dir.appendingPathComponent("trace\(k).json")
            let product = try Engine.tracing(to: url.path) { try Tensor.randn([4, 3]).matmul(try Tensor.randn([3, 2])) }
            #expect(product.shape == [4, 2])
            let events = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [[String: Any]])
            let names = Set(events.compactMap { $0["name"] as? String })
            #expect(names.contains("aten::matmul") && names.contains("aten::randn"), "\(names)")
            #expect(events.allSatisfy { $0["ph"] as? String == "X" && $0["dur"] is Double })
        }
    }
}

/// Central finite differences in float64 against autograd: `(f(x + h e_i) - f(x - h e_i)) / 2h`.
func gradientCheck(_ shape: [Int], seed: UInt64, _ f: (Tensor) throws -> Tensor) throws -> Double {
    var rng = SeededGenerator(seed: seed)
    let values = (0..<shape.reduce(1, *)).map { _ in rng.normal() }
    let x = try Tensor(doubles: values, shape: shape)
    x.requiresGradient = true
    try f(x).backward()
    let analytic = try #require(x.gradient).doubles()
    let h = 1e-6
    var worst = 0.0
    for i in values.indices {
        var plus = values, minus = values
        plus[i] += h
        minus[i] -= h
        let numeric = (try f(try Tensor(doubles: plus, shape: shape)).item() - f(try Tensor(doubles: minus, shape: shape)).item()) / (2 * h)
        worst = max(worst, abs(numeric - analytic[i]) / max(1, abs(numeric)))
    }
    return worst
}

@Suite("Losses: gradients against finite differences") struct LossGradientTests {
    let labels = try! Tensor(indices: [2, 0, 1])

    @Test func crossEntropyWithLabelsAndSoftTargets() throws {
        #expect(try gradientCheck([3, 4], seed: 1) { try Loss.crossEntropy($0, labels: labels) } < 1e-6)
        let targets = try Tensor(doubles: [0.7, 0.3, 0, 0, 0, 0.5, 0.5, 0, 0.25, 0.25, 0.25, 0.25], shape: [3, 4])
        #expect(try gradientCheck([3, 4], seed: 2) { try Loss.softCrossEntropy($0, targets: targets) } < 1e-6)
        // Value: uniform logits give log(K).
        #expect(abs(try Loss.crossEntropy(try Tensor.zeros([3, 4]), labels: labels).item() - Foundation.log(4)) < 1e-6)
    }

    @Test func arcFaceLogitsAndTheirGradient() throws {
        // Cosines in (-1, 1) from tanh, so both branches (theta + m < pi and > pi) are met.
        let f: (Tensor) throws -> Tensor = { z in
            try Loss.crossEntropy(try Loss.arcFaceLogits(try (z * 2).tanh(), labels: labels, scale: 30, margin: 0.5), labels: labels)
        }
        #expect(try gradientCheck([3, 4], seed: 3, f) < 1e-5)
        // Values: target column s cos(theta + m), others s cos(theta).
        let c = try Tensor(doubles: [0.5, -0.999, 0.2], shape: [1, 3])
        let z = try Loss.arcFaceLogits(c, labels: try Tensor(indices: [0]), scale: 10, margin: 0.1).doubles()
        #expect(abs(z[0] - 10 * Foundation.cos(Foundation.acos(0.5) + 0.1)) < 1e-4)
        #expect(abs(z[1] - -9.99) < 1e-4 && abs(z[2] - 2) < 1e-4)
        // Past pi the fallback cos(theta) - m sin(m) applies.
        let far = try Loss.arcFaceLogits(c, labels: try Tensor(indices: [1]), scale: 10, margin: 0.1).doubles()
        #expect(abs(far[1] - 10 * (-0.999 - 0.1 * Foundation.sin(0.1))) < 1e-4)
    }

    @Test func normalizedLinearAndSoftmaxMSE() throws {
        var rng = SeededGenerator(seed: 4)
        let layer = try NormalizedLinear(5, 3, rng: &rng)
        let w = try layer.weight.to(.float64).detached()
        #expect(try gradientCheck([2, 5], seed: 5) { try l2Normalized($0, dim: 1).linear(try l2Normalized(w, dim: 1), nil).square().sum() } < 1e-6)
        let cosines = try layer(try Tensor.randn([4, 5]))
        #expect(try cosines.abs().max().item() <= 1.0001)
        let other = try Tensor.randn([3, 4]).to(.float64)
        #expect(try gradientCheck([3, 4], seed: 6) { try Loss.softmaxMSE($0, other) } < 1e-6)
        #expect(try Loss.softmaxMSE(other, other).item() == 0)
    }
}

@Suite("Checkpoints and schedules") struct CheckpointTests {
    @Test func checkpointRoundTripsWeightsCardAndState() throws {
        let dir = TestPaths.temporaryDirectory("checkpoint")
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SeededGenerator(seed: 9)
        let config = ResNetConfig(depth: 18, inputChannels: 5, width: 4, classes: 3)
        let net = try ResNet(config, rng: &rng)
        let card = ModelCard(architecture: config, channels: ["a", "b", "c", "d", "e"], cropSize: 32,
                             cropNormalization: "crop-max", classNames: ["x", "y", "z"], trainingData: "test", seed: 9)
        let url = dir.appendingPathComponent("model.h5")
        let state = ["momentum.fc.bias": try Tensor([1, 2, 3], shape: [3])]
        try Checkpoint.write(to: url, card: card, model: net, state: state, trainingState: #"{"epoch":2}"#)
        let (loaded, loadedCard) = try Checkpoint.loadResNet(url)
        #expect(loadedCard == card)
        let x = try Tensor.randn([2, 5, 32, 32])
        #expect(try maxDifference(try net.embed(x, taps: ["logits"])["logits"]!, try loaded.embed(x, taps: ["logits"])["logits"]!) == 0)
        let contents = try Checkpoint.read(url)
        #expect(try contents.state["momentum.fc.bias"]?.floats() == [1, 2, 3])
        #expect(contents.trainingState == #"{"epoch":2}"#)
        #expect(card.identity.hasPrefix("resnet18-w4-"))
        // Not a checkpoint: a clear error naming the file.
        let other = dir.appendingPathComponent("other.h5")
        try MorphoIOFixtures.emptyHDF5(at: other)
        #expect { _ = try Checkpoint.read(other) } throws: { "\($0)".contains("other.h5") && "\($0)".contains("model_card") }
    }

    @Test func resNetShapesAndTaps() throws {
        var rng = SeededGenerator(seed: 2)
        for depth in [18, 34, 50] {
            let config = ResNetConfig(depth: depth, inputChannels: 6, width: 4, classes: 7)
            let net = try ResNet(config, rng: &rng)
            let out = try net.embed(try Tensor.randn([2, 6, 64, 64]), taps: ResNet.tapNames)
            for tap in ResNet.tapNames { #expect(out[tap]?.shape == [2, try config.dimension(of: tap)], "\(depth) \(tap)") }
        }
        #expect(throws: MorphoError.self) { _ = try ResNet(ResNetConfig(depth: 20), rng: &rng) }
        let net = try ResNet(ResNetConfig(depth: 18, width: 4), rng: &rng)
        #expect { _ = try net.embed(try Tensor.randn([1, 3, 32, 32]), taps: ["fc7"]) } throws: { "\($0)".contains("fc7") }
        #expect { _ = try net.embed(try Tensor.randn([1, 4, 32, 32]), taps: ["pool"]) } throws: { "\($0)".contains("conv2d") }
        // Same seed, same weights.
        var a = SeededGenerator(seed: 11), b = SeededGenerator(seed: 11)
        let n1 = try ResNet(ResNetConfig(depth: 18, width: 4), rng: &a), n2 = try ResNet(ResNetConfig(depth: 18, width: 4), rng: &b)
        #expect(try n1.namedTensors[0].tensor.floats() == n2.namedTensors[0].tensor.floats())
    }

    @Test func learningRateSchedules() {
        #expect(LearningRateSchedule.constant.rate(base: 0.1, epoch: 9) == 0.1)
        #expect(abs(LearningRateSchedule.step(every: 3, gamma: 0.1).rate(base: 1, epoch: 7) - 0.01) < 1e-12)
        let cosine = LearningRateSchedule.cosine(epochs: 10, minimum: 0.001)
        #expect(cosine.rate(base: 0.1, epoch: 0) == 0.1)
        #expect(abs(cosine.rate(base: 0.1, epoch: 5) - 0.0505) < 1e-12)
        #expect(abs(cosine.rate(base: 0.1, epoch: 10) - 0.001) < 1e-12)
    }
}

enum MorphoIOFixtures {
    static func emptyHDF5(at url: URL) throws {
        let f = try MorphoIO.HDF5File(creating: url)
        try f.writeDoubles("/x", [1])
        f.close()
    }
}
