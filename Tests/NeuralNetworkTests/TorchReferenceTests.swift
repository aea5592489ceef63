import Foundation
import MorphoCore
import MorphoIO
import MorphoTestSupport
import NeuralNetwork
import Testing

/// Morpho's ResNet, batch norm, optimizers and TorchScript loading against PyTorch's own numbers
/// (fixtures made by scripts/make_torch_fixtures.py, committed; PyTorch itself is not needed here).
///
/// Tolerances follow from the arithmetic, not from the machine that made the fixtures. The fixtures hold
/// every output twice, computed by PyTorch in float32 and in float64 from the same weights and input.
/// For a group of outputs, `A = max |t32 - t64| / (u32 max |t64|)` (u32 = 2^-24) is how much the
/// computation amplifies rounding; a sum over a fan-in of K terms can lose up to about K units on its
/// own. Morpho's result r in precision u must then satisfy, per tensor,
/// `max |r - t64| <= 8 max(A, K) u max |t64|`: the factor 8 covers a different summation order
/// (another engine, another vector width, another thread count) giving errors of the same size but
/// not the same values. Training is checked in two parts: one step's gradients in float32, and the
/// two-step trajectory of SGD and AdamW in float64, where the rules show and rounding does not.
/// (Two float32 steps of the ResNet50 move weights by up to 1.6e-2 between PyTorch's own float32 and
/// float64 runs: that problem is too ill-conditioned for a float32 comparison to mean anything.)
struct TorchReference {
    static let folder = TestPaths.repoRoot.appendingPathComponent("Tests/NeuralNetworkTests/Fixtures")
    static let float32Roundoff = 0x1p-24, float64Roundoff = 0x1p-53
    let file: HDF5File
    let model: String

    init(_ model: String) throws {
        file = try HDF5File(opening: TorchReference.folder.appendingPathComponent("torch_reference.h5"))
        self.model = model
    }

    func tensor(_ path: String) throws -> Tensor {
        let (values, shape) = try file.readItems("/\(model)/\(path)")
        return try Tensor(values, shape: shape)
    }

    /// PyTorch's float64 result for `path`, shaped like its float32 one.
    func exact(_ path: String) throws -> Tensor {
        let shape = try file.readItems("/\(model)/\(path)", 0..<0).shape
        return try Tensor(doubles: try file.readDoubles("/\(model)/f64/\(path)"), shape: shape)
    }

    func group(_ path: String) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for name in try file.members(of: "/\(model)/\(path)") { out[name] = try tensor("\(path)/\(name)") }
        return out
    }

    func labels() throws -> Tensor {
        try Tensor(indices: try file.readDoubles("/\(model)/labels").map { Int($0) })
    }

    /// A Morpho ResNet (width 4, 5 classes) with the reference weights.
    func resnet() throws -> ResNet {
        var rng = SeededGenerator(seed: 1)
        let net = try ResNet(ResNetConfig(depth: model == "resnet50" ? 50 : 18, inputChannels: 3, width: 4, classes: 5), rng: &rng)
        try net.load(try group("tensors"), context: model)
        return net
    }

    /// `A` of the outputs at `paths`: PyTorch's float32 error over the float32 roundoff, relative to each
    /// output's largest value; the largest over the group.
    func amplification(_ paths: [String]) throws -> Double {
        try paths.map { path in
            let t64 = try exact(path)
            let scale = Swift.max(try t64.abs().max().item(), .leastNormalMagnitude)
            return try (try tensor(path).to(.float64) - t64).abs().max().item() / (TorchReference.float32Roundoff * scale)
        }.max() ?? 0
    }

    /// Largest number of terms one output of a layer sums (in x k x k of a convolution, in of a linear layer).
    static func largestFanIn(_ net: ResNet) -> Int {
        net.namedTensors.filter { $0.trainable && $0.name.hasSuffix("weight") }.map { t -> Int in
            let s = t.tensor.shape
            return s.count == 4 ? s[1] * s[2] * s[3] : (s.count == 2 ? s[1] : 1)
        }.max() ?? 1
    }

    /// Checks `mine` against PyTorch's float64 result at `path` within `8 max(A, K) u max |t64|`.
    /// `floor` is an absolute bound that holds whatever the scale (see the AdamW steps).
    func expectClose(_ mine: Tensor, _ path: String, amplification: Double, fanIn: Int, roundoff: Double, floor: Double = 0,
                     sourceLocation: SourceLocation = #_sourceLocation) throws {
        let t64 = try exact(path)
        #expect(mine.shape == t64.shape, "\(path): shapes \(mine.shape) and \(t64.shape)", sourceLocation: sourceLocation)
        let scale = try t64.abs().max().item()
        let bound = Swift.max(8 * Swift.max(amplification, Double(fanIn)) * roundoff * scale, floor)
        let error = try (try mine.to(.float64) - t64).abs().max().item()
        #expect(error <= bound, "\(model) \(path): max |Morpho - exact| = \(error), bound \(bound)", sourceLocation: sourceLocation)
    }
}

/// Largest absolute difference.
func maxDifference(_ a: Tensor, _ b: Tensor) throws -> Double {
    #expect(a.shape == b.shape, "shapes \(a.shape) and \(b.shape)")
    return try (a - b).abs().max().item()
}

@Suite("ResNet against PyTorch") struct ResNetReferenceTests {
    static let evalTaps = ["logits", "layer2", "layer4"]

    @Test(arguments: ["resnet18", "resnet50"]) func evalOutputsAndTapsMatchPyTorch(model: String) throws {
        let ref = try TorchReference(model)
        let net = try ref.resnet()
        let fanIn = TorchReference.largestFanIn(net)
        let a = try ref.amplification(Self.evalTaps.map { "eval/\($0)" })
        print("\(model) eval: rounding amplification \(a), largest fan-in \(fanIn)")
        let x = try ref.tensor("input")
        let out = try net.embed(x, taps: Self.evalTaps)
        for tap in Self.evalTaps {
            try ref.expectClose(out[tap]!, "eval/\(tap)", amplification: a, fanIn: fanIn, roundoff: TorchReference.float32Roundoff)
        }
        // Folded batch norm and channels-last: other kernels, the same numbers within the same bound.
        try net.prepareForInference(channelsLast: true)
        let folded = try net.embed(x, taps: ["logits", "layer2"])
        for tap in ["logits", "layer2"] {
            try ref.expectClose(folded[tap]!, "eval/\(tap)", amplification: a, fanIn: fanIn, roundoff: TorchReference.float32Roundoff)
        }
    }

    @Test(arguments: ["resnet18", "resnet50"]) func trainModeOutputAndRunningStatisticsMatchPyTorch(model: String) throws {
        let ref = try TorchReference(model)
        let net = try ref.resnet()
        let fanIn = TorchReference.largestFanIn(net)
        let running = try ref.file.members(of: "/\(model)/train/running").map { "train/running/\($0)" }
        #expect(running.count > 10)
        let a = try ref.amplification(["train/logits"] + running)
        let logits = try Tensor.withoutGradients { try net.logits(try ref.tensor("input"), training: true) }
        try ref.expectClose(logits, "train/logits", amplification: a, fanIn: fanIn, roundoff: TorchReference.float32Roundoff)
        let mine = Dictionary(uniqueKeysWithValues: net.namedTensors.map { ($0.name, $0.tensor) })
        for path in running {
            try ref.expectClose(try #require(mine[String(path.dropFirst("train/running/".count))]), path, amplification: a, fanIn: fanIn,
                                roundoff: TorchReference.float32Roundoff)
        }
    }

    @Test(arguments: ["resnet18", "resnet50"]) func gradientsMatchPyTorch(model: String) throws {
        let ref = try TorchReference(model)
        let net = try ref.resnet()
        let fanIn = TorchReference.largestFanIn(net)
        let parameters = net.namedTensors.filter(\.trainable)
        let a = try ref.amplification(parameters.map { "grad/\($0.name)" })
        print("\(model) gradients: rounding amplification \(a), largest fan-in \(fanIn)")
        try Loss.crossEntropy(try net.logits(try ref.tensor("input"), training: true), labels: try ref.labels()).backward()
        for item in parameters {
            try ref.expectClose(try #require(item.tensor.gradient, "\(item.name)"), "grad/\(item.name)", amplification: a, fanIn: fanIn,
                                roundoff: TorchReference.float32Roundoff)
        }
    }

    @Test(arguments: ["resnet18", "resnet50"]) func twoOptimizerStepsInFloat64MatchPyTorch(model: String) throws {
        let ref = try TorchReference(model)
        let labels = try ref.labels()
        for method in ["sgd", "adamw"] {
            let net = try ref.resnet()
            try net.convert(to: .float64)
            let x = try ref.tensor("input").to(.float64)
            let fanIn = TorchReference.largestFanIn(net)
            let parameters = net.namedTensors.filter(\.trainable)
            let a = try ref.amplification(parameters.map { "\(method)/\($0.name)" })
            print("\(model) \(method): rounding amplification over two steps \(a)")
            let (rate, eps) = method == "sgd" ? (0.1, 0.0) : (1e-3, 1e-8)
            let optimizer: Optimizer = method == "sgd"
                ? SGD(net, learningRate: rate, momentum: 0.9, weightDecay: 1e-4)
                : Adam(net, learningRate: rate, eps: eps, weightDecay: 1e-2, decoupled: true)
            // Adam is not linear in the gradient, so float32's amplification (which saturates where a
            // gradient near 0 flips sign) does not scale down to float64. Its step moves a weight by
            // lr m / (sqrt(v) + eps), at most about lr, and a gradient error d changes it by at most
            // lr d / eps: over two steps, 2 lr min(2, d / eps), with d the float64 gradient error bound.
            var floor = 0.0
            if method == "adamw" {
                let gradients = parameters.map { "grad/\($0.name)" }
                let largest = try gradients.map { try ref.exact($0).abs().max().item() }.max() ?? 0
                let d = 8 * Swift.max(try ref.amplification(gradients), Double(fanIn)) * TorchReference.float64Roundoff * largest
                floor = 2 * rate * Swift.min(2, d / eps)
            }
            for _ in 0..<2 {
                try Loss.crossEntropy(try net.logits(x, training: true), labels: labels).backward()
                try optimizer.step()
            }
            for item in parameters {
                #expect(item.tensor.dtype == .float64)
                try ref.expectClose(item.tensor, "\(method)/\(item.name)", amplification: a, fanIn: fanIn, roundoff: TorchReference.float64Roundoff,
                                    floor: floor)
            }
        }
    }

    @Test func torchScriptModelRunsAndItsWeightsLoadIntoAResNet() throws {
        let ref = try TorchReference("resnet18")
        let script = try TorchScriptModel(contentsOf: TorchReference.folder.appendingPathComponent("resnet18_w4.pt"))
        let x = try ref.tensor("input")
        let y = try Tensor.withoutGradients { try script(x) }
        let a = try ref.amplification(["eval/logits"])
        try ref.expectClose(y, "eval/logits", amplification: a, fanIn: TorchReference.largestFanIn(try ref.resnet()),
                            roundoff: TorchReference.float32Roundoff)
        var rng = SeededGenerator(seed: 3)
        let net = try ResNet(ResNetConfig(depth: 18, inputChannels: 3, width: 4, classes: 5), rng: &rng)
        try net.load(script.namedTensors, context: "resnet18_w4.pt")
        try ref.expectClose(try net.embed(x, taps: ["logits"])["logits"]!, "eval/logits", amplification: a, fanIn: TorchReference.largestFanIn(net),
                            roundoff: TorchReference.float32Roundoff)
    }

    @Test func badTorchScriptAndMismatchedWeightsAreClearErrors() throws {
        let dir = TestPaths.temporaryDirectory("torchscript")
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("broken.pt")
        try Data("not a zip".utf8).write(to: bad)
        #expect { _ = try TorchScriptModel(contentsOf: bad) } throws: { "\($0)".contains("broken.pt") }
        #expect { _ = try TorchScriptModel(contentsOf: dir.appendingPathComponent("missing.pt")) } throws: { "\($0)".contains("missing.pt") }
        // ResNet18 weights into a ResNet18 with 6 input channels: names the first misfit.
        var rng = SeededGenerator(seed: 3)
        let net = try ResNet(ResNetConfig(depth: 18, inputChannels: 6, width: 4, classes: 5), rng: &rng)
        #expect { try net.load(try TorchReference("resnet18").group("tensors"), context: "ref") } throws: {
            "\($0)".contains("conv1.weight")
        }
    }
}
