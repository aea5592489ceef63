import Foundation

/// A fast 128-bit content hash of files, used to decide whether a unit of work must be redone
/// (not cryptographic: it detects changed inputs, it does not resist forgery).
///
/// Two 64-bit lanes read the data as little-endian 64-bit words w_i:
/// a = rotl(a ^ w_i, 29) * P1 and b = rotl(b + w_i, 31) * P2, the tail bytes padded with zeros, and the
/// length mixed into both lanes before the final avalanche (MurmurHash3's fmix64). Reads 4 MiB at a time.
public enum ContentHash {
    static let p1: UInt64 = 0x9E37_79B1_85EB_CA87
    static let p2: UInt64 = 0xC2B2_AE3D_27D4_EB4F

    /// Incremental state: feed bytes with `update`, read the hex digest with `digest`.
    public struct Hasher {
        var a: UInt64 = 0x243F_6A88_85A3_08D3
        var b: UInt64 = 0x1319_8A2E_0370_7344
        var length: UInt64 = 0
        var pending = [UInt8]()

        public init() {}

        public mutating func update(_ bytes: UnsafeRawBufferPointer) {
            var start = 0
            if !pending.isEmpty {
                let take = min(8 - pending.count, bytes.count)
                pending.append(contentsOf: bytes.prefix(take))
                start = take
                if pending.count == 8 {
                    pending.withUnsafeBytes { mix($0.loadUnaligned(as: UInt64.self)) }
                    pending.removeAll(keepingCapacity: true)
                }
            }
            let words = (bytes.count - start) / 8
            for i in 0..<words { mix(UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: start + 8 * i, as: UInt64.self))) }
            pending.append(contentsOf: bytes[(start + 8 * words)...])
            length &+= UInt64(bytes.count)
        }

        public mutating func update(_ data: Data) { data.withUnsafeBytes { update($0) } }

        @inline(__always) mutating func mix(_ w: UInt64) {
            a = ((a ^ w) << 29 | (a ^ w) >> 35) &* ContentHash.p1
            b = ((b &+ w) << 31 | (b &+ w) >> 33) &* ContentHash.p2
        }

        /// The 32-hex-digit digest of everything fed so far.
        public func digest() -> String {
            var copy = self
            if !copy.pending.isEmpty {
                var tail: UInt64 = 0
                for (k, byte) in copy.pending.enumerated() { tail |= UInt64(byte) << (8 * UInt64(k)) }
                copy.mix(tail)
            }
            let x = ContentHash.fmix(copy.a ^ copy.length), y = ContentHash.fmix(copy.b ^ (copy.length &* ContentHash.p1))
            return hex(ContentHash.fmix(x &+ y)) + hex(ContentHash.fmix(y ^ x))
        }

        private func hex(_ v: UInt64) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }
    }

    static func fmix(_ k0: UInt64) -> UInt64 {
        var k = k0
        k ^= k >> 33; k &*= 0xFF51_AFD7_ED55_8CCD
        k ^= k >> 33; k &*= 0xC4CE_B9FE_1A85_EC53
        k ^= k >> 33
        return k
    }

    /// The hash of `data`.
    public static func of(_ data: Data) -> String {
        var h = Hasher(); h.update(data); return h.digest()
    }

    /// The hash of a file's bytes; the error names the file when it cannot be read.
    public static func file(_ url: URL) throws -> String {
        guard let handle = try? FileHandle(forReadingFrom: url) else {
            throw MorphoError.file(path: url.path, problem: "missing or unreadable input")
        }
        defer { try? handle.close() }
        var h = Hasher()
        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: 1 << 22) ?? Data() } catch {
                throw MorphoError.file(path: url.path, problem: "cannot read: \(error.localizedDescription)")
            }
            if chunk.isEmpty { break }
            h.update(chunk)
        }
        return h.digest()
    }
}

/// One input of a unit of work: its content hash, with the size and modification time under which that
/// hash was computed (an input whose size and time are unchanged is not read again).
public struct FileFingerprint: Codable, Sendable, Equatable {
    public var path: String
    public var size: Int64
    public var modified: Double
    public var hash: String

    /// Size and modification time of `url`, or nil when it does not exist.
    static func stat(_ url: URL) -> (size: Int64, modified: Double)? {
        guard let a = try? FileManager.default.attributesOfItem(atPath: url.path) else { return nil }
        return ((a[.size] as? NSNumber)?.int64Value ?? -1, (a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? -1)
    }

    /// The fingerprint of `url`, reusing `known`'s hash when size and time match.
    public static func of(_ url: URL, known: FileFingerprint? = nil) throws -> FileFingerprint {
        guard let (size, modified) = stat(url) else { throw MorphoError.file(path: url.path, problem: "missing input") }
        if let known, known.size == size, known.modified == modified { return known }
        return FileFingerprint(path: url.path, size: size, modified: modified, hash: try ContentHash.file(url))
    }
}
