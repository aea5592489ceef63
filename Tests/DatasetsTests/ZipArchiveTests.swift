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

    /// Crafted sizes: an entry whose directory record understates its size stops unpacking as soon as
    /// it outgrows it (not after writing all of it); ZIP64 offsets and sizes near 2^64 are errors, not
    /// integer-overflow traps.
    /// The offset of the last `PK<a><b>` signature in `bytes`.
    static func lastSignature(_ bytes: [UInt8], _ a: UInt8, _ b: UInt8) -> Int? {
        var k = bytes.count - 4
        while k >= 0 {
            if bytes[k] == 0x50, bytes[k + 1] == 0x4b, bytes[k + 2] == a, bytes[k + 3] == b { return k }
            k -= 1
        }
        return nil
    }

    @Test(.enabled(if: Peers.available)) func craftedSizesAreErrorsNotTraps() throws {
        let dir = TestPaths.temporaryDirectory("zipcraft")
        let zip = dir.appendingPathComponent("a.zip")
        _ = try Peers.run(["-c", """
        import sys, zipfile
        with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("zeros.bin", bytes(8 << 20))
        """, zip.path])
        var bytes = [UInt8](try Data(contentsOf: zip))
        // The central directory record's uncompressed size (offset 24 of the record) says 1000 bytes.
        let record = try #require(Self.lastSignature(bytes, 1, 2))
        bytes[record + 24] = 0xE8; bytes[record + 25] = 0x03; bytes[record + 26] = 0; bytes[record + 27] = 0
        try Data(bytes).write(to: zip)
        let archive = try ZipArchive(url: zip)
        let out = dir.appendingPathComponent("zeros.bin")
        let error = #expect(throws: MorphoError.self) { try archive.extract(archive.entries[0], to: out) }
        #expect(String(describing: error!).contains("more than the 1000 bytes"), "\(String(describing: error))")
        let left = (try? FileManager.default.attributesOfItem(atPath: out.path)[.size] as? Int) ?? 0
        #expect(left <= 2 << 20)  // at most one inflate chunk past the declared size

        // ZIP64: the end record's directory offset set to 2^64 - 16.
        _ = try Peers.run(["-c", """
        import sys, zipfile
        with zipfile.ZipFile(sys.argv[1], "w", allowZip64=True) as z:
            z.writestr("a.txt", b"hello")
        """, zip.path])
        bytes = [UInt8](try Data(contentsOf: zip))
        let end = try #require(Self.lastSignature(bytes, 5, 6))
        for k in 0..<4 { bytes[end + 12 + k] = 0xFF; bytes[end + 16 + k] = 0xFF }   // sizes say "see ZIP64"
        var tail = [UInt8](repeating: 0, count: 56)
        tail[0] = 0x50; tail[1] = 0x4b; tail[2] = 6; tail[3] = 6
        for k in 40..<56 { tail[k] = 0xFF }; tail[48] = 0xF0                     // size and offset near 2^64
        var locator = [UInt8](repeating: 0, count: 20)
        locator[0] = 0x50; locator[1] = 0x4b; locator[2] = 6; locator[3] = 7
        let recordAt = UInt64(end)
        for k in 0..<8 { locator[8 + k] = UInt8((recordAt >> (8 * UInt64(k))) & 0xFF) }
        bytes = Array(bytes[..<end]) + tail + locator + Array(bytes[end...])
        try Data(bytes).write(to: zip)
        let zip64 = #expect(throws: MorphoError.self) { try ZipArchive(url: zip) }
        #expect(String(describing: zip64!).contains(zip.path), "\(String(describing: zip64))")
    }
}
