import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MorphoCore

/// A resumable HTTP(S) download: the file grows in `<destination>.part` through HTTP range requests
/// (RFC 9110 §14) of `chunkSize` bytes, so a broken connection or a killed process loses at most one chunk
/// and the next attempt (or the next run) goes on from the bytes already there. The server's ETag or
/// Last-Modified is kept beside the part (`.part.json`) and sent as `If-Range`, so a file that changed on
/// the server restarts from zero instead of being stitched from two versions. The finished file is
/// checked against the size the server announced and only then renamed into place.
public struct HTTPDownload: Sendable {
    public var chunkSize = 32 << 20
    /// Attempts per chunk before giving up (network errors and 5xx answers are retried).
    public var attempts = 6
    /// Seconds before the first retry; doubled after each failed attempt.
    public var retryDelay = 1.0
    /// Seconds without a byte before a request is given up (URLSession's idle timeout).
    public var timeout = 120.0
    /// A server trickling bytes never trips the idle timeout: a chunk that has not arrived at this rate
    /// (bytes/s; at most `chunkSize / minimumRate` seconds, and never less than `minimumWait`) is given up
    /// and retried like a broken connection.
    public var minimumRate = 64 << 10
    public var minimumWait = 60.0
    public var progress = true

    /// Seconds one chunk may take.
    var chunkDeadline: Double { max(minimumWait, Double(chunkSize) / Double(max(1, minimumRate))) }

    public init() {}

    /// What the server said about the file when the download started.
    struct PartInfo: Codable, Equatable {
        var url: String
        var validator: String?
        var total: Int64?
    }

    /// Downloads `url` to `destination` unless it is already there. Returns the number of bytes fetched
    /// in this call (0 when the file was complete).
    @discardableResult
    public func fetch(_ url: URL, to destination: URL, label: String? = nil) throws -> Int64 {
        let fm = FileManager.default
        if fm.fileExists(atPath: destination.path) { return 0 }
        try fm.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        let part = destination.appendingPathExtension("part")
        let infoURL = part.appendingPathExtension("json")
        var info = (try? JSONDecoder().decode(PartInfo.self, from: Data(contentsOf: infoURL))).flatMap { $0.url == url.absoluteString ? $0 : nil }
        if info == nil { try? fm.removeItem(at: part) }  // a part without its record (or of another URL) cannot be trusted
        if !fm.fileExists(atPath: part.path) { _ = fm.createFile(atPath: part.path, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: part.path) else {
            throw MorphoError.file(path: part.path, problem: "cannot open for writing")
        }
        defer { try? handle.close() }
        var offset = Int64(try handle.seekToEnd())
        let started = offset
        let name = label ?? destination.lastPathComponent
        var reporter: ProgressReporter?
        let mib = { (bytes: Int64) in Int((bytes + (1 << 20) - 1) >> 20) }

        func saveInfo() throws {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            try AtomicFile.write(try encoder.encode(info), to: infoURL)
        }
        func restart(_ why: String) throws {
            log("\(name): \(why); starting again from byte 0")
            try handle.truncate(atOffset: 0)
            offset = 0
        }

        var emptyAnswers = 0
        while info?.total == nil || offset < info!.total! {
            var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
            request.setValue("bytes=\(offset)-\(offset + Int64(chunkSize) - 1)", forHTTPHeaderField: "Range")
            if offset > 0, let validator = info?.validator { request.setValue(validator, forHTTPHeaderField: "If-Range") }
            let (data, response) = try perform(request, name: name, offset: offset)
            let validator = response.value(forHTTPHeaderField: "ETag") ?? response.value(forHTTPHeaderField: "Last-Modified")
            switch response.statusCode {
            case 206:
                guard let range = ContentRange(response.value(forHTTPHeaderField: "Content-Range")), range.first == offset else {
                    throw MorphoError.file(path: url.absoluteString, problem: "the server answered a range request for byte \(offset) with Content-Range '\(response.value(forHTTPHeaderField: "Content-Range") ?? "")'")
                }
                if info == nil || info?.total != range.total || (offset == 0 && info?.validator != validator) {
                    info = PartInfo(url: url.absoluteString, validator: validator, total: range.total)
                    try saveInfo()
                }
                // A server that keeps answering with no bytes would be asked forever.
                emptyAnswers = data.isEmpty ? emptyAnswers + 1 : 0
                if emptyAnswers >= 3 {
                    throw MorphoError.file(path: url.absoluteString, problem: "the server answered the range request for byte \(offset) with no data 3 times in a row; run the command again later")
                }
                try handle.write(contentsOf: data)
                offset += Int64(data.count)
            case 200:
                // The server ignores ranges, or the file changed (If-Range failed): the body is the whole file.
                if offset > 0 { try restart("the server sent the whole file (it does not resume, or the file changed)") }
                info = PartInfo(url: url.absoluteString, validator: validator, total: Int64(data.count))
                try saveInfo()
                try handle.write(contentsOf: data)
                offset = Int64(data.count)
            case 416:
                // Nothing at or after `offset`: complete if the server's size is ours, else start over.
                let total = ContentRange(response.value(forHTTPHeaderField: "Content-Range"))?.total
                if let total, total == offset {
                    info = PartInfo(url: url.absoluteString, validator: validator, total: total)
                } else {
                    try restart("the server has \(total.map(String.init) ?? "an unknown number of") bytes, the partial file \(offset)")
                    info = nil
                }
            case 404, 410:
                throw MorphoError.file(path: url.absoluteString, problem: "not found on the server (HTTP \(response.statusCode))")
            default:
                throw MorphoError.file(path: url.absoluteString, problem: "the server answered HTTP \(response.statusCode)")
            }
            if reporter == nil, progress, let total = info?.total, total - started > Int64(chunkSize) {
                reporter = ProgressReporter("download \(name)", total: mib(total), unit: "MiB")
                reporter?.advance(by: mib(started))
            }
            reporter?.advance(by: mib(offset) - mib(offset - Int64(data.count)))
        }
        reporter?.finish()
        try handle.synchronize()
        let size = Int64(try handle.seekToEnd())
        guard size == info?.total else {
            throw MorphoError.file(path: part.path, problem: "holds \(size) bytes, the server announced \(info?.total ?? -1)")
        }
        guard rename(part.path, destination.path) == 0 else {
            throw MorphoError.file(path: destination.path, problem: "cannot move the finished download into place: \(String(cString: strerror(errno)))")
        }
        try? fm.removeItem(at: infoURL)
        return size - started
    }

    /// One request with retries: network errors and 5xx answers wait and try again.
    private func perform(_ request: URLRequest, name: String, offset: Int64) throws -> (Data, HTTPURLResponse) {
        var delay = retryDelay
        var lastProblem = ""
        for attempt in 1...max(1, attempts) {
            let result = HTTPDownload.send(request, deadline: chunkDeadline)
            switch result {
            case .success(let (data, response)) where response.statusCode < 500:
                return (data, response)
            case .success(let (_, response)):
                lastProblem = "HTTP \(response.statusCode)"
            case .failure(let error as Stalled):
                lastProblem = "stalled: no complete answer in \(String(format: "%.0f", error.seconds)) s (slower than \(minimumRate >> 10) KiB/s)"
            case .failure(let error):
                lastProblem = error.localizedDescription
            }
            if attempt < attempts {
                log("\(name): \(lastProblem) at byte \(offset); retrying in \(String(format: "%.0f", delay)) s (attempt \(attempt + 1) of \(attempts))")
                Thread.sleep(forTimeInterval: delay)
                delay *= 2
            }
        }
        throw MorphoError.file(path: request.url?.absoluteString ?? name,
                               problem: "download failed at byte \(offset) after \(attempts) attempts (\(lastProblem)); the partial file is kept and the next run resumes from it")
    }

    private final class Outcome: @unchecked Sendable {
        var value: Result<(Data, HTTPURLResponse), Error> = .failure(URLError(.unknown))
    }

    /// A request given up on because its answer did not arrive in time.
    struct Stalled: Error { var seconds: Double }

    /// A synchronous request on a session of its own (no caches, no cookies), cancelled when its answer
    /// has not arrived after `deadline` seconds.
    private static func send(_ request: URLRequest, deadline: Double) -> Result<(Data, HTTPURLResponse), Error> {
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        let task = session.dataTask(with: request) { data, response, error in
            if let error {
                outcome.value = .failure(error)
            } else if let http = response as? HTTPURLResponse {
                outcome.value = .success((data ?? Data(), http))
            } else {
                outcome.value = .failure(URLError(.badServerResponse))
            }
            done.signal()
        }
        task.resume()
        if done.wait(timeout: .now() + deadline) == .timedOut {
            task.cancel()
            _ = done.wait(timeout: .now() + 10)  // the handler reports the cancellation
            return .failure(Stalled(seconds: deadline))
        }
        return outcome.value
    }

    private static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        return URLSession(configuration: configuration)
    }()

    private func log(_ line: String) {
        if progress { FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }
}

/// `Content-Range: bytes FIRST-LAST/TOTAL` or `bytes */TOTAL`.
struct ContentRange {
    var first: Int64?
    var total: Int64?

    init?(_ header: String?) {
        guard let header, header.hasPrefix("bytes ") else { return nil }
        let parts = header.dropFirst(6).split(separator: "/", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        total = Int64(parts[1].trimmingCharacters(in: .whitespaces))
        if parts[0] != "*" {
            guard let dash = parts[0].firstIndex(of: "-"), let f = Int64(parts[0][..<dash]) else { return nil }
            first = f
        }
    }
}
