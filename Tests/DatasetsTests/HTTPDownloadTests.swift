import Foundation
import MorphoCore
import MorphoTestSupport
import Testing
@testable import Datasets

/// Downloads from a local server (scripts/range_http_server.py) with faults injected on demand.
@Suite(.serialized) struct HTTPDownloadTests {
    static let size = 300_000

    /// A served folder holding `file.bin` (random bytes) and a destination folder.
    static func setUp() throws -> (served: URL, dest: URL, data: Data) {
        let dir = TestPaths.temporaryDirectory("dl")
        let served = dir.appendingPathComponent("served"), dest = dir.appendingPathComponent("dest")
        try FileManager.default.createDirectory(at: served, withIntermediateDirectories: true)
        var rng = SeededGenerator(seed: 3)
        let data = Data((0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        try data.write(to: served.appendingPathComponent("file.bin"))
        return (served, dest, data)
    }

    static func downloader(chunk: Int = 64 << 10, attempts: Int = 3) -> HTTPDownload {
        var http = HTTPDownload()
        http.chunkSize = chunk
        http.attempts = attempts
        http.retryDelay = 0.01
        http.progress = false
        return http
    }

    static func ranges(_ server: LocalHTTPServer) -> [String] {
        server.requests.map { line in String(line.split(separator: " ")[1].dropFirst("range=".count)) }
    }

    @Test(.enabled(if: Peers.available)) func downloadsInRangeChunks() throws {
        let (served, dest, data) = try Self.setUp()
        let server = try LocalHTTPServer(root: served)
        defer { server.stop() }
        let out = dest.appendingPathComponent("file.bin")
        let fetched = try Self.downloader().fetch(server.baseURL.appendingPathComponent("file.bin"), to: out)
        #expect(fetched == Int64(Self.size))
        #expect(try Data(contentsOf: out) == data)
        #expect(Self.ranges(server) == ["bytes=0-65535", "bytes=65536-131071", "bytes=131072-196607", "bytes=196608-262143", "bytes=262144-327679"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dest.path) == ["file.bin"])  // no .part left
        // Already there: nothing is fetched.
        #expect(try Self.downloader().fetch(server.baseURL.appendingPathComponent("file.bin"), to: out) == 0)
        #expect(server.requests.count == 5)
    }

    @Test(.enabled(if: Peers.available)) func brokenRunResumesFromThePartialFile() throws {
        let (served, dest, data) = try Self.setUp()
        // Requests 3 and 4 fail: with 2 attempts the first run stops after two chunks.
        let server = try LocalHTTPServer(root: served, options: ["--fail", "file.bin:2:2"])
        defer { server.stop() }
        let url = server.baseURL.appendingPathComponent("file.bin"), out = dest.appendingPathComponent("file.bin")
        let error = #expect(throws: MorphoError.self) { try Self.downloader(attempts: 2).fetch(url, to: out) }
        #expect(String(describing: error!).contains("partial file is kept"))
        #expect(try Data(contentsOf: out.appendingPathExtension("part")) == data.prefix(2 * 65536))
        // The next run asks for the rest only, with the ETag, and ends with the same bytes.
        let fetched = try Self.downloader().fetch(url, to: out)
        #expect(fetched == Int64(Self.size - 2 * 65536))
        #expect(try Data(contentsOf: out) == data)
        let lines = server.requests
        #expect(lines.count == 7)
        #expect(lines[4].contains("range=bytes=131072-196607") && lines[4].contains("if-range=\"") && lines[4].hasSuffix("status=206"), "\(lines)")
    }

    @Test(.enabled(if: Peers.available)) func droppedConnectionIsRetried() throws {
        let (served, dest, data) = try Self.setUp()
        let server = try LocalHTTPServer(root: served, options: ["--drop", "file.bin:1000:1"])
        defer { server.stop() }
        let out = dest.appendingPathComponent("file.bin")
        try Self.downloader().fetch(server.baseURL.appendingPathComponent("file.bin"), to: out)
        #expect(try Data(contentsOf: out) == data)
        #expect(Array(Self.ranges(server).prefix(2)) == ["bytes=0-65535", "bytes=0-65535"])
    }

    @Test(.enabled(if: Peers.available)) func serverWithoutRangesSendsTheWholeFile() throws {
        let (served, dest, data) = try Self.setUp()
        let server = try LocalHTTPServer(root: served, options: ["--no-ranges"])
        defer { server.stop() }
        let out = dest.appendingPathComponent("file.bin")
        try Self.downloader().fetch(server.baseURL.appendingPathComponent("file.bin"), to: out)
        #expect(try Data(contentsOf: out) == data)
        #expect(server.requests.count == 1 && server.requests[0].hasSuffix("status=200"))
    }

    @Test(.enabled(if: Peers.available)) func fileChangedOnTheServerStartsOver() throws {
        let (served, dest, _) = try Self.setUp()
        let server = try LocalHTTPServer(root: served, options: ["--fail", "file.bin:1:1"])
        defer { server.stop() }
        let url = server.baseURL.appendingPathComponent("file.bin"), out = dest.appendingPathComponent("file.bin")
        #expect(throws: MorphoError.self) { try Self.downloader(attempts: 1).fetch(url, to: out) }
        // A new version (another size, another ETag) replaces the file: If-Range fails, the server sends it whole.
        let newer = Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try newer.write(to: served.appendingPathComponent("file.bin"))
        try Self.downloader().fetch(url, to: out)
        #expect(try Data(contentsOf: out) == newer)
        #expect(server.requests.last!.hasSuffix("status=200"))
    }

    @Test(.enabled(if: Peers.available)) func missingFileIsNamedWithoutRetrying() throws {
        let (served, dest, _) = try Self.setUp()
        let server = try LocalHTTPServer(root: served)
        defer { server.stop() }
        let url = server.baseURL.appendingPathComponent("nothing.zip")
        let error = #expect(throws: MorphoError.self) { try Self.downloader().fetch(url, to: dest.appendingPathComponent("nothing.zip")) }
        #expect(String(describing: error!).contains(url.absoluteString) && String(describing: error!).contains("404"))
        #expect(server.requests.count == 1)
    }

    /// A server that answers range requests with 206 and an empty body is given up on after 3 such
    /// answers, with the URL and byte named (it used to be asked 17,000 times in 40 s).
    @Test(.enabled(if: Peers.available)) func emptyRangeAnswersEndTheDownload() throws {
        let (served, dest, _) = try Self.setUp()
        let server = try LocalHTTPServer(root: served, options: ["--empty-206", "file.bin"])
        defer { server.stop() }
        let url = server.baseURL.appendingPathComponent("file.bin")
        let error = #expect(throws: MorphoError.self) { try Self.downloader().fetch(url, to: dest.appendingPathComponent("file.bin")) }
        #expect(String(describing: error!).contains(url.absoluteString) && String(describing: error!).contains("no data 3 times"), "\(String(describing: error))")
        #expect(server.requests.count == 3)
    }

    /// A server trickling 2 bytes/s never trips the idle timeout; the chunk is given up after its deadline
    /// and asked again (the second answer is at full speed), and a server that always trickles ends the
    /// download with the URL, the byte and the rate named. (A trickled 64 KiB chunk would take 9 hours,
    /// a fast one milliseconds: the 3 s deadline separates them on any machine.)
    @Test(.enabled(if: Peers.available)) func tricklingServerIsGivenUpAndAskedAgain() throws {
        let (served, dest, data) = try Self.setUp()
        try data.write(to: served.appendingPathComponent("slow.bin"))
        let server = try LocalHTTPServer(root: served, options: ["--slow", "file.bin:1", "--slow", "slow.bin:99"])
        defer { server.stop() }
        var http = Self.downloader(attempts: 2)
        http.minimumWait = 3
        let out = dest.appendingPathComponent("file.bin")
        try http.fetch(server.baseURL.appendingPathComponent("file.bin"), to: out)
        #expect(try Data(contentsOf: out) == data)
        #expect(Array(Self.ranges(server).prefix(2)) == ["bytes=0-65535", "bytes=0-65535"])
        let url = server.baseURL.appendingPathComponent("slow.bin")
        let error = #expect(throws: MorphoError.self) { try http.fetch(url, to: dest.appendingPathComponent("slow.bin")) }
        let message = String(describing: error!)
        #expect(message.contains(url.absoluteString) && message.contains("at byte 0 after 2 attempts (stalled: no complete answer in 3 s (slower than 64 KiB/s))"), "\(message)")
    }

    @Test func sha256MatchesTheStandardVectorsAndCoreutils() throws {
        #expect(SHA256.hex(of: Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(of: Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let (_, dest, data) = try Self.setUp()
        try FileManager.default.createDirectory(at: dest, withIntermediateDirectories: true)
        let file = dest.appendingPathComponent("file.bin")
        try (data + data + data + data + data + data + data + data + data + data + data + data + data + data + data).write(to: file)  // > one 4 MiB block
        let coreutils = try runProcess(URL(fileURLWithPath: "/usr/bin/sha256sum"), [file.path])
        #expect(try SHA256.hex(of: file) == String(coreutils.prefix(64)))
        var sums = try SHA256Sums(folder: dest)
        try sums.record(file)
        try sums.save()
        #expect(try SHA256Sums(folder: dest).mismatch(file) == nil)
        try data.write(to: file)
        #expect(try SHA256Sums(folder: dest).mismatch(file)?.contains("was recorded in") == true)
        try Data("not a line\n".utf8).write(to: sums.url)
        #expect(throws: MorphoError.self) { try SHA256Sums(folder: dest) }
    }

    @Test func contentRangeHeaders() {
        #expect(ContentRange("bytes 0-99/1000")?.first == 0 && ContentRange("bytes 0-99/1000")?.total == 1000)
        #expect(ContentRange("bytes */1000")?.first == nil && ContentRange("bytes */1000")?.total == 1000)
        #expect(ContentRange("bytes 5-9/*")?.total == nil)
        #expect(ContentRange("items 0-1/2") == nil && ContentRange(nil) == nil)
    }
}
