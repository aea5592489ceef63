import Foundation
import MorphoCore

/// Where the tests find the repository, `../shared`, and fixtures.
public enum TestPaths {
    /// The repository root (this file is Tests/Support/TestSupport.swift).
    public static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// `../shared` beside the checkout, or `$MORPHO_SHARED`.
    public static let shared: URL = ProcessInfo.processInfo.environment["MORPHO_SHARED"].map { URL(fileURLWithPath: $0) }
        ?? repoRoot.deletingLastPathComponent().appendingPathComponent("shared")

    public static let realData = shared.appendingPathComponent("data/real")
    public static let bbbc021 = shared.appendingPathComponent("data/bbbc021")
    public static let bbbc021ImageCSV = bbbc021.appendingPathComponent("BBBC021_v1_image.csv.gz")
    public static let bbbc021MoACSV = bbbc021.appendingPathComponent("BBBC021_v1_moa.csv")
    public static let ljosaProfiles = bbbc021.appendingPathComponent("ljosa2013_per_well_mean.csv.gz")

    public static func fixture(_ relative: String) -> URL {
        repoRoot.appendingPathComponent("Tests/MorphoIOTests/Fixtures").appendingPathComponent(relative)
    }

    /// A new empty folder under the system temporary folder.
    public static func temporaryDirectory(_ label: String = "test") -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("morpho-\(label)-\(getpid())-\(UUID().uuidString.prefix(8))")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// The Python peers (tifffile, h5py, pycytominer) in the test virtualenv made by `make test`.
public enum Peers {
    /// `$MORPHO_TEST_PYTHON`, else `.venv-test/bin/python` when it exists.
    public static let python: URL? = {
        if let p = ProcessInfo.processInfo.environment["MORPHO_TEST_PYTHON"] { return URL(fileURLWithPath: p) }
        let venv = TestPaths.repoRoot.appendingPathComponent(".venv-test/bin/python")
        return FileManager.default.isExecutableFile(atPath: venv.path) ? venv : nil
    }()

    /// `make test` sets MORPHO_REQUIRE_PEERS=1: then a missing peer is a failure, not a skip.
    public static let required = ProcessInfo.processInfo.environment["MORPHO_REQUIRE_PEERS"] == "1"

    public static var available: Bool { python.map { FileManager.default.isExecutableFile(atPath: $0.path) } ?? false }

    /// Runs a script from `scripts/` (or inline code with `-c`) and returns its stdout.
    public static func run(_ arguments: [String]) throws -> String {
        guard let python else { throw MorphoError.config(key: "MORPHO_TEST_PYTHON", problem: "no test Python") }
        return try runProcess(python, arguments, cwd: TestPaths.repoRoot)
    }
}

/// Runs an executable and returns its stdout; throws with stderr when it exits non-zero.
public func runProcess(_ executable: URL, _ arguments: [String], cwd: URL? = nil) throws -> String {
    let result = try runProcessCapturing(executable, arguments, cwd: cwd)
    guard result.status == 0 else {
        throw MorphoError.data(context: "\(executable.lastPathComponent) \(arguments.joined(separator: " "))",
                               problem: "exit \(result.status): \(result.stderr)")
    }
    return result.stdout
}

/// Runs an executable; returns exit status, stdout and stderr.
/// `environment` adds to (or overrides) this process's variables.
public func runProcessCapturing(_ executable: URL, _ arguments: [String], cwd: URL? = nil,
                                environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let cwd { process.currentDirectoryURL = cwd }
    if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both pipes while the process runs so neither fills up.
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}
