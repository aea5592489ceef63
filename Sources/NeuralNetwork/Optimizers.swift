import Foundation
import MorphoCore

/// Updates parameters from their accumulated gradients. The update rules are PyTorch's (`torch.optim`),
/// so one step matches PyTorch's for the same gradients.
public protocol Optimizer: AnyObject {
    var learningRate: Double { get set }
    /// Steps taken so far.
    var steps: Int { get }
    /// Applies one update and forgets the gradients.
    func step() throws
    /// Optimizer state as named tensors (for checkpoints), plus the step count.
    var state: [String: Tensor] { get }
    func loadState(_ state: [String: Tensor]) throws
}

/// The trainable tensors an optimizer updates, by name.
struct OptimizedParameters {
    let items: [NamedTensor]
    init(_ container: ParameterContainer) { items = container.namedTensors.filter(\.trainable) }

    /// Calls `body` for every parameter with a gradient, without recording, and forgets the gradients.
    func update(_ body: (NamedTensor, Tensor) throws -> Void) throws {
        try Tensor.withoutGradients {
            for item in items {
                guard let g = item.tensor.gradient else { continue }
                try body(item, g)
                item.tensor.zeroGradient()
            }
        }
    }
}

/// Optimizer slots as named tensors (`<prefix>.<slot>`) plus the step count, for checkpoints.
func slotState(_ slots: [String: Tensor], prefix: String, steps: Int) -> [String: Tensor] {
    var s = slots.reduce(into: [String: Tensor]()) { $0[prefix + "." + $1.key] = $1.value }
    s["steps"] = try? Tensor(doubles: [Double(steps)], shape: [1])
    return s
}

func loadSlots(_ slots: inout [String: Tensor], prefix: String, from state: [String: Tensor], steps: inout Int) throws {
    slots = [:]
    for (name, t) in state where name.hasPrefix(prefix + ".") { slots[String(name.dropFirst(prefix.count + 1))] = try t.clone() }
    steps = Int(try state["steps"]?.item() ?? 0)
}

/// Stochastic gradient descent with momentum (dampening 0), optional Nesterov, and L2 weight decay:
/// `g = grad + wd p; b = mu b + g (b = g at the first step); p -= lr (nesterov ? g + mu b : b)`.
public final class SGD: Optimizer {
    public var learningRate: Double
    public let momentum: Double, weightDecay: Double, nesterov: Bool
    public private(set) var steps = 0
    private let parameters: OptimizedParameters
    private var buffers: [String: Tensor] = [:]

    public init(_ model: ParameterContainer, learningRate: Double, momentum: Double = 0.9, weightDecay: Double = 0, nesterov: Bool = false) {
        parameters = OptimizedParameters(model)
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.nesterov = nesterov
    }

    public func step() throws {
        try parameters.update { p, grad in
            var g = grad
            if weightDecay != 0 { g = try g + p.tensor * weightDecay }
            if momentum != 0 {
                if let b = buffers[p.name] {
                    try b.scale(by: momentum)
                    try b.add(g)
                } else {
                    buffers[p.name] = try g.clone()
                }
                let b = buffers[p.name]!
                g = nesterov ? try g + b * momentum : b
            }
            try p.tensor.add(g, alpha: -learningRate)
        }
        steps += 1
    }

    public var state: [String: Tensor] { slotState(buffers, prefix: "momentum", steps: steps) }
    public func loadState(_ state: [String: Tensor]) throws { try loadSlots(&buffers, prefix: "momentum", from: state, steps: &steps) }
}

/// Adam (Kingma & Ba 2015) with bias correction; `decoupled` gives AdamW (Loshchilov & Hutter 2019:
/// `p *= 1 - lr wd` before the Adam step) instead of L2 decay added to the gradient.
/// `m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr/(1-b1^t) m / (sqrt(v/(1-b2^t)) + eps)`.
public final class Adam: Optimizer {
    public var learningRate: Double
    public let beta1: Double, beta2: Double, eps: Double, weightDecay: Double, decoupled: Bool
    public private(set) var steps = 0
    private let parameters: OptimizedParameters
    private var moments: [String: Tensor] = [:]

    public init(_ model: ParameterContainer, learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999,
                eps: Double = 1e-8, weightDecay: Double = 0, decoupled: Bool = true) {
        parameters = OptimizedParameters(model)
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        self.decoupled = decoupled
    }

    public func step() throws {
        steps += 1
        let t = Double(steps)
        let correction1 = 1 - Foundation.pow(beta1, t), correction2 = 1 - Foundation.pow(beta2, t)
        try parameters.update { p, grad in
            var g = grad
            if weightDecay != 0 {
                if decoupled { try p.tensor.scale(by: 1 - learningRate * weightDecay) } else { g = try g + p.tensor * weightDecay }
            }
            let m = try moments["m." + p.name] ?? Tensor.zeros(p.tensor.shape, dtype: p.tensor.dtype)
            let v = try moments["v." + p.name] ?? Tensor.zeros(p.tensor.shape, dtype: p.tensor.dtype)
            moments["m." + p.name] = m
            moments["v." + p.name] = v
            try m.scale(by: beta1)
            try m.add(g, alpha: 1 - beta1)
            try v.scale(by: beta2)
            try v.addProduct(g, g, value: 1 - beta2)
            let denominator = try (v.sqrt() / correction2.squareRoot()) + eps
            try p.tensor.addQuotient(m, denominator, value: -learningRate / correction1)
        }
    }

    public var state: [String: Tensor] { slotState(moments, prefix: "adam", steps: steps) }
    public func loadState(_ state: [String: Tensor]) throws { try loadSlots(&moments, prefix: "adam", from: state, steps: &steps) }
}

/// Learning rate as a function of the epoch (0-based).
public enum LearningRateSchedule: Equatable, Sendable {
    case constant
    /// Multiplies by `gamma` every `every` epochs.
    case step(every: Int, gamma: Double)
    /// Cosine annealing from the base rate to `minimum` over `epochs` (Loshchilov & Hutter 2017).
    case cosine(epochs: Int, minimum: Double)

    public func rate(base: Double, epoch: Int) -> Double {
        switch self {
        case .constant:
            return base
        case let .step(every, gamma):
            return base * Foundation.pow(gamma, Double(epoch / Swift.max(every, 1)))
        case let .cosine(epochs, minimum):
            let progress = Double(Swift.min(epoch, epochs)) / Double(Swift.max(epochs, 1))
            return minimum + (base - minimum) * (1 + Foundation.cos(.pi * progress)) / 2
        }
    }
}
