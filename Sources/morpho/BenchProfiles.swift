import ArgumentParser
import Foundation
import MorphoCore
import MorphoIO
import Profiling

/// `morpho bench profiles`: normalize + TVN + aggregate on a large synthetic single-cell table, Morpho
/// against pycytominer on the same file, each in its own process (time of the three steps, peak RSS).
struct BenchProfiles: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profiles",
        abstract: "Time normalize + TVN + aggregate on synthetic single cells against pycytominer (same data, same run).",
        discussion: """
        Needs pycytominer in a Python (`make test-venv` makes .venv-test). Example:
          morpho bench profiles --cells 1000000 --features 512
        """
    )

    @Option(help: "Cells (rows).") var cells = 1_000_000
    @Option(help: "Features (columns).") var features = 512
    @Option(help: "Folder for the generated data (default: a temporary folder, removed after).") var data: String?
    @Option(help: "Python with pycytominer (default: .venv-test/bin/python).") var python = ".venv-test/bin/python"
    @Option(help: "Run only one side: morpho or pycytominer (used by the benchmark itself).") var worker: String?
    @Flag(help: "Skip pycytominer.") var noPeer = false

    func run() throws {
        try Morpho.reportingErrors {
            if worker == "morpho", let data {
                try morphoWorker(URL(fileURLWithPath: data))
                return
            }
            let dir = data.map { URL(fileURLWithPath: $0) } ?? FileManager.default.temporaryDirectory.appendingPathComponent("morpho-bench-\(getpid())")
            defer { if data == nil { try? FileManager.default.removeItem(at: dir) } }
            if !FileManager.default.fileExists(atPath: dir.appendingPathComponent("features.f32").path) {
                try generate(dir)
            }
            say("data: \(cells) cells x \(features) features, 8 plates x 96 wells (16 DMSO wells per plate), \(dir.path)")
            let me = try runWorker(CommandLine.arguments[0], ["bench", "profiles", "--worker", "morpho", "--data", dir.path])
            say(String(format: "Morpho:      %7.2f s, peak %6.2f GiB", me.seconds, me.peakGiB))
            guard !noPeer else { return }
            let peer: WorkerResult
            do {
                peer = try runWorker(python, [ScriptLocator.script("bench_pycytominer.py"), dir.path])
            } catch let error as MorphoError {
                say("pycytominer: \(error.description)")
                return
            }
            say(String(format: "pycytominer: %7.2f s, peak %6.2f GiB", peer.seconds, peer.peakGiB))
            say(String(format: "ratio: Morpho is %.1fx faster and uses %.2fx the memory of pycytominer", peer.seconds / me.seconds, me.peakGiB / peer.peakGiB))
        }
    }

    struct WorkerResult { var seconds: Double; var peakGiB: Double }

    func runWorker(_ executable: String, _ args: [String]) throws -> WorkerResult {
        let out = try runForStdout(executable, args)
        guard let line = out.split(separator: "\n").last,
              let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let seconds = json["seconds"] as? Double, let kb = json["peak_kb"] as? Double else {
            throw MorphoError.data(context: "bench worker \(executable)", problem: "unexpected output: \(out.suffix(200))")
        }
        return WorkerResult(seconds: seconds, peakGiB: kb / 1_048_576)
    }

    /// Cells with correlated features: plate offsets, a per-well effect for treated wells, 8 shared
    /// latent factors plus noise. Written as raw float32 rows and a metadata CSV.
    func generate(_ dir: URL) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let wells = 8 * 96, d = features
        let progress = ProgressReporter("bench data", total: wells)
        let loadings = (0..<(8 * d)).map { i -> Float in var g = SeededGenerator(seed: 7, stream: "load/\(i)"); return Float(g.normal()) }
        let handle = try FileHandle(forWritingTo: { let u = dir.appendingPathComponent("features.f32"); _ = FileManager.default.createFile(atPath: u.path, contents: nil); return u }())
        var meta = "Metadata_Plate,Metadata_Well,Metadata_Compound\n"
        for w in 0..<wells {
            let plate = w / 96, id = WellID(row: (w % 96) / 12, column: w % 12 + 1)
            let control = (w % 96) % 6 == 0
            let n = cells / wells + (w < cells % wells ? 1 : 0)
            var g = SeededGenerator(seed: 11, stream: "well/\(w)")
            let effect = (0..<d).map { _ in control ? Float(0) : Float(0.5 * g.normal()) }
            var block = [Float](repeating: 0, count: n * d)
            for c in 0..<n {
                let latent = (0..<8).map { _ in Float(g.normal()) }
                for j in 0..<d {
                    var v = Float(plate) * 0.3 + effect[j] + 0.5 * Float(g.normal())
                    for l in 0..<8 { v += latent[l] * loadings[l * d + j] }
                    block[c * d + j] = v
                }
                meta += "P\(plate + 1),\(id),\(control ? "DMSO" : "cmp\(w % 40)")\n"
            }
            block.withUnsafeBytes { handle.write(Data($0)) }
            progress.advance()
        }
        progress.finish()
        try handle.close()
        try AtomicFile.write(Data(meta.utf8), to: dir.appendingPathComponent("metadata.csv"))
        try AtomicFile.write(Data((0..<d).map { "Cells_Feature_\($0)" }.joined(separator: "\n").utf8), to: dir.appendingPathComponent("features.txt"))
    }

    /// Loads the data, then times standardize (global, vs DMSO) + TVN (ZCA, global centre, fitted on
    /// DMSO cells) + mean per plate and well: the same steps as the pycytominer side.
    func morphoWorker(_ dir: URL) throws {
        let names = try String(contentsOf: dir.appendingPathComponent("features.txt"), encoding: .utf8).split(separator: "\n").map(String.init)
        let meta = try CSV.read(dir.appendingPathComponent("metadata.csv"))
        let raw = try Data(contentsOf: dir.appendingPathComponent("features.f32"), options: .alwaysMapped)
        let values = raw.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let table = try FeatureTable(metadataNames: meta.header, metadata: meta.columns.map { .strings($0) },
                                     featureNames: names, features: values, rowCount: meta.rowCount)
        let start = Date()
        let z = try ControlNormalization(method: .standardize, groupBy: nil).apply(table).0
        let t = try TypicalVariationNormalization(whitening: .zca, centerBy: nil).apply(z).0
        let wells = try Aggregate.aggregate(t, by: ["Metadata_Plate", "Metadata_Well"])
        let seconds = Date().timeIntervalSince(start)
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        say("{\"seconds\": \(seconds), \"peak_kb\": \(usage.ru_maxrss), \"wells\": \(wells.rowCount)}")
    }
}

/// Runs a benchmark worker and returns its stdout; a non-zero exit or a signal (with a hint for the
/// out-of-memory killer) is an error naming the executable.
func runForStdout(_ executable: String, _ args: [String], environment: [String: String] = [:]) throws -> String {
    guard FileManager.default.isExecutableFile(atPath: executable) else {
        throw MorphoError.file(path: executable, problem: "not an executable; run `make test-venv` or pass --python")
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = args
    if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let pipe = Pipe()
    p.standardOutput = pipe
    try p.run()
    let out = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    if p.terminationReason == .uncaughtSignal {
        let hint = p.terminationStatus == SIGKILL ? " (most likely the kernel's out-of-memory killer)" : ""
        throw MorphoError.data(context: "bench worker \(executable)", problem: "killed by signal \(p.terminationStatus)\(hint)")
    }
    guard p.terminationStatus == 0 else {
        throw MorphoError.data(context: "bench worker \(executable) \(args.first ?? "")", problem: "failed (exit \(p.terminationStatus))")
    }
    return String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Finds scripts/ beside the executable's package (the binary lives in .build/<config>/).
enum ScriptLocator {
    static func script(_ name: String) -> String {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            let candidate = dir.appendingPathComponent("scripts/\(name)")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate.path }
            dir = dir.deletingLastPathComponent()
        }
        return "scripts/\(name)"
    }
}
