import Foundation

/// The record of one finished unit of work (one plate of one stage), written atomically after the
/// unit's outputs as `<output>.done.json`. A rerun skips the unit when the record exists, its key
/// (a hash of the stage's config and the content of its inputs) is unchanged and every output is still
/// there; a unit a crash interrupted has no record and is redone from scratch.
public struct UnitRecord: Codable, Sendable, Equatable {
    public var stage: String
    public var unit: String
    public var key: String
    public var version: String
    public var outputs: [String]
    public var counts: [String: Int]
    public var seconds: Double
    /// The inputs the key was computed from (content hashes).
    public var inputs: [FileFingerprint]?

    public init(stage: String, unit: String, key: String, outputs: [URL], counts: [String: Int], seconds: Double,
                inputs: [FileFingerprint]? = nil) {
        self.stage = stage
        self.unit = unit
        self.key = key
        self.version = MorphoVersion.current
        self.outputs = outputs.map(\.lastPathComponent)
        self.counts = counts
        self.seconds = seconds
        self.inputs = inputs
    }

    /// Where the record of the unit whose main output is `output` lives.
    public static func url(for output: URL) -> URL {
        output.deletingLastPathComponent().appendingPathComponent(output.lastPathComponent + ".done.json")
    }

    /// The record beside `output`, current or not.
    public static func read(for output: URL) -> UnitRecord? {
        guard let data = try? Data(contentsOf: url(for: output)) else { return nil }
        return try? JSONDecoder().decode(UnitRecord.self, from: data)
    }

    /// Writes the record beside `output` (atomically).
    public func write(for output: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: UnitRecord.url(for: output))
    }
}

/// The identity of a unit of work whose main output is `output`: a hash of its config (sorted-key JSON),
/// the Morpho version, `extra`, and the name and content hash of every input. Content hashes are reused
/// from the previous record for inputs whose size and modification time are unchanged, so a rerun reads
/// only what changed; an input rewritten with the same bytes keeps the unit current.
public struct UnitKey: Sendable {
    public let key: String
    public let inputs: [FileFingerprint]
    public let output: URL

    public init<C: Encodable>(config: C, inputs: [URL], extra: String = "", output: URL) throws {
        let known = Dictionary((UnitRecord.read(for: output)?.inputs ?? []).map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        let fingerprints = try inputs.map { try FileFingerprint.of($0, known: known[$0.path]) }
        var h = ContentHash.Hasher()
        h.update(try JSONEncoder.sorted.encode(config))
        h.update(Data("|\(MorphoVersion.current)|\(extra)".utf8))
        for (url, f) in zip(inputs, fingerprints) { h.update(Data("|\(url.lastPathComponent):\(f.hash)".utf8)) }
        self.key = h.digest()
        self.inputs = fingerprints
        self.output = output
    }

    /// The record of the unit if it is current: same key and all outputs present beside `output`.
    public var current: UnitRecord? {
        guard let record = UnitRecord.read(for: output), record.key == key else { return nil }
        let dir = output.deletingLastPathComponent()
        for name in record.outputs where !FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path) {
            return nil
        }
        return record
    }

    /// Writes the record of the finished unit beside `output`.
    public func finish(stage: String, unit: String, outputs: [URL], counts: [String: Int], seconds: Double) throws {
        try UnitRecord(stage: stage, unit: unit, key: key, outputs: outputs, counts: counts, seconds: seconds, inputs: inputs)
            .write(for: output)
    }
}

extension JSONEncoder {
    /// An encoder with sorted keys: the same value gives the same bytes.
    public static var sorted: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }
}
