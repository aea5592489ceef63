import Foundation
import MorphoCore
import MorphoTestSupport
import Testing
@testable import Datasets

/// Archives written by Python's `zipfile` (an independent writer) must read back byte for byte.
@Suite struct ZipArchiveTests {
    /// Zips the files of `folder` into `zip` with Python; `methods` maps a name to "stored" or "deflated".
    static func pythonZip(_ folder: URL, _ zip: URL, methods: [String: String], prefix: String = "") throws {
        let code = """
        import json, os, sys, zipfile
        folder, out, methods, prefix = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
        with zipfile.ZipFile(out, "w") as z:
            z.writestr(zipfile.ZipInfo(prefix + "sub/"), b"")
            for name in sorted(os.listdir(folder)):
                kind = zipfile.ZIP_STORED if methods.get(name) == "stored" else zipfile.ZIP_DEFLATED
                z.write(os.path.join(folder, name), prefix + name, compress_type=kind)
        """
        let json = String(decoding: try JSONEncoder().encode(methods), as: UTF8.self)
        _ = try Peers.run(["-c", code, folder.path, zip.path, json, prefix])
    }

    static func sampleFiles(in folder: URL) throws -> [String: Data] {
        var rng = SeededGenerator(seed: 7)
        let files: [String: Data] = [
            "small.txt": Data("hello, plate\n".utf8),
            "empty.bin": Data(),
            "text.csv": Data((0..<120_000).map { "row \($0),\($0 % 17)\n" }.joined().utf8),  // ~1.5 MB, compressible
            "noise.bin": Data((0..<2_500_000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }),  // incompressible
        ]
        for (name, data) in files { try data.write(to: folder.appendingPathComponent(name)) }
        return files
    }

    @Test(.enabled(if: Peers.available)) func extractsWhatPythonWrote() throws {
        let dir = TestPaths.temporaryDirectory("zip")
        let source = dir.appendingPathComponent("in")
        try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
        let files = try Self.sampleFiles(in: source)
        let zip = dir.appendingPathComponent("a.zip")
        try Self.pythonZip(source, zip, methods: ["small.txt": "stored", "noise.bin": "stored"], prefix: "Week1_22123/")
        let archive = try ZipArchive(url: zip)
        #expect(archive.entries.count == files.count + 1)
        #expect(archive.entries.filter(\.isDirectory).map(\.name) == ["Week1_22123/sub/"])
        #expect(Set(archive.entries.map(\.method)) == [0, 8])
        for entry in archive.entries where !entry.isDirectory {
            let out = dir.appendingPathComponent("out-" + (entry.name as NSString).lastPathComponent)
            try archive.extract(entry, to: out)
            #expect(try Data(contentsOf: out) == files[(entry.name as NSString).lastPathComponent], "\(entry.name)")
        }
    }

    @Test(.enabled(if: Peers.available)) func readsZip64EndRecords() throws {
        // 70,000 entries do not fit the 16-bit count of the classic end record: Python writes ZIP64 records.
        let dir = TestPaths.temporaryDirectory("zip64")
        let zip = dir.appendingPathComponent("many.zip")
        _ = try Peers.run(["-c", """
        import sys, zipfile
        with zipfile.ZipFile(sys.argv[1], "w", allowZip64=True) as z:
            for i in range(70000):
                z.writestr(f"f{i}.txt", f"entry {i}\\n")
        """, zip.path])
        let archive = try ZipArchive(url: zip)
        #expect(archive.entries.count == 70_000)
        let last = archive.entries[69_999]
        #expect(last.name == "f69999.txt")
        let out = dir.appendingPathComponent("last.txt")
        try archive.extract(last, to: out)
        #expect(try String(contentsOf: out, encoding: .utf8) == "entry 69999\n")
    }

    @Test(.enabled(if: Peers.available)) func damagedDataFailsItsCheckNamingTheEntry() throws {
        let dir = TestPaths.temporaryDirectory("zipbad")
        let source = dir.appendingPathComponent("in")
        try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
        _ = try Self.sampleFiles(in: source)
        let zip = dir.appendingPathComponent("a.zip")
        try Self.pythonZip(source, zip, methods: ["noise.bin": "stored"])
        let entry = try #require(try ZipArchive(url: zip).entries.first { $0.name == "noise.bin" })
        var bytes = try Data(contentsOf: zip)
        bytes[Int(entry.localHeaderOffset) + 30 + "noise.bin".utf8.count + 1000] ^= 0xFF
        try bytes.write(to: zip)
        let error = #expect(throws: MorphoError.self) { try ZipArchive(url: zip).extract(entry, to: dir.appendingPathComponent("x")) }
        let text = String(describing: error!)
        #expect(text.contains("noise.bin") && text.contains("CRC-32") && text.contains(zip.path), "\(text)")

        // A deflated entry with damaged data fails too (corrupt stream or CRC).
        try Self.pythonZip(source, zip, methods: [:])
        let text2 = try #require(try ZipArchive(url: zip).entries.first { $0.name == "text.csv" })
        var bytes2 = try Data(contentsOf: zip)
        bytes2[Int(text2.localHeaderOffset) + 30 + "text.csv".utf8.count + 5000] ^= 0x55
        try bytes2.write(to: zip)
        #expect(throws: MorphoError.self) { try ZipArchive(url: zip).extract(text2, to: dir.appendingPathComponent("y")) }
    }

    @Test(.enabled(if: Peers.available)) func truncatedArchiveIsNamed() throws {
        let dir = TestPaths.temporaryDirectory("ziptrunc")
        let source = dir.appendingPathComponent("in")
        try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
        _ = try Self.sampleFiles(in: source)
        let zip = dir.appendingPathComponent("a.zip")
        try Self.pythonZip(source, zip, methods: [:])
        let bytes = try Data(contentsOf: zip)
        try bytes.prefix(bytes.count / 2).write(to: zip)
        let error = #expect(throws: MorphoError.self) { try ZipArchive(url: zip) }
        #expect(String(describing: error!).contains(zip.path))
        #expect(String(describing: error!).contains("truncated"))
        try Data("not a zip".utf8).write(to: zip)
        #expect(throws: MorphoError.self) { try ZipArchive(url: zip) }
    }
}
