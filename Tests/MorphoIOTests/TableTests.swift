import Foundation
@testable import MorphoIO
import MorphoCore
import MorphoTestSupport
import Testing

@Suite struct CSVTests {
    @Test func parsesQuotesLineBreaksAndCRLF() throws {
        let text = "a,\"b,1\",c\r\n1,\"say \"\"hi\"\"\",\"two\nlines\"\r\n\r\n,x,\n"
        let t = try CSV.parse(Data(text.utf8), source: "t.csv")
        #expect(t.header == ["a", "b,1", "c"])
        #expect(t.columns == [["1", ""], ["say \"hi\"", "x"], ["two\nlines", ""]])
    }

    @Test func errorsNameFileAndLine() {
        #expect(throws: MorphoError.table(file: "t.csv", line: 3, column: nil, problem: "2 fields where the header has 3")) {
            try CSV.parse(Data("a,b,c\n1,2,3\n4,5\n".utf8), source: "t.csv")
        }
        #expect(throws: MorphoError.table(file: "t.csv", line: 2, column: nil, problem: "quoted field is never closed")) {
            try CSV.parse(Data("a\n\"open\n".utf8), source: "t.csv")
        }
        #expect(throws: MorphoError.table(file: "t.csv", line: 1, column: "a", problem: "column name appears twice in the header")) {
            try CSV.parse(Data("a,a\n1,2\n".utf8), source: "t.csv")
        }
        #expect(throws: MorphoError.table(file: "t.csv", line: 1, column: nil, problem: "empty table: no header line")) {
            try CSV.parse(Data(), source: "t.csv")
        }
    }

    /// Latin-1 "é" (0xE9) in a compound name would decode to U+FFFD and merge "Caf\u{e9}" with any other
    /// misdecoded name: an error naming the line and the byte, in plain and quoted fields.
    @Test func nonUTF8BytesAreErrorsNotReplacementCharacters() {
        let plain = Data("compound,dose\nok,1\nCaf".utf8) + Data([0xE9]) + Data(",2\n".utf8)
        #expect(throws: MorphoError.table(file: "m.csv", line: 3, column: nil, problem: "byte offset 22 (field 1) is not UTF-8; convert the file, e.g. iconv -f latin1 -t utf-8")) {
            try CSV.parse(plain, source: "m.csv")
        }
        let quoted = Data("a,b\n1,\"x".utf8) + Data([0xC3]) + Data("\"\n".utf8)  // a cut two-byte sequence
        #expect(throws: MorphoError.table(file: "m.csv", line: 2, column: nil, problem: "byte offset 8 (field 2) is not UTF-8; convert the file, e.g. iconv -f latin1 -t utf-8")) {
            try CSV.parse(quoted, source: "m.csv")
        }
        #expect(CSV.firstInvalidUTF8(Array("naïve ✓".utf8)) == nil)
        #expect(CSV.firstInvalidUTF8([0x61, 0xF0, 0x9F, 0x61]) == 1)
    }

    @Test func writesAndReadsBackPlainAndGzipped() throws {
        let dir = TestPaths.temporaryDirectory("csv")
        let table = CSVTable(header: ["name", "note"], columns: [["a", "b"], ["x,y", "q\"uote"]], source: "mem")
        for name in ["t.csv", "t.csv.gz"] {
            try CSV.write(table, to: dir.appendingPathComponent(name))
            let back = try CSV.read(dir.appendingPathComponent(name))
            #expect(back.header == table.header && back.columns == table.columns)
        }
        let raw = try Data(contentsOf: dir.appendingPathComponent("t.csv.gz"))
        #expect(Gzip.isCompressed(raw))
    }

    @Test func gzipRoundTripAndTruncation() throws {
        let data = Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7 / 3) })
        let packed = Gzip.compress(data)
        #expect(packed.count < data.count / 2)
        #expect(try Gzip.decompress(packed, source: "x") == data)
        // Two gzip members concatenated decode to both payloads, as gzip(1) does.
        #expect(try Gzip.decompress(packed + Gzip.compress(Data("tail".utf8)), source: "x") == data + Data("tail".utf8))
        #expect(throws: MorphoError.file(path: "cut.csv.gz", problem: "truncated gzip stream")) {
            try Gzip.decompress(packed.prefix(packed.count / 2), source: "cut.csv.gz")
        }
    }

    @Test func missingFileIsNamed() {
        #expect(throws: MorphoError.file(path: "/nope/profiles.csv", problem: "file not found")) {
            try CSV.read(URL(fileURLWithPath: "/nope/profiles.csv"))
        }
    }
}

@Suite struct FeatureTableCSVTests {
    static func sample(rows: Int = 12) throws -> FeatureTable {
        var g = SeededGenerator(seed: 3)
        let wells = (0..<rows).map { ["A01", "A02", "B01", "B02"][$0 % 4] }
        let features = (0..<(rows * 3)).map { _ in Float(g.normal() * 100) }
        return try FeatureTable(
            metadataNames: ["Metadata_Plate", "Metadata_Well", "Metadata_Site", "Metadata_Note"],
            metadata: [.strings(Array(repeating: "P1", count: rows)), .strings(wells),
                       .numbers((0..<rows).map { Double($0 / 4 + 1) }), .strings((0..<rows).map { $0 == 0 ? "has, comma" : "" })],
            featureNames: ["Cells_AreaShape_Area", "Nuclei_Intensity_MeanIntensity_DNA", "Cytoplasm_Texture_Contrast"],
            features: features, rowCount: rows)
    }

    @Test func roundTripsExactly() throws {
        let dir = TestPaths.temporaryDirectory("ft")
        var t = try Self.sample()
        var f = t.features
        f[4] = .nan
        t = try FeatureTable(metadataNames: t.metadataNames, metadata: t.metadata, featureNames: t.featureNames, features: f, rowCount: t.rowCount)
        for name in ["t.csv", "t.csv.gz"] {
            try FeatureTableCSV.write(t, to: dir.appendingPathComponent(name))
            let back = try FeatureTableCSV.read(dir.appendingPathComponent(name))
            #expect(back.metadataNames == t.metadataNames && back.featureNames == t.featureNames)
            #expect(back.metadata == t.metadata)
            #expect(back.features[4].isNaN)
            #expect(zip(back.features, t.features).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) })
        }
    }

    @Test func infersMetadataTypes() {
        #expect(FeatureTableCSV.inferColumn(["1", "2.5", ""]).texts == ["1", "2.5", ""])
        if case .numbers = FeatureTableCSV.inferColumn(["1", ""]) {} else { Issue.record("numbers with a gap should stay numeric") }
        #expect(FeatureTableCSV.inferColumn(["A01", "3"]) == .strings(["A01", "3"]))
        #expect(FeatureTableCSV.inferColumn(["001", "2"]) == .strings(["001", "2"]))
        #expect(FeatureTableCSV.inferColumn(["0.5", "0"]) == .numbers([0.5, 0]))
        #expect(FeatureTableCSV.inferColumn(["", ""]) == .strings(["", ""]))
    }

    @Test func nonNumericFeatureIsAnErrorNamingLineAndColumn() throws {
        let url = TestPaths.temporaryDirectory("ft").appendingPathComponent("bad.csv")
        try Data("Metadata_Well,Cells_Area,Treatment\nA01,1.5,DMSO\n".utf8).write(to: url)
        #expect(throws: MorphoError.table(file: url.path, line: 2, column: "Treatment",
                                          problem: "feature value 'DMSO' is not a number (name metadata columns with the Metadata_ prefix)")) {
            try FeatureTableCSV.read(url)
        }
    }

    /// pycytominer loads a Morpho CSV with the same numbers, and Morpho loads pycytominer's own outputs.
    @Test(.enabled(if: Peers.available)) func pycytominerInteroperates() throws {
        let dir = TestPaths.temporaryDirectory("pycytominer")
        let t = try Self.sample(rows: 40)
        try FeatureTableCSV.write(t, to: dir.appendingPathComponent("morpho.csv.gz"))
        let json = try Peers.run(["scripts/pycytominer_interop.py", dir.appendingPathComponent("morpho.csv.gz").path, dir.path])
        let inferred = try JSONSerialization.jsonObject(with: Data(json.split(separator: "\n").last!.utf8)) as! [String: Any]
        #expect(inferred["rows"] as? Int == 40)
        #expect(inferred["features"] as? [String] == t.featureNames)
        #expect(inferred["metadata"] as? [String] == t.metadataNames)

        // What pycytominer read and wrote back is Morpho's table, value for value.
        let back = try FeatureTableCSV.read(dir.appendingPathComponent("read_back.csv.gz"))
        #expect(back.featureNames == t.featureNames && back.features == t.features)
        #expect(back.metadataColumn("Metadata_Well") == t.metadataColumn("Metadata_Well"))

        // pycytominer's per-well means equal the means computed here.
        let agg = try FeatureTableCSV.read(dir.appendingPathComponent("aggregate.csv.gz"))
        #expect(agg.rowCount == 4 && agg.featureNames == t.featureNames)
        let wells = t.metadataColumn("Metadata_Well")!.texts
        let aggWells = agg.metadataColumn("Metadata_Well")!.texts
        for (r, well) in aggWells.enumerated() {
            let rows = wells.indices.filter { wells[$0] == well }
            for j in 0..<t.featureCount {
                let mean = rows.map { Double(t[row: $0, feature: j]) }.reduce(0, +) / Double(rows.count)
                #expect(abs(Double(agg[row: r, feature: j]) - mean) <= 1e-5 * max(1, abs(mean)), "\(well) \(t.featureNames[j])")
            }
        }
        // A pycytominer-normalised table loads too: DMSO-like reference wells have zero mean.
        let norm = try FeatureTableCSV.read(dir.appendingPathComponent("normalized.csv"))
        #expect(norm.rowCount == 4)
        let ref = norm.metadataColumn("Metadata_Well")!.texts.indices.filter { ["A01", "A02"].contains(norm.metadataColumn("Metadata_Well")!.text($0)) }
        for j in 0..<norm.featureCount {
            #expect(abs(ref.map { Double(norm[row: $0, feature: j]) }.reduce(0, +)) < 1e-5)
        }
    }
}
