import Foundation
import MorphoCore
import MorphoIO
import MorphoTestSupport
import Testing

/// The `morpho` executable built beside the test bundle.
enum MorphoBinary {
    static let url: URL = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("morpho")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return TestPaths.repoRoot.appendingPathComponent(".build/debug/morpho")
    }()

    static func run(_ args: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        try runProcessCapturing(url, args, cwd: TestPaths.repoRoot, environment: environment)
    }
}

@Suite struct CommandLineTests {
    @Test func peersArePresentWhenTheTestCommandRequiresThem() {
        // `make test` creates the virtualenv; a missing peer there must fail loudly rather than skip.
        #expect(!Peers.required || Peers.available, "MORPHO_REQUIRE_PEERS=1 but no test Python at \(Peers.python?.path ?? "-")")
    }

    @Test func synthThenExperimentSummary() throws {
        let out = TestPaths.temporaryDirectory("cli")
        let synth = try MorphoBinary.run(["synth", "--preset", "tiny", "--out", out.path, "--seed", "4"])
        #expect(synth.status == 0, "\(synth.stderr)")
        #expect(synth.stdout.contains("2 plates, 56 wells, 56 fields (56 rendered now)"))
        #expect(synth.stderr.contains("synth fields: 56/56 (100%)"))
        let again = try MorphoBinary.run(["synth", "--preset", "tiny", "--out", out.path, "--seed", "4", "--quiet"])
        #expect(again.stdout.contains("(0 rendered now)") && again.stderr.isEmpty)
        let summary = try MorphoBinary.run(["experiment", "--bbbc021", out.appendingPathComponent("image.csv").path,
                                            "--moa", out.appendingPathComponent("moa.csv").path,
                                            "--images", out.appendingPathComponent("images").path, "--check-files"])
        #expect(summary.status == 0, "\(summary.stderr)")
        #expect(summary.stdout.contains("plates: 2 in 2 batch(es)") && summary.stdout.contains("mechanisms of action: 6"))
        let other = try MorphoBinary.run(["synth", "--preset", "tiny", "--out", out.path, "--seed", "5"])
        #expect(other.status == 1 && other.stderr.contains("holds a screen made with another config"))
    }

    @Test func experimentOnTheRealBBBC021Layout() throws {
        let r = try MorphoBinary.run(["experiment", "--bbbc021", TestPaths.bbbc021ImageCSV.path, "--moa", TestPaths.bbbc021MoACSV.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("plates: 55 in 10 batch(es)"))
        #expect(r.stdout.contains("wells: 3300 (330 DMSO wells)"))
        #expect(r.stdout.contains("treatments: 906 (103 annotated with a MoA) of 113 compounds"))
        #expect(r.stdout.contains("warning: 802 treatment(s) have no MoA annotation"))
    }

    @Test func tableJoinsAndConvertsTheLjosaProfiles() throws {
        let dir = TestPaths.temporaryDirectory("cli-table")
        let h5 = dir.appendingPathComponent("ljosa.h5"), csv = dir.appendingPathComponent("ljosa.csv.gz")
        let r = try MorphoBinary.run(["table", TestPaths.ljosaProfiles.path, "--bbbc021", TestPaths.bbbc021.path, "--out", csv.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("632 rows, 7 metadata columns, 516 features"))
        let h = try MorphoBinary.run(["table", csv.path, "--out", h5.path])
        #expect(h.status == 0 && h.stdout.contains("632 rows"))
        let back = try MorphoBinary.run(["table", h5.path])
        #expect(back.stdout.contains("632 rows, 7 metadata columns, 516 features"), "\(back.stdout)\(back.stderr)")
        #expect(try FeatureTableCSV.read(csv) == FeatureTableHDF5.read(from: HDF5File(opening: h5), group: "/table"))
        // Parquet: pandas reads the same frame as from the CSV (features as float32, missing MoA as null).
        let parquet = dir.appendingPathComponent("ljosa.parquet")
        #expect(try MorphoBinary.run(["table", csv.path, "--out", parquet.path]).status == 0)
        if Peers.available {
            let same = try Peers.run(["-c", """
            import sys, pandas as pd, numpy as np
            p, c = pd.read_parquet(sys.argv[1]), pd.read_csv(sys.argv[2])
            assert list(p.columns) == list(c.columns) and p.shape == (632, 523), (p.shape, c.shape)
            f = [x for x in c.columns if not x.startswith("Metadata_")]
            assert all(p[x].dtype == np.float32 for x in f)
            assert np.array_equal(p[f].to_numpy(np.float64), c[f].to_numpy(np.float32).astype(np.float64), equal_nan=True)
            m = [x for x in c.columns if x.startswith("Metadata_")]
            assert all(((p[x] == c[x]) | (p[x].isna() & c[x].isna())).all() for x in m), m
            print("same")
            """, parquet.path, csv.path])
            #expect(same.contains("same"), "\(same)")
        }
        let refused = try MorphoBinary.run(["table", parquet.path])
        #expect(refused.status == 1 && refused.stderr.contains("does not read it yet"), "\(refused.stderr)")
    }

    @Test func tiffShowsRealFiles() throws {
        let r = try MorphoBinary.run(["tiff", TestPaths.realData.appendingPathComponent("jump_cpg0000_A01_1/r01c01f01p01-ch5sk1fk1fl1.tiff").path])
        #expect(r.status == 0 && r.stdout.contains("1080x1080 x1 uint16 compression=5"))
    }

    @Test func badInputGivesOneClearErrorAndExitCode1() throws {
        let missing = try MorphoBinary.run(["tiff", "/no/such/plate/A01.tif"])
        #expect(missing.status == 1 && missing.stderr == "error: /no/such/plate/A01.tif: file not found\n")
        let badSize = try MorphoBinary.run(["synth", "--out", "/tmp/x", "--size", "big"])
        #expect(badSize.status == 1 && badSize.stderr.contains("config 'size': 'big' is not WIDTHxHEIGHT"))
        let badPlate = try MorphoBinary.run(["synth", "--layout", TestPaths.bbbc021.path, "--plates", "Week99_1", "--out", "/tmp/x"])
        #expect(badPlate.status == 1 && badPlate.stderr.contains("not in the layout: Week99_1"))
        let unknownOption = try MorphoBinary.run(["synth", "--out", "/tmp/x", "--colour", "red"])
        #expect(unknownOption.status != 0 && unknownOption.stderr.contains("Unknown option '--colour'"))
    }
}

/// Hostile files end in one named error and exit code 1, with the process held to 2 GiB of address space
/// (`ulimit -v`): a TIFF declaring 100000 x 100000 pixels (it used to ask for 40 GB), nested YAML aliases
/// (5.4 GB), an empty TIFF, NaN pixels, non-UTF-8 text and NaN profiles; nothing is left in the output folder.
@Suite struct HostileInputTests {
    static func morphoLimited(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try runProcessCapturing(URL(fileURLWithPath: "/bin/bash"), ["-c", "ulimit -v 2097152 && exec \"$0\" \"$@\"", MorphoBinary.url.path] + args,
                                cwd: TestPaths.repoRoot)
    }

    @Test func namedErrorsWithinTwoGiB() throws {
        let dir = TestPaths.temporaryDirectory("hostile")
        func file(_ name: String, _ data: Data) throws -> String {
            let url = dir.appendingPathComponent(name)
            try data.write(to: url)
            return url.path
        }
        var huge = Data([0x49, 0x49, 42, 0, 8, 0, 0, 0])
        func u16(_ v: UInt16) { huge.append(contentsOf: [UInt8(v & 0xFF), UInt8(v >> 8)]) }
        func u32(_ v: UInt32) { for k in 0..<4 { huge.append(UInt8((v >> (8 * UInt32(k))) & 0xFF)) } }
        let entries: [(UInt16, UInt16, UInt32)] = [(256, 4, 100_000), (257, 4, 100_000), (258, 3, 16), (259, 3, 1), (262, 3, 1),
                                                   (273, 4, 8 + 2 + 9 * 12 + 4), (277, 3, 1), (278, 4, 100_000), (279, 4, 10)]
        u16(UInt16(entries.count))
        for (tag, type, value) in entries { u16(tag); u16(type); u32(1); type == 3 ? { u16(UInt16(value)); u16(0) }() : u32(value) }
        u32(0)
        huge.append(Data(repeating: 7, count: 10))
        let hugeTIFF = try file("huge.tif", huge)
        var nanImage = Image(width: 32, height: 32, value: 100, bitDepth: .float32)
        nanImage[3, 4] = .nan
        let nanTIFF = dir.appendingPathComponent("nan.tif")
        try TIFF.write(nanImage, to: nanTIFF, bitDepth: .float32)
        let inner = ["&a0 [x, x, x, x, x, x, x, x, x, x]"] + (1..<9).map { k in "&a\(k) [" + Array(repeating: "*a\(k - 1)", count: 10).joined(separator: ", ") + "]" }
        let bomb = try file("bomb.yaml", Data("name: b\noutput: \(dir.path)/run\nexperiment:\n  synthetic: {preset: tiny}\nstages:\n  - segmentation: {drop_flagged: [\(inner.joined(separator: ", "))]}\n".utf8))
        let header = "Metadata_Compound,Metadata_Concentration,Metadata_MoA,Metadata_Batch,f1,f2\n"
        let nanProfiles = try file("nan.csv", Data((header + "A,1,x,W1,1,2\nB,1,x,W2,,1\nC,1,y,W1,3,1\nD,1,y,W2,2,5\n").utf8))
        let latin1 = try file("latin1.csv", Data(header.utf8) + Data("Caf".utf8) + Data([0xE9]) + Data(",1,x,W1,1,2\n".utf8))
        let out = dir.appendingPathComponent("out")

        let cases: [(args: [String], expected: [String])] = [
            (["tiff", hugeTIFF], [hugeTIFF, "memory budget"]),
            (["segment", "--image", hugeTIFF, "--out", out.path], [hugeTIFF, "memory budget"]),
            (["segment", "--image", try file("empty.tif", Data()), "--out", out.path], ["empty.tif: not a readable TIFF (the file is empty)"]),
            (["segment", "--image", nanTIFF.path, "--out", out.path], ["nan.tif", "non-finite pixel at x=3, y=4"]),
            (["run", bomb], ["bomb.yaml", "anchors and aliases"]),
            (["match", nanProfiles], ["treatment B@1: 1 of 2 profile values are NaN"]),
            (["match", latin1], ["latin1.csv:2", "is not UTF-8"]),
        ]
        for c in cases {
            let r = try Self.morphoLimited(c.args)
            #expect(r.status == 1 && c.expected.allSatisfy(r.stderr.contains) && r.stderr.hasPrefix("error: "), "\(c.args): \(r.status) \(r.stderr)")
        }
        let left = (try? FileManager.default.subpathsOfDirectory(atPath: out.path)) ?? []
        #expect(left.isEmpty, "\(left)")
    }
}

@Suite struct ProfileCommandLineTests {
    @Test func profileThenMatchOnTheRealProfiles() throws {
        let dir = TestPaths.temporaryDirectory("cli-profile")
        let wells = dir.appendingPathComponent("wells.csv.gz")
        let p = try MorphoBinary.run(["profile", TestPaths.ljosaProfiles.path, "--bbbc021", TestPaths.bbbc021.path, "--normalization", "zscore",
                                      "--treatment-by", "none", "--out", wells.path])
        #expect(p.status == 0, "\(p.stderr)")
        #expect(p.stdout.contains("69 (group, feature) pairs with zero control spread; dropped 3 feature(s)"), "\(p.stdout)")
        #expect(p.stdout.contains("wrote \(wells.path): 632 rows x 513 features"))
        let json = dir.appendingPathComponent("moa.json")
        let m = try MorphoBinary.run(["match", wells.path, "--similarity", "cosine", "--out", json.path])
        #expect(m.status == 0, "\(m.stderr)")
        #expect(m.stdout.contains("NSC: 84/103") && m.stdout.contains("NSCB: 67/92"))
        let result = try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as! [String: Any]
        #expect((result["NSCB"] as! [String: Any])["scored"] as? Int == 92)
        #expect(((result["NSC"] as! [String: Any])["predictions"] as! [Any]).count == 103)
    }

    @Test func profileRejectsUnknownChoices() throws {
        let r = try MorphoBinary.run(["profile", TestPaths.ljosaProfiles.path, "--normalization", "whiten", "--out", "/tmp/x.csv"])
        // Ljosa's file names its metadata Image_Metadata_*: without --bbbc021 that column is not a number.
        #expect(r.status == 1 && r.stderr.contains("column 'Image_Metadata_Plate': feature value 'Week10_40111' is not a number"), "\(r.stderr)")
        // The flag's old name still works, with a warning naming the new one.
        let bad = try MorphoBinary.run(["profile", TestPaths.ljosaProfiles.path, "--bbbc021", TestPaths.bbbc021.path, "--normalize", "whiten", "--out", "/tmp/x.csv"])
        #expect(bad.status == 1 && bad.stderr.contains("config 'profile.normalization': 'whiten' is not one of none, zscore, robust, tvn-pca, tvn-zca, zscore-tvn"))
        #expect(bad.stderr.contains("warning: --normalize is deprecated and will be removed; use --normalization"), "\(bad.stderr)")
    }

    @Test func benchMoAReproducesThePublishedNumber() throws {
        let r = try MorphoBinary.run(["bench", "moa", TestPaths.bbbc021.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("as the vignette computes it: 84/103 = 0.82"))
        #expect(r.stdout.contains("* = highest replicate mAP"))
    }
}

@Suite struct SingleCellStoreProfileTests {
    /// Cells in a per-plate HDF5 store -> wells -> z-score -> treatments, through the CLI.
    @Test func profilesASingleCellStore() throws {
        var g = SeededGenerator(seed: 1)
        var plate = [String](), well = [String](), compound = [String](), conc = [Double](), values = [Float]()
        for w in 0..<8 { for _ in 0..<5 {
            plate.append("P1"); well.append(WellID(row: 0, column: w + 1).description)
            compound.append(w < 4 ? "DMSO" : "taxol"); conc.append(w < 4 ? 0 : 1)
            values += [Float(10 + g.normal() + (w < 4 ? 0 : 3)), Float(5 + g.normal())]
        } }
        let cells = try FeatureTable(metadataNames: ["Metadata_Plate", "Metadata_Well", "Metadata_Compound", "Metadata_Concentration"],
                                     metadata: [.strings(plate), .strings(well), .strings(compound), .numbers(conc)],
                                     featureNames: ["Cells_A", "Cells_B"], features: values, rowCount: 40)
        let dir = TestPaths.temporaryDirectory("cli-store")
        let store = dir.appendingPathComponent("P1.h5"), out = dir.appendingPathComponent("treatments.csv")
        try SingleCellStore(plate: "P1", cells: cells).write(to: store)
        let r = try MorphoBinary.run(["profile", store.path, "--aggregate-by", "Metadata_Plate,Metadata_Well,Metadata_Compound,Metadata_Concentration",
                                      "--normalization", "zscore", "--out", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        let t = try FeatureTableCSV.read(out)
        #expect(t.rowCount == 2 && t.metadataColumn("Metadata_Compound")?.texts == ["DMSO", "taxol"])
        #expect(abs(t[row: 0, feature: 0]) < 1e-5 && t[row: 1, feature: 0] > 3)  // DMSO centred, taxol shifted
    }
}
