import Foundation
import MorphoCore
import Synchronization
import MorphoTestSupport
import Testing

/// The same pipeline file, seed and thread count give the same bytes: every output of a run (images,
/// locations, crops, checkpoints, model, embeddings, profiles, MoA results) except the run's own records
/// of when and how fast (`*.done.json`, `manifest.json`, `report.html`, `model/training_speed.json`).
/// Checked at 1 and 2 threads, with the other core idle and busy, and on the CPU features of other
/// machines of this kind (oneDNN, ATen and OpenBLAS capped to AVX2: what an AMD EPYC without AVX-512
/// runs; at 1 thread that once crashed in oneDNN's 1x1 strided convolution).
@Suite(.serialized) struct DeterminismTests {
    /// Files of a run folder by relative path, without the records of time and speed.
    static func outputs(_ run: URL) throws -> [String: Data] {
        let records = ["manifest.json", "report.html", "model/training_speed.json"]
        var out: [String: Data] = [:]
        for path in try FileManager.default.subpathsOfDirectory(atPath: run.path).sorted() {
            let url = run.appendingPathComponent(path)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue,
                  !path.hasSuffix(".done.json"), !records.contains(path) else { continue }
            out[path] = try Data(contentsOf: url)
        }
        return out
    }

    /// Runs the tiny pipeline in a new folder and returns its outputs.
    static func run(threads: Int, environment: [String: String] = [:], busyCore: Bool = false) throws -> [String: Data] {
        let dir = TestPaths.temporaryDirectory("determinism-t\(threads)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = try TinyPipeline.file(in: dir, threads: threads)
        let load = busyCore ? BusyCore() : nil
        defer { load?.finish() }
        let r = try MorphoBinary.run(["run", file.path, "--quiet"], environment: environment)
        #expect(r.status == 0, "threads \(threads) \(environment): \(r.stderr.suffix(3000))")
        return try outputs(dir.appendingPathComponent("run"))
    }

    static func expectSame(_ a: [String: Data], _ b: [String: Data], _ what: String) {
        #expect(a.keys.sorted() == b.keys.sorted(), "\(what): different files")
        for (path, data) in a.sorted(by: { $0.key < $1.key }) where b[path] != nil {
            #expect(data == b[path], "\(what): \(path) differs")
        }
        for required in ["model/model.h5", "model/checkpoint.h5", "model/training.json", "embeddings/Week1_22123.h5", "profiles/treatments.csv", "moa/moa.json"] {
            #expect(a[required] != nil, "\(what): no \(required)")
        }
    }

    @Test func twoRunsAtTwoThreadsGiveTheSameBytesWithTheOtherCoreBusy() throws {
        let reference = try Self.outputs(TinyPipeline.finished)
        Self.expectSame(reference, try Self.run(threads: 2, busyCore: true), "threads 2, busy core")
    }

    @Test func twoRunsAtOneThreadGiveTheSameBytes() throws {
        let idle = try Self.run(threads: 1)
        Self.expectSame(idle, try Self.run(threads: 1, busyCore: true), "threads 1, idle then busy core")
    }

    /// oneDNN, ATen and OpenBLAS pick kernels by CPU feature; capped to AVX2 they run what a machine
    /// without AVX-512 runs (on such a machine the caps change nothing).
    @Test(arguments: [1, 2]) func trainsAndEmbedsReproduciblyOnAVX2Kernels(threads: Int) throws {
        let avx2 = ["ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "OPENBLAS_CORETYPE": "Haswell"]
        let first = try Self.run(threads: threads, environment: avx2)
        Self.expectSame(first, try Self.run(threads: threads, environment: avx2, busyCore: true), "AVX2 kernels, threads \(threads)")
    }
}

/// A bounded load on another core: a thread that spins until `finish` or for 10 minutes at most.
final class BusyCore: Sendable {
    private let stop = Atomic<Bool>(false)

    init() {
        let thread = Thread { [self] in
            let end = Date().addingTimeInterval(600)
            while !stop.load(ordering: .relaxed), Date() < end {}
        }
        thread.start()
    }

    func finish() { stop.store(true, ordering: .relaxed) }
}
