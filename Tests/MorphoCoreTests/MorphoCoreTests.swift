import Foundation
@testable import MorphoCore
import MorphoTestSupport
import Synchronization
import Testing

@Suite struct WellIDTests {
    @Test func parsesCommonForms() {
        #expect(WellID("A01") == WellID(row: 0, column: 1))
        #expect(WellID("g10") == WellID(row: 6, column: 10))
        #expect(WellID("B2") == WellID(row: 1, column: 2))
        #expect(WellID("AF48") == WellID(row: 31, column: 48))
        #expect(WellID("r01c01") == WellID(row: 0, column: 1))
        #expect(WellID("r16c24") == WellID(row: 15, column: 24))
    }

    @Test func rejectsNonWells() {
        for bad in ["", "A", "12", "A0", "A-1", "ABC1", "A1x"] { #expect(WellID(bad) == nil, "\(bad)") }
    }

    @Test func printsCanonically() {
        #expect(WellID(row: 6, column: 10).description == "G10")
        #expect(WellID(row: 0, column: 3).description == "A03")
        #expect(WellID(row: 26, column: 1).description == "AA01")
        #expect(WellID(row: 1, column: 2) < WellID(row: 1, column: 10))
    }
}

@Suite struct OrderingAndFormattingTests {
    @Test func naturalOrderComparesDigitRunsAsNumbers() {
        #expect(naturalLess("Week2", "Week10"))
        #expect(!naturalLess("Week10", "Week2"))
        #expect(naturalLess("Week1_22123", "Week1_22141"))
        #expect(naturalLess("s2", "s10"))
        #expect(naturalLess("a", "ab"))
        #expect(!naturalLess("a", "a"))
        let sorted = ["Week10_1", "Week2_5", "Week1_9"].sorted(by: naturalLess)
        #expect(sorted == ["Week1_9", "Week2_5", "Week10_1"])
    }

    @Test func formatsNumbersShortest() {
        #expect(formatNumber(3) == "3")
        #expect(formatNumber(0.003) == "0.003")
        #expect(formatNumber(-2.5) == "-2.5")
        #expect(formatNumber(.nan) == "NaN")
        #expect(Treatment(compound: "taxol", concentration: 0.3).key == "taxol@0.3")
    }

    @Test func formatsDurations() {
        #expect(formatDuration(42) == "42s")
        #expect(formatDuration(185) == "3m05s")
        #expect(formatDuration(3720) == "1h02m")
    }

    @Test func progressLineGivesRateAndTimeLeft() {
        let p = ProgressReporter("fields", total: 100, enabled: false)
        let line = p.format(done: 25, elapsed: 5)
        #expect(line == "fields: 25/100 (25%) 5.0/s, 15s left")
        #expect(p.format(done: 100, elapsed: 20).hasSuffix("took 20s"))
    }
}

@Suite struct RandomTests {
    @Test func sameSeedSameStream() {
        var a = SeededGenerator(seed: 7, stream: "plate/A01"), b = SeededGenerator(seed: 7, stream: "plate/A01")
        var c = SeededGenerator(seed: 7, stream: "plate/A02"), d = SeededGenerator(seed: 8, stream: "plate/A01")
        let xa = (0..<5).map { _ in a.next() }
        #expect(xa == (0..<5).map { _ in b.next() })
        #expect(xa != (0..<5).map { _ in c.next() })
        #expect(xa != (0..<5).map { _ in d.next() })
    }

    @Test func fnv1aMatchesPublishedVectors() {
        // FNV-1a 64-bit test vectors (Fowler/Noll/Vo reference).
        #expect(stableHash("") == 0xcbf2_9ce4_8422_2325)
        #expect(stableHash("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(stableHash("foobar") == 0x8594_4171_f739_67e8)
    }

    @Test func distributionsHaveTheirMoments() {
        var g = SeededGenerator(seed: 42)
        let n = 200_000
        var s = 0.0, s2 = 0.0, u = 0.0, p = 0.0, p2 = 0.0, q = 0.0
        for _ in 0..<n {
            let z = g.normal(); s += z; s2 += z * z
            u += g.uniform()
            let k = g.poisson(4); p += k; p2 += k * k
            q += g.poisson(400)
        }
        let mean = s / Double(n), variance = s2 / Double(n) - mean * mean
        #expect(abs(mean) < 0.01)
        #expect(abs(variance - 1) < 0.02)
        #expect(abs(u / Double(n) - 0.5) < 0.005)
        let pm = p / Double(n)
        #expect(abs(pm - 4) < 0.03)
        #expect(abs(p2 / Double(n) - pm * pm - 4) < 0.1)
        #expect(abs(q / Double(n) - 400) < 0.3)
    }
}

@Suite struct ImageTests {
    @Test func fieldOfViewRejectsMismatchedChannels() throws {
        let a = Image(width: 4, height: 3, value: 1, bitDepth: .uint16)
        let b = Image(width: 4, height: 4, value: 1, bitDepth: .uint16)
        #expect(throws: MorphoError.mismatchedImages(context: "P1 A01 s1", problem: "channel 'Actin' is 4x4 but channel 'DNA' is 4x3")) {
            try FieldOfView(channels: [("DNA", a), ("Actin", b)], context: "P1 A01 s1")
        }
        #expect(throws: MorphoError.self) { try FieldOfView(channels: [("DNA", a), ("DNA", a)], context: "x") }
        #expect(throws: MorphoError.self) { try FieldOfView(channels: [], context: "x") }
        let field = try FieldOfView(channels: [("DNA", a), ("Actin", a)], context: "x")
        #expect(field.width == 4 && field.height == 3 && field.channel("Actin") == a && field.channel("RNA") == nil)
    }

    @Test func statisticsAndIndexing() {
        var image = Image(width: 3, height: 2, pixels: [1, 2, 3, 4, 5, 6], bitDepth: .uint8)
        #expect(image[2, 1] == 6)
        image[0, 1] = -1
        #expect(image.range == (-1, 6))
        #expect(abs(image.mean - 16.0 / 6) < 1e-12)  // 1 + 2 + 3 - 1 + 5 + 6
        #expect(BitDepth.uint16.maxValue == 65535)
    }
}

@Suite struct FeatureTableTests {
    func table() throws -> FeatureTable {
        try FeatureTable(metadataNames: ["Metadata_Plate", "Metadata_Dose"],
                         metadata: [.strings(["P1", "P1", "P2"]), .numbers([0, 0.5, 1])],
                         featureNames: ["f1", "f2"], features: [1, 2, 3, 4, 5, 6], rowCount: 3)
    }

    @Test func accessorsAndSelection() throws {
        let t = try table()
        #expect(t[row: 1, feature: 1] == 4)
        #expect(Array(t.row(2)) == [5, 6])
        let s = t.selectingRows([2, 0])
        #expect(s.rowCount == 2 && s.features == [5, 6, 1, 2])
        #expect(s.metadataColumn("Metadata_Plate") == .strings(["P2", "P1"]))
        #expect(s.metadataColumn("Metadata_Dose")?.texts == ["1", "0"])
    }

    @Test func shapeErrorsNameTheColumn() throws {
        #expect(throws: MorphoError.data(context: "feature table", problem: "metadata column 'Metadata_Plate' has 2 values for 3 rows")) {
            try FeatureTable(metadataNames: ["Metadata_Plate"], metadata: [.strings(["a", "b"])], featureNames: ["f"], features: [1, 2, 3], rowCount: 3)
        }
        #expect(throws: MorphoError.data(context: "feature table", problem: "column 'f' appears twice")) {
            try FeatureTable(metadataNames: [], metadata: [], featureNames: ["f", "f"], features: [1, 2], rowCount: 1)
        }
        var t = try table()
        #expect(throws: MorphoError.self) { try t.setMetadata("Metadata_X", .strings(["a"])) }
        #expect(throws: MorphoError.self) { try t.setMetadata("f1", .strings(["a", "b", "c"])) }
        try t.setMetadata("Metadata_Well", .strings(["A01", "A02", "A01"]))
        #expect(t.metadataNames == ["Metadata_Plate", "Metadata_Dose", "Metadata_Well"])
    }

    @Test func nanFeaturesAreReportedByColumnAndRow() throws {
        let t = try FeatureTable(metadataNames: [], metadata: [], featureNames: ["a", "b"], features: [1, 2, 3, .nan], rowCount: 2)
        #expect(throws: MorphoError.data(context: "plate P1", problem: "feature 'b' is nan in row 2")) { try t.checkFinite(context: "plate P1") }
        try table().checkFinite(context: "ok")
    }
}

@Suite struct AtomicFileTests {
    @Test func writesAndLeavesNoTemporaryFiles() throws {
        let dir = TestPaths.temporaryDirectory("atomic")
        let url = dir.appendingPathComponent("sub/out.txt")
        try AtomicFile.write(Data("one".utf8), to: url)
        try AtomicFile.write(Data("two".utf8), to: url)
        #expect(try String(contentsOf: url, encoding: .utf8) == "two")
        #expect(try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path) == ["out.txt"])
    }

    @Test func aFailedWriteKeepsThePreviousFile() throws {
        struct Crash: Error {}
        let dir = TestPaths.temporaryDirectory("atomic")
        let url = dir.appendingPathComponent("out.txt")
        try AtomicFile.write(Data("complete".utf8), to: url)
        #expect(throws: Crash.self) {
            try AtomicFile.write(to: url) { tmp in
                try Data("half".utf8).write(to: tmp)
                throw Crash()
            }
        }
        #expect(try String(contentsOf: url, encoding: .utf8) == "complete")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["out.txt"])
    }
}

@Suite struct StaleTemporaryTests {
    @Test func removesOnlyFilesOfDeadWriters() throws {
        let dir = TestPaths.temporaryDirectory("stale")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("a/b"), withIntermediateDirectories: true)
        // PID 2^22 + 1 is above Linux's pid_max limit, so no process has it.
        let dead = dir.appendingPathComponent("a/b/.x.tif.tmp-4194305-12")
        let alive = dir.appendingPathComponent("a/.y.tif.tmp-\(getpid())-7")
        let other = dir.appendingPathComponent("a/.hidden")
        for url in [dead, alive, other] { try Data("x".utf8).write(to: url) }
        #expect(AtomicFile.removeStaleTemporaries(under: dir) == 1)
        #expect(!FileManager.default.fileExists(atPath: dead.path))
        #expect(FileManager.default.fileExists(atPath: alive.path) && FileManager.default.fileExists(atPath: other.path))
    }
}

@Suite struct ParallelTests {
    @Test func concurrentMapKeepsOrderAndRethrows() throws {
        let squares = try concurrentMap(1000) { $0 * $0 }
        #expect(squares == (0..<1000).map { $0 * $0 })
        struct Bad: Error {}
        #expect(throws: Bad.self) { _ = try concurrentMap(100) { i -> Int in if i == 37 { throw Bad() }; return i } }
    }

    /// At most `threads` items run at once (the pipeline's `threads` reaches Morpho's own loops).
    @Test func concurrentMapRunsAtMostThreadsAtOnce() throws {
        for threads in [1, 2] {
            let running = Mutex(0), most = Mutex(0)
            let out = try concurrentMap(16, threads: threads) { i -> Int in
                let now = running.withLock { $0 += 1; return $0 }
                most.withLock { $0 = max($0, now) }
                usleep(2000)
                running.withLock { $0 -= 1 }
                return i
            }
            #expect(out == Array(0..<16) && most.withLock { $0 } <= threads)
        }
    }
}

@Suite struct ConfinedPathTests {
    @Test func relativePathsStayInsideTheirRoot() throws {
        #expect(ConfinedPath.problem("Week1/Week1_22123") == nil)
        #expect(ConfinedPath.problem("a.tif", allowFolders: false) == nil)
        for bad in ["", "/etc", "~/x", "../x", "a/../../b", "a\\b", ".", "./"] { #expect(ConfinedPath.problem(bad) != nil, "\(bad)") }
        #expect(ConfinedPath.problem("a/b.tif", allowFolders: false) != nil)

        // A link inside the root that points outside it is refused; a root that does not exist yet is fine.
        let root = TestPaths.temporaryDirectory("confined")
        let outside = TestPaths.temporaryDirectory("confined-outside")
        try FileManager.default.createSymbolicLink(at: root.appendingPathComponent("link"), withDestinationURL: outside)
        #expect(throws: MorphoError.self) { try ConfinedPath.resolve("link/plate", under: root, context: "test") }
        #expect(try ConfinedPath.resolve("a/b", under: root, context: "test").path == root.appendingPathComponent("a/b").standardizedFileURL.path)
        let fresh = root.appendingPathComponent("not/yet")
        #expect(try ConfinedPath.resolve("x", under: fresh, context: "test").lastPathComponent == "x")
    }
}

@Suite struct RunFolderLockTests {
    func refusal(_ body: () throws -> RunFolderLock) -> String {
        do { _ = try body(); return "" } catch { return "\(error)" }
    }

    /// A whole run holds the folder alone; single-stage runs share it, but not one selection twice.
    @Test func wholeRunsExcludeEverythingUnitRunsShare() throws {
        let folder = TestPaths.temporaryDirectory("lock-modes")
        var whole: RunFolderLock? = try RunFolderLock.acquire(folder: folder, mode: .exclusive)
        #expect(refusal { try RunFolderLock.acquire(folder: folder, mode: .exclusive) }.contains("in use by another morpho run (in this process)"))
        #expect(refusal { try RunFolderLock.acquire(folder: folder, mode: .shared, selection: "embed-P1") } != "")
        whole = nil
        let a = try RunFolderLock.acquire(folder: folder, mode: .shared, selection: "embed-P1")
        let b = try RunFolderLock.acquire(folder: folder, mode: .shared, selection: "embed-P2")
        #expect(refusal { try RunFolderLock.acquire(folder: folder, mode: .shared, selection: "embed-P1") }.contains("embed-P1 of run folder"))
        #expect(refusal { try RunFolderLock.acquire(folder: folder, mode: .exclusive) } != "")
        withExtendedLifetime((whole, a, b)) {}
    }

    /// Another process's lock is named by PID and command line; once that process is killed the lock
    /// is gone with it (no stale lock to clear by hand).
    @Test func holderIsNamedAndAKilledHolderLeavesNoLock() throws {
        let folder = TestPaths.temporaryDirectory("lock-process")
        let lockFile = RunFolderLock.lockFile(folder: folder)
        FileManager.default.createFile(atPath: lockFile.path, contents: nil)
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        holder.arguments = ["--exclusive", "--close", lockFile.path, "sleep", "30"]
        try holder.run()
        while RunFolderLock.holders(of: lockFile).isEmpty && holder.isRunning { usleep(10_000) }
        let message = refusal { try RunFolderLock.acquire(folder: folder, mode: .exclusive) }
        #expect(message.contains("PID \(holder.processIdentifier): /usr/bin/flock --exclusive") && message.contains(folder.path), "\(message)")
        kill(holder.processIdentifier, SIGKILL)
        holder.waitUntilExit()
        #expect(refusal { try RunFolderLock.acquire(folder: folder, mode: .exclusive) } == "")
    }
}
