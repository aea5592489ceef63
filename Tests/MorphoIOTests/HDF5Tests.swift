import Foundation
@testable import MorphoIO
import MorphoCore
import MorphoTestSupport
import Testing

@Suite struct HDF5Tests {
    @Test func roundTripsMatricesVectorsStringsAndAttributes() throws {
        let url = TestPaths.temporaryDirectory("h5").appendingPathComponent("t.h5")
        let matrix = (0..<(1000 * 7)).map { Float($0) * 0.25 - 3 }
        try HDF5File.writeAtomically(to: url) { f in
            try f.writeMatrix("/a/b/m", matrix, rows: 1000, cols: 7)
            try f.writeDoubles("/v", [1.5, -2, .pi])
            try f.writeStrings("/names", ["DMSO", "taxol", "", "ünïcode, \"quoted\""])
            try f.writeMatrix("/empty", [], rows: 0, cols: 5)
            try f.setAttribute("plate", "Week1_22123")
            try f.setAttribute("version", 2.5, on: "/a/b/m")
            try f.setAttribute("plate", "replaced")
        }
        let f = try HDF5File(opening: url)
        let m = try f.readMatrix("/a/b/m")
        #expect(m.rows == 1000 && m.cols == 7 && m.values == matrix)
        #expect(try f.readDoubles("/v") == [1.5, -2, .pi])
        #expect(try f.readStrings("/names") == ["DMSO", "taxol", "", "ünïcode, \"quoted\""])
        let e = try f.readMatrix("/empty")
        #expect(e.rows == 0 && e.cols == 5 && e.values.isEmpty)
        #expect(try f.stringAttribute("plate") == "replaced")
        #expect(try f.numberAttribute("version", on: "/a/b/m") == 2.5)
        #expect(try f.stringAttribute("absent") == nil)
        #expect(f.exists("/a/b") && !f.exists("/a/c"))
        #expect(try f.members(of: "/") == ["a", "empty", "names", "v"])
        #expect(try f.attributeNames() == ["plate"] && f.attributeNames(on: "/a/b/m") == ["version"])
    }

    @Test func errorsNameFileAndObject() throws {
        let dir = TestPaths.temporaryDirectory("h5")
        let url = dir.appendingPathComponent("t.h5")
        try HDF5File.writeAtomically(to: url) { try $0.writeDoubles("/v", [1]) }
        let f = try HDF5File(opening: url)
        #expect(throws: MorphoError.hdf5(path: url.path, object: "/missing", problem: "no such dataset")) { try f.readMatrix("/missing") }
        #expect(throws: MorphoError.hdf5(path: url.path, object: "/v", problem: "expected a 2-D matrix, found rank 1")) { try f.readMatrix("/v") }
        #expect(throws: MorphoError.hdf5(path: url.path, object: "/v", problem: "not a string dataset")) { try f.readStrings("/v") }
        let notH5 = dir.appendingPathComponent("x.h5")
        try Data("plain text".utf8).write(to: notH5)
        #expect(throws: MorphoError.hdf5(path: notH5.path, object: "/", problem: "not an HDF5 file (or truncated)")) { try HDF5File(opening: notH5) }
        #expect(throws: MorphoError.file(path: dir.appendingPathComponent("none.h5").path, problem: "file not found")) {
            try HDF5File(opening: dir.appendingPathComponent("none.h5"))
        }
        #expect(throws: MorphoError.self) { try HDF5File(creating: dir.appendingPathComponent("sub/none/x.h5")) }
    }

    @Test func aFailedWriteLeavesNoFile() throws {
        struct Crash: Error {}
        let dir = TestPaths.temporaryDirectory("h5")
        #expect(throws: Crash.self) {
            try HDF5File.writeAtomically(to: dir.appendingPathComponent("p.h5")) { f in
                try f.writeDoubles("/v", [1])
                throw Crash()
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test func featureTableAndSingleCellStoreRoundTrip() throws {
        let url = TestPaths.temporaryDirectory("h5").appendingPathComponent("Week1_22123.h5")
        let n = 50
        let cells = try FeatureTable(
            metadataNames: ["Metadata_Plate", "Metadata_Well", "Metadata_Site", "Nuclei_Location_Center_X", "Nuclei_Location_Center_Y"],
            metadata: [.strings(Array(repeating: "Week1_22123", count: n)), .strings((0..<n).map { $0 < 25 ? "B02" : "C05" }),
                       .numbers((0..<n).map { Double($0 % 4 + 1) }), .numbers((0..<n).map { Double($0) * 10.5 }), .numbers((0..<n).map { Double($0) * 3 })],
            featureNames: ["Nuclei_AreaShape_Area"], features: (0..<n).map { Float($0) }, rowCount: n)
        let embedding = (0..<(n * 16)).map { Float($0 % 13) - 6 }
        let store = SingleCellStore(plate: "Week1_22123", cells: cells, embeddings: ["block4": (embedding, 16)], provenance: ["model": "resnet18-test"])
        try store.write(to: url)
        let back = try SingleCellStore.read(from: url)
        #expect(back.plate == "Week1_22123" && back.cells == cells)
        #expect(back.embeddings["block4"]?.dims == 16 && back.embeddings["block4"]?.values == embedding)
        #expect(back.provenance == ["model": "resnet18-test", "created_by": "Morpho \(MorphoVersion.current)"])
        let bad = SingleCellStore(plate: "P", cells: cells, embeddings: ["x": ([1, 2, 3], 2)])
        #expect(throws: MorphoError.self) { try bad.write(to: url.deletingLastPathComponent().appendingPathComponent("bad.h5")) }
    }

    /// A 60-byte-per-chunk file that declares 10^7 x 10^5 floats (h5py writes no chunk: they read as the
    /// fill value) is refused before allocating, naming the file and the dataset; a small read of the same
    /// dataset works.
    @Test(.enabled(if: Peers.available)) func declaredSizesAreCheckedBeforeAllocating() throws {
        let url = TestPaths.temporaryDirectory("h5-huge").appendingPathComponent("huge.h5")
        _ = try Peers.run(["-c", """
        import sys, h5py
        with h5py.File(sys.argv[1], "w") as f:
            f.create_dataset("cells/features", shape=(10_000_000, 100_000), dtype="f4", chunks=(16, 1024))
            f.create_dataset("v", shape=(2**40,), dtype="f8", chunks=(1024,))
        """, url.path])
        #expect((try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int ?? 0) < 100_000)
        let f = try HDF5File(opening: url)
        defer { f.close() }
        for (read, object) in [({ _ = try f.readMatrix("/cells/features") }, "/cells/features"), ({ _ = try f.readDoubles("/v") }, "/v"),
                               ({ _ = try f.readItems("/cells/features", 0..<100_000) }, "/cells/features")] as [(() throws -> Void, String)] {
            do { try read(); Issue.record("read \(object)") } catch {
                #expect("\(error)".contains(url.path) && "\(error)".contains(object) && "\(error)".contains("over the budget"), "\(error)")
            }
        }
        #expect(try f.readItems("/cells/features", 0..<2).values == [Float](repeating: 0, count: 200_000))
    }

    /// h5py reads what Morpho writes: values, string metadata, chunked gzip layout, attributes.
    @Test(.enabled(if: Peers.available)) func h5pyReadsMorphoStores() throws {
        let url = TestPaths.temporaryDirectory("h5").appendingPathComponent("store.h5")
        let n = 30
        let cells = try FeatureTable(metadataNames: ["Metadata_Well", "Nuclei_Location_Center_X"],
                                     metadata: [.strings((0..<n).map { "W\($0)" }), .numbers((0..<n).map { Double($0) + 0.5 })],
                                     featureNames: ["f1", "f2"], features: (0..<(2 * n)).map { Float($0) / 8 }, rowCount: n)
        let embedding = (0..<(n * 4)).map { Float($0) * 0.125 }
        try SingleCellStore(plate: "P1", cells: cells, embeddings: ["pool": (embedding, 4)], provenance: ["model": "m"]).write(to: url)
        let json = try Peers.run(["scripts/h5py_dump.py", url.path])
        let dump = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: [String: Any]]
        let datasets = dump["datasets"]!, attrs = dump["attrs"]!
        let features = datasets["/cells/features"] as! [String: Any]
        #expect(features["shape"] as? [Int] == [n, 2] && features["dtype"] as? String == "float32")
        #expect(features["compression"] as? String == "gzip")
        #expect((features["values"] as! [Double]).map(Float.init) == cells.features)
        #expect((datasets["/cells/metadata/Metadata_Well"] as! [String: Any])["values"] as? [String] == (0..<n).map { "W\($0)" })
        #expect((datasets["/cells/metadata/Nuclei_Location_Center_X"] as! [String: Any])["values"] as? [Double] == (0..<n).map { Double($0) + 0.5 })
        let e = datasets["/embeddings/pool"] as! [String: Any]
        #expect(e["shape"] as? [Int] == [n, 4] && (e["values"] as! [Double]).map(Float.init) == embedding)
        #expect(attrs["/@plate"] as? String == "P1" && attrs["/@model"] as? String == "m")
        #expect(attrs["/@morpho_store_version"] as? Double == 1)
        #expect((attrs["/@created_by"] as? String)?.hasPrefix("Morpho ") == true)
    }
}
