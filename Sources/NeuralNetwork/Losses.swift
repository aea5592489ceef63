import Foundation
import MorphoCore

/// Losses of the weakly supervised and classifier stages. Each returns a scalar averaged over the batch.
public enum Loss {
    /// Cross-entropy with integer labels: `-mean_i log softmax(z_i)[y_i]`.
    public static func crossEntropy(_ logits: Tensor, labels: Tensor) throws -> Tensor {
        let classes = logits.shape.last ?? 0
        return try softCrossEntropy(logits, targets: try labels.oneHot(classes).to(logits.dtype))
    }

    /// Cross-entropy with soft targets (rows summing to 1, as mixup makes them):
    /// `-mean_i sum_j t_ij log softmax(z_i)_j`.
    public static func softCrossEntropy(_ logits: Tensor, targets: Tensor) throws -> Tensor {
        guard logits.shape == targets.shape else {
            throw MorphoError.engine(operation: "soft cross-entropy", problem: "logits \(logits.shape) and targets \(targets.shape) differ")
        }
        return try -(try targets * logits.logSoftmax(1)).sum([1]).mean()
    }

    /// ArcFace logits (Deng et al. 2019) from cosines `cos(theta_j)` (a `NormalizedLinear`'s output): the
    /// target class gets `s cos(theta + m)`, or `s (cos(theta) - m sin(m))` where `theta + m > pi`
    /// (keeping the logit monotone in theta), the others `s cos(theta_j)`. Train with `crossEntropy`.
    public static func arcFaceLogits(_ cosines: Tensor, labels: Tensor, scale s: Double = 30, margin m: Double = 0.1) throws -> Tensor {
        let classes = cosines.shape.last ?? 0
        let c = try cosines.clamped(-1 + 1e-7, 1 - 1e-7)
        let sine = try (1.0 - c.square()).sqrt()
        let shifted = try c * Foundation.cos(m) - sine * Foundation.sin(m)             // cos(theta + m)
        let fallback = try c - m * Foundation.sin(m)
        let target = try Tensor.where(try c.greater(Foundation.cos(Double.pi - m)), shifted, fallback)
        let isTarget = try labels.oneHot(classes).greater(0.5)
        return try Tensor.where(isTarget, target, c) * s
    }

    /// Consistency between two predictions (mean teacher, Tarvainen & Valpola 2017):
    /// `mean_ij (softmax(a)_ij - softmax(b)_ij)^2`.
    public static func softmaxMSE(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        try (try a.softmax(1) - b.softmax(1)).square().mean()
    }
}
