import Foundation
import MorphoCore
import NeuralNetwork

/// A small Xception-style network (Chollet 2017) for whole images: a strided 3x3 stem, then blocks of
/// two depthwise-separable convolutions (depthwise 3x3 with one group per channel, then pointwise 1x1),
/// each with batch norm, a 3x3/2 max pool and a strided 1x1 shortcut; global average pooling gives the
/// feature vector (the head is `DeepNoiseNetwork`'s). DeepNoise ensembles a normal and a wide variant;
/// `width` sets the stem channels and blocks double it.
public final class XceptionNet: ParameterContainer {
    public struct Config: Codable, Equatable, Sendable {
        public var inputChannels = 6
        public var width = 16
        public var blocks = 3
        public init() {}
        public var featureDimension: Int { width << blocks }
    }

    final class SeparableConv: ParameterContainer {
        let depthwise: Conv2d, pointwise: Conv2d, bn: BatchNorm2d
        init(_ inC: Int, _ outC: Int, rng: inout SeededGenerator) throws {
            depthwise = try Conv2d(inC, inC, kernel: 3, padding: 1, groups: inC, rng: &rng)
            pointwise = try Conv2d(inC, outC, kernel: 1, rng: &rng)
            bn = try BatchNorm2d(outC)
        }
        var namedTensors: [NamedTensor] {
            prefixed("depthwise", depthwise.namedTensors) + prefixed("pointwise", pointwise.namedTensors) + prefixed("bn", bn.namedTensors)
        }
        func callAsFunction(_ x: Tensor, training: Bool) throws -> Tensor { try bn(try pointwise(try depthwise(x)), training: training) }
    }

    final class Block: ParameterContainer {
        let first: SeparableConv, second: SeparableConv, shortcut: Conv2d, shortcutBN: BatchNorm2d
        init(_ inC: Int, _ outC: Int, rng: inout SeededGenerator) throws {
            first = try SeparableConv(inC, outC, rng: &rng)
            second = try SeparableConv(outC, outC, rng: &rng)
            shortcut = try Conv2d(inC, outC, kernel: 1, stride: 2, rng: &rng)
            shortcutBN = try BatchNorm2d(outC)
        }
        var namedTensors: [NamedTensor] {
            prefixed("sep1", first.namedTensors) + prefixed("sep2", second.namedTensors)
                + prefixed("shortcut", shortcut.namedTensors) + prefixed("shortcut_bn", shortcutBN.namedTensors)
        }
        func callAsFunction(_ x: Tensor, training: Bool) throws -> Tensor {
            let h = try second(try first(x, training: training).relu(), training: training).maxPool2d(kernel: 3, stride: 2, padding: 1)
            return try (h + shortcutBN(try shortcut(x), training: training)).relu()
        }
    }

    public let config: Config
    /// Run on channels-last (NHWC) activations: faster with oneDNN, same numbers.
    public var channelsLast = true
    let stem: Conv2d, stemBN: BatchNorm2d
    let blocks: [Block]

    public init(_ config: Config, seed: UInt64) throws {
        self.config = config
        var rng = SeededGenerator(seed: seed, stream: "xception")
        stem = try Conv2d(config.inputChannels, config.width, kernel: 3, stride: 2, padding: 1, rng: &rng)
        stemBN = try BatchNorm2d(config.width)
        var blocks = [Block]()
        var c = config.width
        for _ in 0..<config.blocks {
            blocks.append(try Block(c, c * 2, rng: &rng))
            c *= 2
        }
        self.blocks = blocks
    }

    public var namedTensors: [NamedTensor] {
        var all = prefixed("stem", stem.namedTensors) + prefixed("stem_bn", stemBN.namedTensors)
        for (i, b) in blocks.enumerated() { all += prefixed("block\(i + 1)", b.namedTensors) }
        return all
    }

    /// Global-pooled features [N, featureDimension].
    public func features(_ x: Tensor, training: Bool) throws -> Tensor {
        let input = channelsLast && !x.isChannelsLast ? try x.contiguous(channelsLast: true) : x
        var h = try stemBN(try stem(input), training: training).relu()
        for b in blocks { h = try b(h, training: training) }
        return try h.mean([2, 3])
    }
}
