import Foundation
import MorphoCore
import MorphoIO
import MorphoTestSupport
import Testing

@Suite struct ImageStageCommandTests {
    /// illum -> segment -> crop from the command line on a synthetic screen; reruns are up to date;
    /// an h5py reader sees the crop store; bad input gives one named error.
    @Test func illumSegmentCropFromTheCommandLine() throws {
        let dir = TestPaths.temporaryDirectory("cli-images")
        let screen = dir.appendingPathComponent("screen")
        #expect(try MorphoBinary.run(["synth", "--preset", "tiny", "--out", screen.path, "--quiet"]).status == 0)
        let experiment = ["--bbbc021", screen.appendingPathComponent("image.csv").path, "--moa", screen.appendingPathComponent("moa.csv").path,
                          "--images", screen.appendingPathComponent("images").path]
        let illum = dir.appendingPathComponent("illum").path, loc = dir.appendingPathComponent("loc").path
        let crops = dir.appendingPathComponent("crops").path
        let i = try MorphoBinary.run(["illum"] + experiment + ["--out", illum])
        #expect(i.status == 0 && i.stdout.contains("computed from 28 fields"), "\(i.stderr)")
        #expect(i.stderr.contains("illumination Week1_22123: 28/28 (100%)"))
        let s = try MorphoBinary.run(["segment"] + experiment + ["--illum", illum, "--out", loc, "--quiet"])
        #expect(s.status == 0 && s.stdout.contains("nuclei in 28 fields"), "\(s.stderr)")
        let c = try MorphoBinary.run(["crop"] + experiment + ["--locations", loc, "--illum", illum, "--out", crops, "--box-size", "32", "--quiet"])
        #expect(c.status == 0 && c.stdout.contains("crops"), "\(c.stderr)")
        let again = try MorphoBinary.run(["segment"] + experiment + ["--illum", illum, "--out", loc, "--quiet"])
        #expect(again.stdout.contains("(up to date)"))
        let table = try CSV.read(URL(fileURLWithPath: loc).appendingPathComponent("Week1_22123.csv"))
        #expect(table.header.contains("Nuclei_Location_Center_X") && table.header.contains("Metadata_Well"))

        if Peers.available {
            let shape = try Peers.run([TestPaths.repoRoot.appendingPathComponent("scripts/h5py_dump.py").path,
                                       URL(fileURLWithPath: crops).appendingPathComponent("Week1_22123.h5").path])
            #expect(shape.contains("crops"))
        }

        let unknown = try MorphoBinary.run(["segment"] + experiment + ["--out", loc, "--declump", "magic"])
        #expect(unknown.status == 1 && unknown.stderr.contains("segmentation.declump"))
        let noDNA = try MorphoBinary.run(["segment"] + experiment + ["--out", loc, "--dna-channel", "Hoechst"])
        #expect(noDNA.status == 1 && noDNA.stderr.contains("'Hoechst' is not in the experiment"))
    }

    /// Single real images: the JUMP DNA channel gives CellProfiler's count within 5%.
    @Test func segmentsRealImageFiles() throws {
        let out = TestPaths.temporaryDirectory("cli-jump")
        let file = TestPaths.realData.appendingPathComponent("jump_cpg0000_A01_1/r01c01f01p01-ch5sk1fk1fl1.tiff").path
        let r = try MorphoBinary.run(["segment", "--image", file, "--out", out.path, "--save-labels"])
        #expect(r.status == 0, "\(r.stderr)")
        // The diameter estimate (25.4-25.5 px: exact or chamfer distances) is printed with the count.
        let diameter = r.stdout.components(separatedBy: "nucleus diameter ").last.flatMap { Double($0.prefix { $0 != " " }) }
        #expect(r.stdout.contains("121 nuclei, nucleus diameter ") && r.stdout.contains("px (estimated)") && (24...27).contains(diameter ?? 0), "\(r.stdout)")
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("r01c01f01p01-ch5sk1fk1fl1_labels.tif").path))
        let missing = try MorphoBinary.run(["segment", "--image", "/nonexistent.tif", "--out", out.path])
        #expect(missing.status == 1 && missing.stderr.contains("/nonexistent.tif"))
        // A two-page TIFF (AGP, then DNA): refused without --plane, segmented with --plane 1.
        let stack = out.appendingPathComponent("stack.tif")
        try TIFF.write([try TIFF.readImage(URL(fileURLWithPath: file.replacingOccurrences(of: "ch5", with: "ch1"))),
                        try TIFF.readImage(URL(fileURLWithPath: file))], to: stack, bitDepth: .uint16)
        let ambiguous = try MorphoBinary.run(["segment", "--image", stack.path, "--out", out.path])
        #expect(ambiguous.status == 1 && ambiguous.stderr.contains("the file has 2 planes"), "\(ambiguous.stderr)")
        let second = try MorphoBinary.run(["segment", "--image", stack.path, "--plane", "1", "--out", out.path])
        #expect(second.status == 0 && second.stdout.contains("121 nuclei"), "\(second.stdout) \(second.stderr)")
    }

    /// A JUMP-style LoadData CSV (AGP first, no DNA channel named) segments OrigDNA; the fields table
    /// records the estimated diameter and QC; a plate whose only other field is blank drops it and says so.
    @Test func jumpLoadDataChoosesTheDNAChannelAndDropsEmptyFields() throws {
        let dir = TestPaths.temporaryDirectory("cli-jump-loaddata")
        let jump = TestPaths.realData.appendingPathComponent("jump_cpg0000_A01_1").path
        let names = ["AGP": "ch1", "DNA": "ch5", "ER": "ch4", "Mito": "ch2", "RNA": "ch3"]
        try TIFF.write(Image(width: 1080, height: 1080, value: 120, bitDepth: .uint16), to: dir.appendingPathComponent("blank.tif"))
        var lines = ["Metadata_Source,Metadata_Plate,Metadata_Well,Metadata_Site,"
            + names.keys.sorted().map { "FileName_Orig\($0),PathName_Orig\($0)" }.joined(separator: ",")]
        lines.append("source_4,BR00116991,A01,1," + names.keys.sorted().map { "r01c01f01p01-\(names[$0]!)sk1fk1fl1.tiff,\(jump)" }.joined(separator: ","))
        lines.append("source_4,BR00116991,A02,1," + names.keys.sorted().map { _ in "blank.tif,\(dir.path)" }.joined(separator: ","))
        let csv = dir.appendingPathComponent("load_data.csv")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: csv)
        let out = dir.appendingPathComponent("locations")
        let r = try MorphoBinary.run(["segment", "--loaddata", csv.path, "--out", out.path, "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("BR00116991: 121 nuclei in 2 fields, 1 field(s) without nuclei, 1 field dropped by QC (1 empty)"), "\(r.stdout)")
        let fields = try CSV.read(out.appendingPathComponent("BR00116991_fields.csv"))
        #expect(try fields.column("QC_Flags") == ["", "empty"] && fields.column("QC_Dropped") == ["0", "1"])
        #expect(try (24...27).contains(Double(fields.column("Segmentation_Diameter")[0]) ?? 0))
        // No channel named like DNA: an error listing the channels, never the first one.
        let renamed = try String(contentsOf: csv, encoding: .utf8).replacingOccurrences(of: "OrigDNA", with: "OrigCh5")
        try Data(renamed.utf8).write(to: csv)
        let none = try MorphoBinary.run(["segment", "--loaddata", csv.path, "--out", out.path, "--quiet"])
        #expect(none.status == 1 && none.stderr.contains("no channel is named like a DNA stain") && none.stderr.contains("OrigAGP, OrigCh5"), "\(none.stderr)")
    }
}
