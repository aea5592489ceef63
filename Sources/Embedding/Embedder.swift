import Foundation
import MorphoCore
import NeuralNetwork

/// Settings of `morpho embed`.
public struct EmbeddingConfig: Codable, Sendable, Equatable {
    /// Layers to read (see `ResNet.tapNames`); each is global-average-pooled to one vector per cell.
    public var taps = ["pool"]
    public var batchSize = 64
    /// LibTorch threads; nil = all cores. Not part of a unit key (results do not depend on it).
    public var threads: Int?

    /// The settings that decide the result (everything but `threads`), for unit keys.
    public var keyed: EmbeddingConfig {
        var c = self
        c.threads = nil
        return c
    }
    /// Folded batch norm in channels-last layout (faster on oneDNN; same numbers within 1e-5).
    public var channelsLast = true

    public init() {}

    public func validate() throws {
        guard batchSize > 0 else { throw MorphoError.config(key: "embed.batch_size", problem: "must be positive") }
        guard !taps.isEmpty else { throw MorphoError.config(key: "embed.taps", problem: "name at least one layer") }
        for tap in taps where !ResNet.tapNames.contains(tap) {
            throw MorphoError.config(key: "embed.taps", problem: "unknown layer '\(tap)'; choose from \(ResNet.tapNames.joined(separator: ", "))")
        }
    }
}

/// A model ready for inference: folded, laid out for speed, with its card to check inputs against.
/// Deterministic: the same crops give the same bytes.
public final class Embedder: @unchecked Sendable {
    public let model: ResNet
    public let card: ModelCard
    public let config: EmbeddingConfig

    public init(model: ResNet, card: ModelCard, config: EmbeddingConfig) throws {
        try config.validate()
        for tap in config.taps { _ = try model.config.dimension(of: tap) }
        try Engine.setThreads(config.threads ?? ProcessInfo.processInfo.activeProcessorCount)
        try model.prepareForInference(channelsLast: config.channelsLast)
        self.model = model
        self.card = card
        self.config = config
    }

    /// Loads a Morpho checkpoint.
    public convenience init(checkpoint: URL, config: EmbeddingConfig) throws {
        let (model, card) = try Checkpoint.loadResNet(checkpoint)
        try self.init(model: model, card: card, config: config)
    }

    public func dimension(of tap: String) -> Int { (try? model.config.dimension(of: tap)) ?? 0 }

    /// Checks that crops of `channels` x `size` fit the model.
    public func check(channels: [String], size: Int, source: String) throws {
        guard channels.count == card.architecture.inputChannels else {
            throw MorphoError.data(context: source, problem: "crops have \(channels.count) channels (\(channels.joined(separator: ","))), the model takes \(card.architecture.inputChannels) (\(card.channels.joined(separator: ",")))")
        }
        guard size >= 32 else { throw MorphoError.data(context: source, problem: "crops of \(size) px are too small for a ResNet (>= 32)") }
    }

    /// Embeddings of `count` crops (planar [count, C, S, S] float32) at every tap, row-major [count, D],
    /// computed in batches of `config.batchSize`.
    public func embed(_ pixels: [Float], count: Int, channels: Int, size: Int) throws -> [String: [Float]] {
        let item = channels * size * size
        guard pixels.count == count * item else {
            throw MorphoError.data(context: "embedding", problem: "\(pixels.count) pixel values for \(count) crops of \(channels)x\(size)x\(size)")
        }
        var out = Dictionary(uniqueKeysWithValues: config.taps.map { ($0, [Float]()) })
        for (tap, _) in out { out[tap]!.reserveCapacity(count * dimension(of: tap)) }
        var start = 0
        while start < count {
            let n = min(config.batchSize, count - start)
            let batch = try Tensor(Array(pixels[(start * item)..<((start + n) * item)]), shape: [n, channels, size, size])
            for (tap, values) in try model.embed(batch, taps: config.taps) { out[tap]! += try values.floats() }
            start += n
        }
        return out
    }
}
