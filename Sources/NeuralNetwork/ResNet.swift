import Foundation
import MorphoCore

/// The shape of a ResNet (He et al. 2016, torchvision's v1.5 layout: stride in the 3x3 convolution of
/// bottlenecks).
public struct ResNetConfig: Codable, Equatable, Sendable {
    /// 18, 34 (basic blocks) or 50 (bottlenecks).
    public var depth: Int
    /// Input channels: 3 for BBBC021, 5 for Cell Painting, 6 for RxRx1.
    public var inputChannels: Int
    /// Channels of the stem and of stage 1 (64 in the paper); stages use width x 1, 2, 4, 8.
    public var width: Int
    /// Classes of the linear head; 0 for none (embeddings only).
    public var classes: Int

    public init(depth: Int = 18, inputChannels: Int = 3, width: Int = 64, classes: Int = 0) {
        self.depth = depth
        self.inputChannels = inputChannels
        self.width = width
        self.classes = classes
    }

    var blocks: [Int] {
        switch depth {
        case 18: [2, 2, 2, 2]
        case 34, 50: [3, 4, 6, 3]
        default: []
        }
    }
    var expansion: Int { depth >= 50 ? 4 : 1 }
    /// Channels of the global-pooled feature vector.
    public var featureDimension: Int { width * 8 * expansion }

    /// The feature dimension of each tap.
    public func dimension(of tap: String) throws -> Int {
        switch tap {
        case "stem": return width
        case "layer1": return width * expansion
        case "layer2": return width * 2 * expansion
        case "layer3": return width * 4 * expansion
        case "layer4", "pool": return featureDimension
        case "logits" where classes > 0: return classes
        default: throw MorphoError.config(key: "taps", problem: "unknown layer '\(tap)'; choose from \(ResNet.tapNames.joined(separator: ", "))")
        }
    }
}

/// A convolution followed by batch normalization; in evaluation it can run as one convolution with the
/// batch norm folded in (`prepareForInference`).
final class ConvBN: ParameterContainer {
    let conv: Conv2d, bn: BatchNorm2d
    let names: (conv: String, bn: String)
    var folded: (weight: Tensor, bias: Tensor)?

    init(_ inC: Int, _ outC: Int, kernel: Int, stride: Int, names: (String, String), rng: inout SeededGenerator) throws {
        conv = try Conv2d(inC, outC, kernel: kernel, stride: stride, padding: kernel / 2, rng: &rng)
        bn = try BatchNorm2d(outC)
        self.names = names
    }

    var namedTensors: [NamedTensor] { prefixed(names.conv, conv.namedTensors) + prefixed(names.bn, bn.namedTensors) }

    func callAsFunction(_ x: Tensor, training: Bool) throws -> Tensor {
        if !training, let f = folded { return try x.conv2d(f.weight, f.bias, stride: conv.stride, padding: conv.padding) }
        return try bn(try conv(x), training: training)
    }

    func fold(channelsLast: Bool) throws {
        let f = try bn.folded(into: conv)
        folded = (try f.weight.contiguous(channelsLast: channelsLast), f.bias)
    }
}

/// One residual block: basic (two 3x3) or bottleneck (1x1, 3x3, 1x1 with expansion 4).
final class ResidualBlock: ParameterContainer {
    let units: [ConvBN]
    let shortcut: ConvBN?

    init(_ inC: Int, _ planes: Int, stride: Int, bottleneck: Bool, rng: inout SeededGenerator) throws {
        let outC = planes * (bottleneck ? 4 : 1)
        if bottleneck {
            units = [try ConvBN(inC, planes, kernel: 1, stride: 1, names: ("conv1", "bn1"), rng: &rng),
                     try ConvBN(planes, planes, kernel: 3, stride: stride, names: ("conv2", "bn2"), rng: &rng),
                     try ConvBN(planes, outC, kernel: 1, stride: 1, names: ("conv3", "bn3"), rng: &rng)]
        } else {
            units = [try ConvBN(inC, planes, kernel: 3, stride: stride, names: ("conv1", "bn1"), rng: &rng),
                     try ConvBN(planes, planes, kernel: 3, stride: 1, names: ("conv2", "bn2"), rng: &rng)]
        }
        shortcut = stride != 1 || inC != outC
            ? try ConvBN(inC, outC, kernel: 1, stride: stride, names: ("downsample.0", "downsample.1"), rng: &rng) : nil
    }

    var namedTensors: [NamedTensor] { units.flatMap(\.namedTensors) + (shortcut?.namedTensors ?? []) }
    var convBNs: [ConvBN] { units + (shortcut.map { [$0] } ?? []) }

    func callAsFunction(_ x: Tensor, training: Bool) throws -> Tensor {
        var out = x
        for (i, unit) in units.enumerated() {
            out = try unit(out, training: training)
            if i < units.count - 1 { out = try relu(out, training: training) }
        }
        let identity = try shortcut?(x, training: training) ?? x
        return try relu(try out + identity, training: training)
    }
}

/// ReLU, in place when no gradient is recorded (inference) to save a copy.
func relu(_ x: Tensor, training: Bool) throws -> Tensor {
    if training || Tensor.gradientsEnabled { return try x.relu() }
    try x.reluInPlace()
    return x
}

/// ResNet 18/34/50 with configurable input channels and width, whose intermediate layers can be read as
/// embeddings ("taps"): Caicedo et al. (2018) found intermediate layers better for MoA than the top one.
/// Parameter names follow torchvision (`conv1.weight`, `layer1.0.bn1.running_mean`, `fc.weight`).
///
/// ```swift
/// var rng = SeededGenerator(seed: 1)
/// let net = try ResNet(ResNetConfig(depth: 18, inputChannels: 3, classes: 12), rng: &rng)
/// let logits = try net.logits(crops, training: true)            // [N, 12]
/// let features = try net.embed(crops, taps: ["layer3", "pool"])  // global-pooled [N, C] per tap
/// ```
public final class ResNet: ParameterContainer, @unchecked Sendable {
    public static let tapNames = ["stem", "layer1", "layer2", "layer3", "layer4", "pool", "logits"]

    public let config: ResNetConfig
    let stem: ConvBN
    let stages: [[ResidualBlock]]
    public let head: Linear?
    /// Run convolutions on channels-last (NHWC) activations: faster with oneDNN, same numbers.
    public var channelsLast = false

    public init(_ config: ResNetConfig, rng: inout SeededGenerator) throws {
        guard !config.blocks.isEmpty else {
            throw MorphoError.config(key: "model.depth", problem: "\(config.depth) is not one of 18, 34, 50")
        }
        guard config.inputChannels > 0, config.width > 0, config.classes >= 0 else {
            throw MorphoError.config(key: "model", problem: "input channels and width must be positive, classes >= 0")
        }
        self.config = config
        stem = try ConvBN(config.inputChannels, config.width, kernel: 7, stride: 2, names: ("conv1", "bn1"), rng: &rng)
        var inC = config.width
        var stages: [[ResidualBlock]] = []
        for (s, count) in config.blocks.enumerated() {
            let planes = config.width << s
            var blocks: [ResidualBlock] = []
            for b in 0..<count {
                blocks.append(try ResidualBlock(inC, planes, stride: b == 0 && s > 0 ? 2 : 1, bottleneck: config.expansion == 4, rng: &rng))
                inC = planes * config.expansion
            }
            stages.append(blocks)
        }
        self.stages = stages
        head = config.classes > 0 ? try Linear(inC, config.classes, rng: &rng) : nil
    }

    public var namedTensors: [NamedTensor] {
        var all = stem.namedTensors
        for (s, blocks) in stages.enumerated() {
            for (b, block) in blocks.enumerated() { all += prefixed("layer\(s + 1).\(b)", block.namedTensors) }
        }
        return all + (head.map { prefixed("fc", $0.namedTensors) } ?? [])
    }

    private var convBNs: [ConvBN] { [stem] + stages.flatMap { $0.flatMap(\.convBNs) } }

    /// Folds every batch norm into its convolution and, optionally, lays weights out channels-last; later
    /// `training: false` passes use them. A training pass discards them (the weights change).
    public func prepareForInference(channelsLast: Bool = true) throws {
        for unit in convBNs { try unit.fold(channelsLast: channelsLast) }
        self.channelsLast = channelsLast
    }

    /// Runs the network and returns the requested taps: feature maps are global-average-pooled to
    /// [N, C]; "pool" is the pooled output of layer4 and "logits" the head's output.
    public func forward(_ input: Tensor, training: Bool, taps: [String]) throws -> [String: Tensor] {
        if training { for unit in convBNs { unit.folded = nil } }
        for tap in taps { _ = try config.dimension(of: tap) }
        let wanted = Set(taps)
        var out: [String: Tensor] = [:]
        var x = channelsLast && !input.isChannelsLast ? try input.contiguous(channelsLast: true) : input
        x = try relu(try stem(x, training: training), training: training)
        if wanted.contains("stem") { out["stem"] = try x.mean([2, 3]) }
        x = try x.maxPool2d(kernel: 3, stride: 2, padding: 1)
        let deepest = ["stem": 0, "layer1": 1, "layer2": 2, "layer3": 3].filter { wanted.contains($0.key) }.values.max()
        let needAll = wanted.contains("layer4") || wanted.contains("pool") || wanted.contains("logits")
        for (s, blocks) in stages.enumerated() {
            if !needAll, let deepest, s >= deepest { break }
            for block in blocks { x = try block(x, training: training) }
            let name = "layer\(s + 1)"
            if wanted.contains(name) { out[name] = try x.mean([2, 3]) }
        }
        if needAll {
            let pooled = try out["layer4"] ?? x.mean([2, 3])
            if wanted.contains("pool") { out["pool"] = pooled }
            if wanted.contains("logits") {
                guard let head else { throw MorphoError.config(key: "taps", problem: "'logits' needs a model with a classification head") }
                out["logits"] = try head(pooled)
            }
        }
        return out
    }

    public func logits(_ input: Tensor, training: Bool) throws -> Tensor {
        try forward(input, training: training, taps: ["logits"])["logits"]!
    }

    /// Embeddings at `taps` in evaluation mode without gradients.
    public func embed(_ input: Tensor, taps: [String]) throws -> [String: Tensor] {
        try Tensor.withoutGradients { try forward(input, training: false, taps: taps) }
    }
}
