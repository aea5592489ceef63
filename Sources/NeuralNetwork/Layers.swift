import Foundation
import MorphoCore

/// A named tensor of a model: a trainable parameter or a buffer (running statistics), named as in
/// PyTorch's `state_dict` (`layer1.0.conv1.weight`), so that weights move between Morpho and PyTorch.
public struct NamedTensor: @unchecked Sendable {
    public let name: String
    public let tensor: Tensor
    public let trainable: Bool
}

/// Something with named parameters and buffers.
public protocol ParameterContainer: AnyObject {
    /// Parameters and buffers, names relative to this container.
    var namedTensors: [NamedTensor] { get }
}

extension ParameterContainer {
    public var parameters: [Tensor] { namedTensors.filter(\.trainable).map(\.tensor) }
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// Copies values into the tensors of the same name: every trainable parameter and running statistic
    /// must be present with the right element count (extra entries such as PyTorch's
    /// `num_batches_tracked` are ignored).
    public func load(_ values: [String: Tensor], context: String) throws {
        var problems: [String] = []
        for item in namedTensors {
            guard let v = values[item.name] else { problems.append("missing '\(item.name)'"); continue }
            guard v.count == item.tensor.count else {
                problems.append("'\(item.name)' has shape \(v.shape), the model needs \(item.tensor.shape)")
                continue
            }
            try Tensor.withoutGradients { try item.tensor.assign(try v.to(item.tensor.dtype).reshaped(item.tensor.shape)) }
        }
        guard problems.isEmpty else {
            throw MorphoError.data(context: context, problem: "weights do not fit the model: " + problems.prefix(8).joined(separator: "; "))
        }
    }

    /// Converts every parameter and buffer to `dtype` in place (float64 runs check the arithmetic of
    /// training against a float64 reference, where rounding does not hide the rules).
    public func convert(to dtype: DType) throws {
        for item in namedTensors { try item.tensor.convert(to: dtype) }
    }
}

public func prefixed(_ prefix: String, _ items: [NamedTensor]) -> [NamedTensor] {
    items.map { NamedTensor(name: prefix + "." + $0.name, tensor: $0.tensor, trainable: $0.trainable) }
}

/// Deterministic initial values drawn in Swift, so that a seed gives the same model everywhere.
func initialTensor(_ shape: [Int], _ rng: inout SeededGenerator, _ draw: (inout SeededGenerator) -> Double) throws -> Tensor {
    let n = shape.reduce(1, *)
    var values = [Float](repeating: 0, count: n)
    for i in 0..<n { values[i] = Float(draw(&rng)) }
    let t = try Tensor(values, shape: shape)
    t.requiresGradient = true
    return t
}

/// 2-D convolution, weight [out, in/groups, k, k]; initialized as torchvision's ResNet does
/// (He normal, fan-out: std = sqrt(2 / (out k^2 / groups))).
public final class Conv2d: ParameterContainer {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int, padding: Int, groups: Int

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                groups: Int = 1, bias: Bool = false, rng: inout SeededGenerator) throws {
        let std = (2.0 / Double(outChannels * kernel * kernel / groups)).squareRoot()
        weight = try initialTensor([outChannels, inChannels / groups, kernel, kernel], &rng) { std * $0.normal() }
        self.bias = bias ? try initialTensor([outChannels], &rng) { _ in 0 } : nil
        self.stride = stride
        self.padding = padding
        self.groups = groups
    }

    public var namedTensors: [NamedTensor] {
        [NamedTensor(name: "weight", tensor: weight, trainable: true)]
            + (bias.map { [NamedTensor(name: "bias", tensor: $0, trainable: true)] } ?? [])
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try x.conv2d(weight, bias, stride: stride, padding: padding, groups: groups)
    }
}

/// Batch normalization over channels: `y = (x - mean) / sqrt(var + eps) * weight + bias`, with batch
/// statistics in training (running ones updated with `momentum`) and running statistics in evaluation.
public final class BatchNorm2d: ParameterContainer {
    public let weight: Tensor, bias: Tensor, runningMean: Tensor, runningVar: Tensor
    public let momentum: Double, eps: Double

    public init(_ channels: Int, momentum: Double = 0.1, eps: Double = 1e-5) throws {
        weight = try Tensor.full([channels], 1)
        bias = try Tensor.zeros([channels])
        weight.requiresGradient = true
        bias.requiresGradient = true
        runningMean = try Tensor.zeros([channels])
        runningVar = try Tensor.full([channels], 1)
        self.momentum = momentum
        self.eps = eps
    }

    public var namedTensors: [NamedTensor] {
        [NamedTensor(name: "weight", tensor: weight, trainable: true), NamedTensor(name: "bias", tensor: bias, trainable: true),
         NamedTensor(name: "running_mean", tensor: runningMean, trainable: false),
         NamedTensor(name: "running_var", tensor: runningVar, trainable: false)]
    }

    public func callAsFunction(_ x: Tensor, training: Bool) throws -> Tensor {
        try x.batchNorm(weight: weight, bias: bias, runningMean: runningMean, runningVar: runningVar,
                        training: training, momentum: momentum, eps: eps)
    }

    /// The convolution that equals `self(conv(x))` in evaluation: `W' = W s`, `b' = beta + (b - mean) s`,
    /// `s = gamma / sqrt(var + eps)` per output channel.
    func folded(into conv: Conv2d) throws -> (weight: Tensor, bias: Tensor) {
        try Tensor.withoutGradients {
            let s = try weight * (try runningVar + eps).rsqrt()
            let w = try conv.weight * s.reshaped([-1, 1, 1, 1])
            let b0 = try conv.bias ?? Tensor.zeros(s.shape)
            let b = try bias + (try b0 - runningMean) * s
            return (w, b)
        }
    }
}

/// Fully connected layer `y = x W^T + b`, W [out, in]; PyTorch's default initialization
/// (uniform in +-1/sqrt(in) for weight and bias).
public final class Linear: ParameterContainer {
    public let weight: Tensor
    public let bias: Tensor?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, rng: inout SeededGenerator) throws {
        let bound = 1 / Double(inFeatures).squareRoot()
        weight = try initialTensor([outFeatures, inFeatures], &rng) { $0.uniform(-bound, bound) }
        self.bias = bias ? try initialTensor([outFeatures], &rng) { $0.uniform(-bound, bound) } : nil
    }

    public var namedTensors: [NamedTensor] {
        [NamedTensor(name: "weight", tensor: weight, trainable: true)]
            + (bias.map { [NamedTensor(name: "bias", tensor: $0, trainable: true)] } ?? [])
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor { try x.linear(weight, bias) }
}

/// A linear layer on L2-normalized inputs and L2-normalized class weights: its outputs are the cosines
/// `cos(theta_j) = <x/|x|, w_j/|w_j|>`, the logits ArcFace (Deng et al. 2019) works on.
public final class NormalizedLinear: ParameterContainer {
    public let weight: Tensor

    public init(_ inFeatures: Int, _ classes: Int, rng: inout SeededGenerator) throws {
        let bound = 1 / Double(inFeatures).squareRoot()
        weight = try initialTensor([classes, inFeatures], &rng) { $0.uniform(-bound, bound) }
    }

    public var namedTensors: [NamedTensor] { [NamedTensor(name: "weight", tensor: weight, trainable: true)] }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try l2Normalized(x, dim: 1).linear(try l2Normalized(weight, dim: 1), nil)
    }
}

/// `x / max(|x|_2, eps)` along `dim`.
public func l2Normalized(_ x: Tensor, dim: Int, eps: Double = 1e-12) throws -> Tensor {
    let norm = try x.square().sum([dim], keepDim: true).sqrt().atLeast(eps)
    return try x / norm
}
