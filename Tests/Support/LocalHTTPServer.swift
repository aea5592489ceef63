import Foundation
import MorphoCore

/// `scripts/range_http_server.py` on 127.0.0.1 serving `root` (range requests, ETags, injected faults),
/// for the download tests: this machine cannot reach the internet.
public final class LocalHTTPServer {
    public let root: URL
    public let port: Int
    private let process: Process
    private let logFile: URL

    /// `options`: the script's fault flags, e.g. ["--drop", "a.zip:1000:1"].
    public init(root: URL, options: [String] = []) throws {
        guard let python = Peers.python else { throw MorphoError.config(key: "MORPHO_TEST_PYTHON", problem: "no test Python") }
        self.root = root
        let work = TestPaths.temporaryDirectory("http")
        logFile = work.appendingPathComponent("requests.log")
        let portFile = work.appendingPathComponent("port")
        process = Process()
        process.executableURL = python
        process.arguments = [TestPaths.repoRoot.appendingPathComponent("scripts/range_http_server.py").path, root.path,
                             "--port-file", portFile.path, "--log", logFile.path] + options
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: portFile.path) {
            guard Date() < deadline, process.isRunning else {
                process.terminate()
                throw MorphoError.data(context: "test HTTP server", problem: "did not start")
            }
            usleep(20_000)
        }
        port = Int(try String(contentsOf: portFile, encoding: .utf8))!
    }

    public var baseURL: URL { URL(string: "http://127.0.0.1:\(port)/")! }

    /// One line per request so far: "<name> range=<Range> if-range=<If-Range> status=<code>".
    public var requests: [String] {
        ((try? String(contentsOf: logFile, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    public func stop() {
        kill(process.processIdentifier, SIGKILL)  // SIGTERM may be blocked in a child spawned from a worker thread
        process.waitUntilExit()
    }

    deinit { if process.isRunning { stop() } }
}
