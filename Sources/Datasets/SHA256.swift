import CCrypto
import Foundation
import MorphoCore

/// SHA-256 (FIPS 180-4) of files, through OpenSSL's libcrypto (Debian's libssl-dev), and the
/// `SHA256SUMS` files that record them in `sha256sum` format (`<64 hex>  <relative path>`), so that
/// `sha256sum -c SHA256SUMS` checks a download by hand as Morpho does on a rerun.
public enum SHA256 {
    /// The hex digest of a file, read in 4 MiB blocks.
    public static func hex(of url: URL) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw MorphoError.file(path: url.path, problem: "cannot open to compute its SHA-256")
        }
        defer { try? handle.close() }
        guard let context = EVP_MD_CTX_new() else { throw MorphoError.engine(operation: "SHA-256", problem: "libcrypto could not allocate a context") }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else { throw MorphoError.engine(operation: "SHA-256", problem: "libcrypto has no SHA-256") }
        while true {
            let block: Data
            do { block = try handle.read(upToCount: 4 << 20) ?? Data() } catch {
                throw MorphoError.file(path: url.path, problem: "cannot read: \(error.localizedDescription)")
            }
            if block.isEmpty { break }
            block.withUnsafeBytes { _ = EVP_DigestUpdate(context, $0.baseAddress, $0.count) }
        }
        return finish(context)
    }

    /// The hex digest of bytes in memory.
    public static func hex(of data: Data) -> String {
        let context = EVP_MD_CTX_new()!
        defer { EVP_MD_CTX_free(context) }
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
        data.withUnsafeBytes { _ = EVP_DigestUpdate(context, $0.baseAddress, $0.count) }
        return finish(context)
    }

    private static func finish(_ context: OpaquePointer) -> String {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &digest, &length)
        return digest.prefix(Int(length)).map { String(format: "%02x", $0) }.joined()
    }
}

/// A `SHA256SUMS` file: digests of files under its folder, by path relative to it.
public struct SHA256Sums: Sendable {
    public let url: URL
    public private(set) var digests: [String: String] = [:]

    public var folder: URL { url.deletingLastPathComponent() }

    /// Reads `folder/SHA256SUMS` (empty when absent). A malformed line is an error naming it.
    public init(folder: URL) throws {
        url = folder.appendingPathComponent("SHA256SUMS")
        guard let data = FileManager.default.contents(atPath: url.path) else { return }
        for (i, line) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated() {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].count == 64, parts[0].allSatisfy(\.isHexDigit), parts[1].hasPrefix(" ") || parts[1].hasPrefix("*") else {
                throw MorphoError.table(file: url.path, line: i + 1, column: nil, problem: "not a sha256sum line ('<64 hex digits>  <file>')")
            }
            digests[String(parts[1].dropFirst())] = String(parts[0]).lowercased()
        }
    }

    /// Hashes `file` (under `folder`) and records its digest; call `save()` to write the record.
    @discardableResult
    public mutating func record(_ file: URL) throws -> String {
        let digest = try SHA256.hex(of: file)
        digests[relative(file)] = digest
        return digest
    }

    public mutating func record(_ relativePath: String, digest: String) { digests[relativePath] = digest }

    /// nil when `file` matches its recorded digest or has none; otherwise what differs.
    public func mismatch(_ file: URL) throws -> String? {
        guard let expected = recorded(file) else { return nil }
        let actual = try SHA256.hex(of: file)
        return actual == expected ? nil : "its SHA-256 is \(actual), but \(expected) was recorded in \(url.path) when it was downloaded"
    }

    /// The digest recorded for `file`, if any.
    public func recorded(_ file: URL) -> String? { digests[relative(file)] }

    /// Writes the record atomically, sorted by path.
    public func save() throws {
        let text = digests.keys.sorted().map { "\(digests[$0]!)  \($0)\n" }.joined()
        try AtomicFile.write(Data(text.utf8), to: url)
    }

    private func relative(_ file: URL) -> String {
        let base = folder.standardizedFileURL.path + "/", path = file.standardizedFileURL.path
        return path.hasPrefix(base) ? String(path.dropFirst(base.count)) : path
    }
}
