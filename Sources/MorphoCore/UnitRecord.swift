import Foundation

/// The record of one finished unit of work (one plate of one stage), written atomically after the
/// unit's outputs as `<output>.done.json`. A rerun skips the unit when the record exists, its key
/// (a hash of the stage's config and its inputs) is unchanged and every output is still there; a unit
/// a crash interrupted has no record and is redone from scratch.
public struct UnitRecord: Codable, Sendable, Equatable {
    public var stage: String
    public var unit: String
    public var key: String
    public var version: String
    public var outputs: [String]
    public var counts: [String: Int]
    public var seconds: Double

    public init(stage: String, unit: String, key: String, outputs: [URL], counts: [String: Int], seconds: Double) {
        self.stage = stage
        self.unit = unit
        self.key = key
        self.version = MorphoVersion.current
        self.outputs = outputs.map(\.lastPathComponent)
        self.counts = counts
        self.seconds = seconds
    }

    /// Where the record of the unit whose main output is `output` lives.
    public static func url(for output: URL) -> URL {
        output.deletingLastPathComponent().appendingPathComponent(output.lastPathComponent + ".done.json")
    }

    /// The record of `output` if it is current: same key and all outputs present beside it.
    public static func current(for output: URL, key: String) -> UnitRecord? {
        guard let data = try? Data(contentsOf: url(for: output)),
              let record = try? JSONDecoder().decode(UnitRecord.self, from: data),
              record.key == key else { return nil }
        let dir = output.deletingLastPathComponent()
        for name in record.outputs where !FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path) {
            return nil
        }
        return record
    }

    /// Writes the record beside `output` (atomically).
    public func write(for output: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: UnitRecord.url(for: output))
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

/// A stable key for a unit of work: FNV-1a over the config as sorted-key JSON, the Morpho version and
/// every input file's path, size and modification time (cheap to compute for thousands of images;
/// replacing or touching an input changes it).
public func unitKey<C: Encodable>(config: C, inputs: [URL], extra: String = "") throws -> String {
    var text = String(decoding: try JSONEncoder.sorted.encode(config), as: UTF8.self) + "|" + MorphoVersion.current + "|" + extra
    for url in inputs {
        let attributes = try? FileManager.default.attributesOfItem(atPath: url.path)
        let size = (attributes?[.size] as? NSNumber)?.int64Value ?? -1
        let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? -1
        text += "|\(url.path):\(size):\(modified)"
    }
    return String(stableHash(text), radix: 16)
}
