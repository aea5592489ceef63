import Foundation
import MorphoCore
import NeuralNetwork

/// The network DeepNoise trains: a backbone that maps images to a pooled feature vector and a head
/// over the classes. The backbone is `xception` (DeepNoise's, `XceptionNet`) or a ResNet of the engine
/// (`resnet18`, `resnet34`, `resnet50`, standard blocks with `width` stem channels); the head gives
/// cosines to the class centres (`NormalizedLinear`, for ArcFace) or plain logits (`Linear`).
public final class DeepNoiseNetwork: ParameterContainer {
    public static let backbones = ["xception", "resnet18", "resnet34", "resnet50"]

    enum Backbone {
        case xception(XceptionNet)
        case resnet(ResNet)
    }

    let backbone: Backbone
    let linearHead: Linear?
    let cosineHead: NormalizedLinear?

    /// `backbone` is one of `backbones`; `width` the stem channels; `cosineHead` for ArcFace.
    public init(backbone name: String, inputChannels: Int, width: Int, classes: Int, cosineHead: Bool, seed: UInt64) throws {
        let features: Int
        switch name {
        case "xception":
            var config = XceptionNet.Config()
            config.inputChannels = inputChannels
            config.width = width
            let net = try XceptionNet(config, seed: seed)
            backbone = .xception(net)
            features = config.featureDimension
        default:
            guard name.hasPrefix("resnet"), let depth = Int(name.dropFirst(6)) else {
                throw MorphoError.config(key: "backbone", problem: "'\(name)' is not one of \(Self.backbones.joined(separator: ", "))")
            }
            var rng = SeededGenerator(seed: seed, stream: "resnet")
            let net = try ResNet(ResNetConfig(depth: depth, inputChannels: inputChannels, width: width), rng: &rng)
            net.channelsLast = true
            backbone = .resnet(net)
            features = net.config.featureDimension
        }
        var rng = SeededGenerator(seed: seed, stream: "head")
        if cosineHead {
            self.cosineHead = try NormalizedLinear(features, classes, rng: &rng); linearHead = nil
        } else {
            linearHead = try Linear(features, classes, rng: &rng); self.cosineHead = nil
        }
    }

    public var namedTensors: [NamedTensor] {
        let body: [NamedTensor]
        switch backbone {
        case .xception(let net): body = net.namedTensors
        case .resnet(let net): body = net.namedTensors
        }
        return body + prefixed("head", (cosineHead?.namedTensors ?? []) + (linearHead?.namedTensors ?? []))
    }

    /// Global-pooled backbone features [N, F].
    public func features(_ x: Tensor, training: Bool) throws -> Tensor {
        switch backbone {
        case .xception(let net): return try net.features(x, training: training)
        case .resnet(let net): return try net.forward(x, training: training, taps: ["pool"])["pool"]!
        }
    }

    /// Head output [N, classes]: cosines to the class centres (cosine head) or logits.
    public func callAsFunction(_ x: Tensor, training: Bool) throws -> Tensor {
        let f = try features(x, training: training)
        if let cosineHead { return try cosineHead(f) }
        return try linearHead!(f)
    }

    /// Mean teacher (Tarvainen & Valpola 2017): `teacher = decay teacher + (1 - decay) student` for every
    /// parameter; running statistics are copied.
    public func updateAsTeacher(of student: DeepNoiseNetwork, decay: Double) throws {
        try Tensor.withoutGradients {
            for (t, s) in zip(namedTensors, student.namedTensors) {
                if t.trainable {
                    try t.tensor.scale(by: decay)
                    try t.tensor.add(s.tensor, alpha: 1 - decay)
                } else {
                    try t.tensor.assign(s.tensor)
                }
            }
        }
    }
}
