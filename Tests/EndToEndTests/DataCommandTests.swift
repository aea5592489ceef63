import Foundation
import MorphoCore
import MorphoTestSupport
import Testing

/// `morpho data bbbc021` against a local server that serves BBBC021's file names and layout (the tiny
/// synthetic screen's tables renamed, one ZIP per plate holding `<plate>/<files>` as the real ZIPs do).
@Suite(.serialized) struct DataCommandTests {
    /// The served folder: the three metadata tables and `BBBC021_v1_images_<plate>.zip` per plate.
    static func serveTinyScreen() throws -> URL {
        let served = TestPaths.temporaryDirectory("bbbc021-served")
        let screen = TinyScreen.folder
        let fm = FileManager.default
        try fm.copyItem(at: screen.appendingPathComponent("image.csv"), to: served.appendingPathComponent("BBBC021_v1_image.csv"))
        try fm.copyItem(at: screen.appendingPathComponent("moa.csv"), to: served.appendingPathComponent("BBBC021_v1_moa.csv"))
        try Data("Image_Metadata_Compound,Image_Metadata_SMILES\nDMSO,CS(C)=O\n".utf8).write(to: served.appendingPathComponent("BBBC021_v1_compound.csv"))
        for (week, plate) in [("Week1", "Week1_22123"), ("Week2", "Week2_22223")] {
            _ = try Peers.run(["-c", """
            import os, sys, zipfile
            folder, out, plate = sys.argv[1:4]
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr(zipfile.ZipInfo(plate + "/"), b"")
                for name in sorted(os.listdir(folder)):
                    z.write(os.path.join(folder, name), plate + "/" + name)
            """, screen.appendingPathComponent("images/\(week)/\(plate)").path,
                served.appendingPathComponent("BBBC021_v1_images_\(plate).zip").path, plate])
        }
        return served
    }

    static func morpho(_ args: [String], in work: URL) throws -> (status: Int32, stdout: String, stderr: String) {
        try runProcessCapturing(MorphoBinary.url, args, cwd: work)
    }

    @Test(.enabled(if: Peers.available)) func downloadsPlateByPlateThenThePipelineRunsUnchanged() throws {
        let served = try Self.serveTinyScreen()
        let server = try LocalHTTPServer(root: served, options: ["--drop", "BBBC021_v1_images_Week2_22223.zip:5000:1"])
        defer { server.stop() }
        let work = TestPaths.temporaryDirectory("bbbc021-work")
        let base = ["data", "bbbc021", "--base-url", server.baseURL.absoluteString]

        // One batch first.
        let first = try Self.morpho(base + ["--plates", "Week1"], in: work)
        #expect(first.status == 0, "\(first.stderr)")
        let plate1 = work.appendingPathComponent("Data/bbbc021/images/Week1/Week1_22123")
        let sourceFiles = try FileManager.default.contentsOfDirectory(atPath: TinyScreen.folder.appendingPathComponent("images/Week1/Week1_22123").path).sorted()
        let unpacked = try FileManager.default.contentsOfDirectory(atPath: plate1.path).filter { !$0.hasPrefix(".") && $0 != "SHA256SUMS" }.sorted()
        #expect(unpacked == sourceFiles && unpacked.count == 28 * 3)
        for name in unpacked.prefix(6) {
            #expect(try Data(contentsOf: plate1.appendingPathComponent(name))
                    == Data(contentsOf: TinyScreen.folder.appendingPathComponent("images/Week1/Week1_22123/\(name)")))
        }
        #expect(!FileManager.default.fileExists(atPath: work.appendingPathComponent("Data/bbbc021/zips/BBBC021_v1_images_Week1_22123.zip").path))
        #expect(first.stdout.contains("1 plate(s) unpacked (84 files"), "\(first.stdout)")
        #expect(first.stdout.contains("next: morpho run Pipelines/bbbc021.yaml --set 'experiment.plates=[Week1_22123]'"), "\(first.stdout)")

        // Everything: plate 1 is skipped, plate 2's first answer breaks off and is retried.
        let all = try Self.morpho(base, in: work)
        #expect(all.status == 0, "\(all.stderr)")
        #expect(all.stdout.contains("1 plate(s) unpacked (84 files") && all.stdout.contains("1 already complete"), "\(all.stdout)")
        #expect(all.stderr.contains("Week2_22223: ") && all.stderr.contains("retrying"), "\(all.stderr)")
        let zipRequests = server.requests.filter { $0.hasPrefix("BBBC021_v1_images_") }
        #expect(zipRequests.filter { $0.hasPrefix("BBBC021_v1_images_Week1_22123.zip") }.count == 1)
        #expect(zipRequests.filter { $0.hasPrefix("BBBC021_v1_images_Week2_22223.zip") }.count == 2)
        let list = try Self.morpho(base + ["--list"], in: work)
        #expect(list.stdout == "Week1_22123\t28 fields\tcomplete\nWeek2_22223\t28 fields\tcomplete\n", "\(list.stdout)")

        // The shipped pipeline reads the download where it is, unchanged.
        let pipeline = TestPaths.repoRoot.appendingPathComponent("Pipelines/bbbc021.yaml").path
        let run = try Self.morpho(["run", pipeline, "--until", "segmentation", "--quiet"], in: work)
        #expect(run.status == 0, "\(run.stderr)")
        let locations = try FileManager.default.contentsOfDirectory(atPath: work.appendingPathComponent("runs/bbbc021/locations").path)
        #expect(locations.contains("Week1_22123.csv") && locations.contains("Week2_22223.csv"), "\(locations)")

        // So does the whole-image classifier's (settings shrunk on the command line, the file unchanged).
        let wholeImage = TestPaths.repoRoot.appendingPathComponent("Pipelines/bbbc021-wholeimage.yaml").path
        let small = ["--set", "stages.classify.input_size=32", "--set", "stages.classify.depth=18", "--set", "stages.classify.width=4",
                     "--set", "stages.classify.epochs=1", "--set", "stages.classify.holdouts=[nsc]", "--quiet"]
        let classified = try Self.morpho(["run", wholeImage] + small, in: work)
        #expect(classified.status == 0, "\(classified.stderr)")
        let metrics = work.appendingPathComponent("runs/bbbc021-wholeimage/predictions/metrics.json")
        #expect(FileManager.default.fileExists(atPath: metrics.path) && classified.stderr.contains("nsc_treatment_accuracy"), "\(classified.stderr)")
    }

    /// Every file's SHA-256 is recorded in sha256sum's format (checked here by coreutils' sha256sum); a
    /// metadata table changed after the download is an error on the next run, and `--verify` finds a
    /// changed image and fetches its plate again.
    @Test(.enabled(if: Peers.available)) func checksumsAreRecordedAndCheckedOnRerun() throws {
        let served = try Self.serveTinyScreen()
        let server = try LocalHTTPServer(root: served)
        defer { server.stop() }
        let work = TestPaths.temporaryDirectory("bbbc021-sha")
        let base = ["data", "bbbc021", "--base-url", server.baseURL.absoluteString, "--plates", "Week1_22123", "--quiet"]
        #expect(try Self.morpho(base, in: work).status == 0)
        let dest = work.appendingPathComponent("Data/bbbc021"), plate = dest.appendingPathComponent("images/Week1/Week1_22123")
        for folder in [dest, plate] {
            let check = try runProcessCapturing(URL(fileURLWithPath: "/usr/bin/sha256sum"), ["-c", "--strict", "SHA256SUMS"], cwd: folder)
            #expect(check.status == 0 && !check.stdout.contains("FAILED"), "\(check.stdout) \(check.stderr)")
        }
        #expect(try String(contentsOf: plate.appendingPathComponent("SHA256SUMS"), encoding: .utf8).split(separator: "\n").count == 84)
        #expect(try String(contentsOf: plate.appendingPathComponent(".morpho-download.json"), encoding: .utf8).contains("archive_sha256"))

        // A changed image goes unnoticed by a plain rerun (no re-hashing of 40 GB), not by --verify.
        let image = try FileManager.default.contentsOfDirectory(atPath: plate.path).filter { $0.hasSuffix(".tif") }.sorted()[0]
        let original = try Data(contentsOf: plate.appendingPathComponent(image))
        var changed = original
        changed[changed.count - 1] ^= 1
        try changed.write(to: plate.appendingPathComponent(image))
        let plain = try Self.morpho(base, in: work)
        #expect(plain.status == 0 && plain.stdout.contains("1 already complete"), "\(plain.stdout)")
        let verified = try Self.morpho(base.filter { $0 != "--quiet" } + ["--verify"], in: work)
        #expect(verified.status == 0 && verified.stdout.contains("1 plate(s) unpacked"), "\(verified.stdout)")
        #expect(verified.stderr.contains("\(image): its SHA-256 is") && verified.stderr.contains("downloading the plate again"), "\(verified.stderr)")
        #expect(try Data(contentsOf: plate.appendingPathComponent(image)) == original)

        // A metadata table changed after its download is refused, naming it.
        let moa = dest.appendingPathComponent("BBBC021_v1_moa.csv")
        try (Data(contentsOf: moa) + Data("x,1,y\n".utf8)).write(to: moa)
        let refused = try Self.morpho(base, in: work)
        #expect(refused.status == 1 && refused.stderr.contains("BBBC021_v1_moa.csv") && refused.stderr.contains("changed since it was downloaded"), "\(refused.stderr)")
    }

    @Test(.enabled(if: Peers.available)) func damagedArchiveIsNamedDeletedAndFetchedAgain() throws {
        let served = try Self.serveTinyScreen()
        let zip = served.appendingPathComponent("BBBC021_v1_images_Week1_22123.zip")
        let good = try Data(contentsOf: zip)
        var bad = good
        bad[good.count / 3] ^= 0xFF
        try bad.write(to: zip)
        let server = try LocalHTTPServer(root: served)
        defer { server.stop() }
        let work = TestPaths.temporaryDirectory("bbbc021-bad")
        let base = ["data", "bbbc021", "--base-url", server.baseURL.absoluteString, "--plates", "Week1_22123", "--quiet"]
        let failed = try Self.morpho(base, in: work)
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("BBBC021_v1_images_Week1_22123.zip") && failed.stderr.contains("entry 'Week1_22123/")
                && failed.stderr.contains("run the command again"), "\(failed.stderr)")
        let week1 = work.appendingPathComponent("Data/bbbc021/images/Week1")
        #expect(try FileManager.default.contentsOfDirectory(atPath: week1.path).isEmpty)  // nothing half-unpacked
        #expect(!FileManager.default.fileExists(atPath: work.appendingPathComponent("Data/bbbc021/zips/BBBC021_v1_images_Week1_22123.zip").path))

        try good.write(to: zip)
        let again = try Self.morpho(base, in: work)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: week1.appendingPathComponent("Week1_22123").path).count == 84 + 2)  // + record, SHA256SUMS

        let unknown = try Self.morpho(["data", "bbbc021", "--base-url", server.baseURL.absoluteString, "--plates", "Week9"], in: work)
        #expect(unknown.status == 1 && unknown.stderr.contains("'Week9' is neither a plate nor a batch of BBBC021 (batches: Week1, Week2;"), "\(unknown.stderr)")
    }

    /// A served image table whose paths climb out of the destination is refused before anything is
    /// fetched or written, with the row and column named; an archive entry the table does not list is
    /// not unpacked.
    @Test(.enabled(if: Peers.available)) func pathsFromTheServedTableStayInsideTheDestination() throws {
        let served = try Self.serveTinyScreen()
        let table = served.appendingPathComponent("BBBC021_v1_image.csv")
        let original = try String(contentsOf: table, encoding: .utf8)
        try original.replacingOccurrences(of: "Week1/Week1_22123", with: "../../victim/Week1_22123").write(to: table, atomically: true, encoding: .utf8)
        let server = try LocalHTTPServer(root: served)
        defer { server.stop() }
        let work = TestPaths.temporaryDirectory("bbbc021-traversal")
        let base = ["data", "bbbc021", "--base-url", server.baseURL.absoluteString, "--plates", "Week1_22123", "--quiet"]
        let refused = try Self.morpho(base, in: work)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("BBBC021_v1_image.csv:2 column 'Image_PathName_DAPI'") && refused.stderr.contains("climbs out"), "\(refused.stderr)")
        for folder in [work, work.deletingLastPathComponent(), work.appendingPathComponent("Data")] {
            #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("victim").path))
        }

        // The real table again, and an archive with one file more than the table lists.
        try original.write(to: table, atomically: true, encoding: .utf8)
        _ = try Peers.run(["-c", """
        import sys, zipfile
        with zipfile.ZipFile(sys.argv[1], "a") as z:
            z.writestr("Week1_22123/extra.sh", b"echo not an image")
        """, served.appendingPathComponent("BBBC021_v1_images_Week1_22123.zip").path])
        // The refused table was not kept: the same destination fetches the good one.
        let fetched = try Self.morpho(base, in: work)
        #expect(fetched.status == 0, "\(fetched.stderr)")
        let plate = work.appendingPathComponent("Data/bbbc021/images/Week1/Week1_22123")
        let files = try FileManager.default.contentsOfDirectory(atPath: plate.path)
        #expect(files.count == 84 + 2 && !files.contains("extra.sh"))
    }
}
