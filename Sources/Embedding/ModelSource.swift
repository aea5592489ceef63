import Foundation
import MorphoCore
import NeuralNetwork

/// Where an embedding network comes from: a Morpho model file (`model.h5` from training), a TorchScript
/// ResNet (`.pt`, torchvision parameter names), or a random initialization (the baseline to beat).
public enum ModelSource: Sendable {
    case file(URL)
    case random(depth: Int, width: Int, seed: UInt64)

    /// The network and its card, for crops of `channels` at `size` px with `normalization`. A TorchScript
    /// file gives its weights to a Morpho ResNet of `depth` and `width`.
    public func load(channels: [String], size: Int, normalization: String, depth: Int = 18, width: Int = 64) throws -> (ResNet, ModelCard) {
        switch self {
        case .file(let url) where url.pathExtension != "pt":
            return try Checkpoint.loadResNet(url)
        case .file(let url):
            var (net, card) = try Self.random(depth: depth, width: width, seed: 1).load(channels: channels, size: size, normalization: normalization)
            let script = try TorchScriptModel(contentsOf: url)
            try net.load(script.namedTensors, context: url.path)
            card.trainingData = "TorchScript \(url.path)"
            return (net, card)
        case .random(let depth, let width, let seed):
            var rng = SeededGenerator(seed: seed)
            let architecture = ResNetConfig(depth: depth, inputChannels: channels.count, width: width)
            let net = try ResNet(architecture, rng: &rng)
            return (net, ModelCard(architecture: architecture, channels: channels, cropSize: size, cropNormalization: normalization,
                                   trainingData: "random initialization", seed: seed))
        }
    }
}
