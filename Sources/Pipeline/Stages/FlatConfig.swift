/// A config section made of a stage module's config and a few pipeline-only settings side by side
/// (one flat mapping in YAML): both decode from, and encode into, the same keyed container.
public struct FlatConfig<Base: Codable & Sendable, Extra: Codable & Sendable>: Codable, Sendable, FlattenedConfig {
    public var base: Base
    public var extra: Extra

    public init(_ base: Base, _ extra: Extra) { self.base = base; self.extra = extra }

    var parts: [Any] { [base, extra] }

    public init(from decoder: Decoder) throws {
        base = try Base(from: decoder)
        extra = try Extra(from: decoder)
    }

    public func encode(to encoder: Encoder) throws {
        try base.encode(to: encoder)
        try extra.encode(to: encoder)
    }
}

/// A config whose keys are those of its parts, side by side.
protocol FlattenedConfig { var parts: [Any] { get } }
