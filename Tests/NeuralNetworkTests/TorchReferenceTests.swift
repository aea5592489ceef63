import Foundation
import MorphoCore
import MorphoIO
import MorphoTestSupport
import NeuralNetwork
import Testing

/// Morpho's ResNet, batch norm, optimizers and TorchScript loading against PyTorch 2.15's own numbers
/// (fixtures made by scripts/make_torch_fixtures.py, committed; PyTorch itself is not needed here).
struct TorchReference {
    static let folder = TestPaths.repoRoot.appendingPathComponent("Tests/NeuralNetworkTests/Fixtures")
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
}

/// Largest absolute difference.
func maxDifference(_ a: Tensor, _ b: Tensor) throws -> Double {
    #expect(a.shape == b.shape, "shapes \(a.shape) and \(b.shape)")
    return try (a - b).abs().max().item()
}

@Suite("ResNet against PyTorch") struct ResNetReferenceTests {
    @Test(arguments: ["resnet18", "resnet50"]) func evalOutputsAndTapsMatchPyTorch(model: String) throws {
        let ref = try TorchReference(model)
        let net = try ref.resnet()
        let x = try ref.tensor("input")
        let out = try net.embed(x, taps: ["logits", "layer2", "layer4"])
        for tap in ["logits", "layer2", "layer4"] {
            let d = try maxDifference(out[tap]!, try ref.tensor("eval/\(tap)"))
            print("\(model) eval \(tap): max |Morpho - PyTorch| = \(d)")
            #expect(d < 1e-4, "\(tap)")
        }
        // Folded batch norm and channels-last give the same numbers.
        try net.prepareForInference(channelsLast: true)
        let folded = try net.embed(x, taps: ["logits", "layer2"])
        #expect(try maxDifference(folded["logits"]!, try ref.tensor("eval/logits")) < 1e-4)
        #expect(try maxDifference(folded["layer2"]!, try ref.tensor("eval/layer2")) < 1e-4)
    }

    @Test(arguments: ["resnet18", "resnet50"]) func trainModeOutputAndRunningStatisticsMatchPyTorch(model: String) throws {
        let ref = try TorchReference(model)
        let net = try ref.resnet()
        let logits = try Tensor.withoutGradients { try net.logits(try ref.tensor("input"), training: true) }
        #expect(try maxDifference(logits, try ref.tensor("train/logits")) < 1e-4)
        let running = try ref.group("train/running")
        let mine = Dictionary(uniqueKeysWithValues: net.namedTensors.map { ($0.name, $0.tensor) })
        #expect(running.count > 10)
        for (name, expected) in running {
            #expect(try maxDifference(mine[name]!, expected) < 1e-4, "\(name)")
        }
    }

    @Test(arguments: ["resnet18", "resnet50"]) func twoOptimizerStepsMatchPyTorch(model: String) throws {
        let ref = try TorchReference(model)
        let x = try ref.tensor("input"), labels = try ref.labels()
        for method in ["sgd", "adamw"] {
            let net = try ref.resnet()
            let optimizer: Optimizer = method == "sgd"
                ? SGD(net, learningRate: 0.1, momentum: 0.9, weightDecay: 1e-4)
                : Adam(net, learningRate: 1e-3, weightDecay: 1e-2, decoupled: true)
            for _ in 0..<2 {
                try Loss.crossEntropy(try net.logits(x, training: true), labels: labels).backward()
                try optimizer.step()
            }
            let expected = try ref.group(method)
            var worst = 0.0, off = 0, total = 0
            for item in net.namedTensors where item.trainable {
                let e = try #require(expected[item.name], "\(item.name)")
                let d = try (item.tensor - e).abs()
                worst = Swift.max(worst, try d.max().item())
                off += try d.greater(1e-4).to(.int64).sum().indices()[0]
                total += e.count
            }
            print("\(model) \(method): max |Morpho - PyTorch| after 2 steps = \(worst); \(off) of \(total) values differ by > 1e-4")
            if method == "sgd" {
                #expect(worst < 1e-4)
            } else {
                // Adam's first steps move every weight by about lr * sign(gradient): a gradient within
                // rounding of 0 can flip sign between two engines (or thread counts), so a few values may
                // differ by a few lr; all others must agree.
                #expect(worst <= 4e-3)
                #expect(Double(off) < 1e-3 * Double(total))
            }
        }
    }

    @Test func torchScriptModelRunsAndItsWeightsLoadIntoAResNet() throws {
        let ref = try TorchReference("resnet18")
        let script = try TorchScriptModel(contentsOf: TorchReference.folder.appendingPathComponent("resnet18_w4.pt"))
        let x = try ref.tensor("input")
        let y = try Tensor.withoutGradients { try script(x) }
        #expect(try maxDifference(y, try ref.tensor("eval/logits")) < 1e-4)
        var rng = SeededGenerator(seed: 3)
        let net = try ResNet(ResNetConfig(depth: 18, inputChannels: 3, width: 4, classes: 5), rng: &rng)
        try net.load(script.namedTensors, context: "resnet18_w4.pt")
        #expect(try maxDifference(try net.embed(x, taps: ["logits"])["logits"]!, y) < 1e-4)
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
