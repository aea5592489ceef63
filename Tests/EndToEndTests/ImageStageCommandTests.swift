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
        let c = try MorphoBinary.run(["crop"] + experiment + ["--locations", loc, "--illum", illum, "--out", crops, "--box", "32", "--quiet"])
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
        let noDNA = try MorphoBinary.run(["segment"] + experiment + ["--out", loc, "--dna", "Hoechst"])
        #expect(noDNA.status == 1 && noDNA.stderr.contains("'Hoechst' is not in the experiment"))
    }

    /// Single real images: the JUMP DNA channel gives CellProfiler's count within 5%.
    @Test func segmentsRealImageFiles() throws {
        let out = TestPaths.temporaryDirectory("cli-jump")
        let file = TestPaths.realData.appendingPathComponent("jump_cpg0000_A01_1/r01c01f01p01-ch5sk1fk1fl1.tiff").path
        let r = try MorphoBinary.run(["segment", "--image", file, "--min-diameter", "12", "--max-diameter", "60",
                                      "--declump", "hybrid", "--out", out.path, "--save-labels"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("114 nuclei"))
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("r01c01f01p01-ch5sk1fk1fl1_labels.tif").path))
        let missing = try MorphoBinary.run(["segment", "--image", "/nonexistent.tif", "--out", out.path])
        #expect(missing.status == 1 && missing.stderr.contains("/nonexistent.tif"))
    }
}
