import Foundation
@testable import MorphoIO
import MorphoCore
import MorphoTestSupport
import Testing

func errorText(_ body: () throws -> Void) -> String {
    do { try body(); return "no error" } catch { return "\(error)" }
}

@Suite struct BBBC021LayoutTests {
    /// Counts checked independently with pandas on the same files (see the closing note of issue 2).
    @Test func readsTheRealLayout() throws {
        let (e, report) = try BBBC021Layout.read(imageCSV: TestPaths.bbbc021ImageCSV, moaCSV: TestPaths.bbbc021MoACSV)
        #expect(e.plates.count == 55 && e.batches.count == 10 && e.wellCount == 3300 && e.siteCount == 13200)
        #expect(e.batches.first == "Week1" && e.batches.last == "Week10")
        #expect(e.treatments.count == 906)
        let annotated = e.treatments.filter { $0.moa != nil && $0.compound != "DMSO" }
        #expect(annotated.count == 103 && Set(annotated.compactMap(\.moa)).count == 12)
        #expect(report.errors.isEmpty && report.warnings.count == 1 && report.warnings[0].hasPrefix("802 treatment(s) have no MoA annotation"))
        // Every plate carries DMSO controls; every well has its 4 sites in order.
        let plate = e.plates.first { $0.name == "Week4_27481" }!
        #expect(plate.batch == "Week4")
        let g10 = plate.wells.first { $0.id == WellID("G10") }!
        #expect(g10.treatment == Treatment(compound: "5-fluorouracil", concentration: 0.003, moa: nil))
        #expect(g10.sites.map(\.index) == [1, 2, 3, 4])
        #expect(g10.sites[0].files["DAPI"]?.path.hasSuffix("Week4/Week4_27481/G10_s1_w1BEDC2073-A983-4B98-95E9-84466707A25D.tif") == true)
    }

    @Test func annotatedOnlyKeepsTheBenchmarkWells() throws {
        let (e, report) = try BBBC021Layout.read(imageCSV: TestPaths.bbbc021ImageCSV, moaCSV: TestPaths.bbbc021MoACSV,
                                                 options: .init(annotatedOnly: true))
        #expect(e.wellCount == 962 && e.siteCount == 3848)
        #expect(e.treatments.count == 104)
        #expect(e.plates.allSatisfy { p in p.wells.contains { $0.treatment?.compound == "DMSO" } })
        #expect(report.warnings[0].contains("were left out"))
        #expect(e.summary.contains("mechanisms of action: 12"))
    }

    /// Leaving out plate controls gives exactly the wells of Ljosa et al. (2013)'s per-well profiles (an
    /// independent selection): the 330 taxol 0.3 uM positive-control wells go, its 3 treatment wells stay.
    @Test func plateControlsLeftOutGiveLjosasWells() throws {
        let (e, report) = try BBBC021Layout.read(imageCSV: TestPaths.bbbc021ImageCSV, moaCSV: TestPaths.bbbc021MoACSV,
                                                 options: .init(annotatedOnly: true, excludePlateControls: true))
        #expect(e.wellCount == 632 && e.treatments.count == 104)
        let ljosa = try CSV.read(TestPaths.ljosaProfiles)
        let expected = Set(zip(try ljosa.column("Image_Metadata_Plate"), try ljosa.column("Image_Metadata_Well")).map { "\($0.0)/\($0.1)" })
        let ours = Set(e.plates.flatMap { p in p.wells.map { "\(p.name)/\($0.id)" } })
        #expect(ours == expected)
        #expect(report.warnings.contains { $0.contains("plate-control") && $0.contains("taxol @ 0.3") })
        // A subset of plates still knows the controls from the whole table.
        let (one, _) = try BBBC021Layout.read(imageCSV: TestPaths.bbbc021ImageCSV, moaCSV: TestPaths.bbbc021MoACSV,
                                              options: .init(annotatedOnly: true, plates: ["Week1_22123"], excludePlateControls: true))
        #expect(one.plates[0].wells.filter { $0.treatment == Treatment(compound: "taxol", concentration: 0.3, moa: "Microtubule stabilizers") }.map(\.id.description) == ["D05"])
    }

    @Test func missingImagesAreReportedPerPlate() throws {
        let root = TestPaths.temporaryDirectory("bbbc021")
        let text = errorText {
            _ = try BBBC021Layout.read(imageCSV: TestPaths.bbbc021ImageCSV, moaCSV: TestPaths.bbbc021MoACSV,
                                       options: .init(imageRoot: root, checkFiles: true, plates: ["Week1_22123"]))
        }
        // 1 plate x 60 wells x 4 sites x 3 channels, none on disk: one line for the plate, with the first file.
        #expect(text.hasPrefix("experiment layout has 1 problem(s):"))
        #expect(text.contains("plate Week1_22123: 720 of its 720 image files are not found (first: "), "\(text.prefix(300))")
        #expect(text.contains("channel DAPI: file not found: \(root.path)/Week1/Week1_22123/"))
        // A few missing files are each listed: every file there (empty is enough) but one.
        let (all, _) = try BBBC021Layout.read(imageCSV: TestPaths.bbbc021ImageCSV, moaCSV: TestPaths.bbbc021MoACSV,
                                              options: .init(imageRoot: root, plates: ["Week1_22123"]))
        let files = all.plates[0].wells.flatMap { $0.sites.flatMap { $0.files.values } }
        try FileManager.default.createDirectory(at: files[0].deletingLastPathComponent(), withIntermediateDirectories: true)
        for f in files.dropFirst() { _ = FileManager.default.createFile(atPath: f.path, contents: nil) }
        let one = errorText {
            _ = try BBBC021Layout.read(imageCSV: TestPaths.bbbc021ImageCSV, moaCSV: TestPaths.bbbc021MoACSV,
                                       options: .init(imageRoot: root, checkFiles: true, plates: ["Week1_22123"]))
        }
        #expect(one.hasPrefix("experiment layout has 1 problem(s):") && one.contains("file not found: \(files[0].path)"), "\(one)")
    }

    @Test func joinsLjosaProfilesWithAnnotations() throws {
        let (e, _) = try BBBC021Layout.read(imageCSV: TestPaths.bbbc021ImageCSV, moaCSV: TestPaths.bbbc021MoACSV)
        let t = try BBBC021Layout.readProfiles(TestPaths.ljosaProfiles, experiment: e)
        #expect(t.rowCount == 632 && t.featureCount == 516)
        #expect(t.featureNames.allSatisfy { $0.hasPrefix("Cells_") || $0.hasPrefix("Cytoplasm_") || $0.hasPrefix("Nuclei_") })
        let moa = t.metadataColumn("Metadata_MoA")!.texts
        #expect(moa.filter { $0 == "DMSO" }.count == 330)
        #expect(moa.filter { $0 == "Microtubule destabilizers" }.count == 42 && moa.filter { $0 == "Kinase inhibitors" }.count == 10)
        #expect(!moa.contains(""))
        #expect(Set(t.metadataColumn("Metadata_Batch")!.texts).count == 10)
        try t.checkFinite(context: "ljosa")
        // Totals match pandas on the same file.
        let area = t.featureIndex("Cells_AreaShape_Area")!
        let areaSum = (0..<t.rowCount).map { Double(t[row: $0, feature: area]) }.reduce(0, +)
        #expect(abs(areaSum - 2_584_350.65398157) < 0.05)
        let total = t.features.map(Double.init).reduce(0, +)
        #expect(abs(total - 23_485_250.490806527) / 23_485_250.49 < 1e-6)
    }

    @Test func duplicateAndUnknownWellsInProfilesAreListed() throws {
        let (e, _) = try BBBC021Layout.read(imageCSV: TestPaths.bbbc021ImageCSV, moaCSV: TestPaths.bbbc021MoACSV)
        let url = TestPaths.temporaryDirectory("profiles").appendingPathComponent("p.csv")
        try Data("Image_Metadata_Plate,Image_Metadata_Well,Cells_A\nWeek1_22123,B02,1\nWeek1_22123,B02,2\nWeek1_99999,B02,3\n".utf8).write(to: url)
        let text = errorText { _ = try BBBC021Layout.readProfiles(url, experiment: e) }
        #expect(text.contains("p.csv:3: plate Week1_22123 well B02 appears again (first at line 2)"), "\(text)")
        #expect(text.contains("p.csv:4: plate Week1_99999 well B02 is not in the layout"))
    }

    @Test func siteNumbersComeFromFileNames() {
        #expect(BBBC021Layout.siteNumber("G10_s3_w1BEDC.tif") == 3)
        #expect(BBBC021Layout.siteNumber("G10_s12_w1.tif") == 12)
        #expect(BBBC021Layout.siteNumber("G10_w1.tif") == nil)
        #expect(ExperimentAssembler.defaultBatch(ofPlate: "Week10_40111") == "Week10")
        #expect(ExperimentAssembler.defaultBatch(ofPlate: "BR00116991") == "BR00116991")
    }
}

@Suite struct LoadDataTests {
    static let jump = TestPaths.realData.appendingPathComponent("jump_cpg0000_A01_1")
    static let channels = ["DNA": "ch5", "ER": "ch4", "RNA": "ch3", "AGP": "ch1", "Mito": "ch2"]

    func write(_ text: String) throws -> URL {
        let url = TestPaths.temporaryDirectory("loaddata").appendingPathComponent("load_data.csv")
        try Data(text.utf8).write(to: url)
        return url
    }

    func header(_ names: [String]) -> String {
        names.flatMap { ["Image_FileName_\($0)", "Image_PathName_\($0)"] }.joined(separator: ",")
            + ",Metadata_Plate,Metadata_Well,Metadata_Site,Metadata_Compound,Metadata_Concentration"
    }

    func row(_ names: [String], well: String = "A01", site: Int = 1, dir: String? = nil, override: [String: String] = [:]) -> String {
        names.map { n in "\(override[n] ?? "r01c01f01p01-\(Self.channels[n]!)sk1fk1fl1.tiff"),\(dir ?? Self.jump.path)" }.joined(separator: ",")
            + ",BR00116991,\(well),\(site),DMSO,0"
    }

    /// The real five-channel JUMP field through a LoadData CSV, loaded as one field of view.
    @Test func loadsTheJumpFieldOfView() throws {
        let names = ["DNA", "ER", "RNA", "AGP", "Mito"]
        let url = try write(header(names) + "\n" + row(names) + "\n")
        let (e, report) = try LoadDataLayout.read(url)
        #expect(report.errors.isEmpty && e.plates.count == 1 && e.siteCount == 1 && e.channels == names)
        #expect(e.plates[0].batch == "BR00116991")
        let site = e.plates[0].wells[0].sites[0]
        let field = try FieldOfView.load(site, channels: names, plate: "BR00116991", well: WellID("A01")!)
        #expect(field.width == 1080 && field.height == 1080 && field.channelNames == names)
        #expect(field.channel("DNA")!.bitDepth == .uint16)
    }

    /// JUMP's load_data.csv: no Image_ prefix, OrigX channel names, AGP first, Metadata_Source as batch;
    /// URL_ columns (path or file:// URL) instead of FileName/PathName; Frame_ columns other than 0 refused.
    @Test func readsJumpAndURLConventions() throws {
        let names = ["AGP", "DNA", "ER", "Mito", "RNA"]
        let header = "Metadata_Source,Metadata_Plate,Metadata_Well,Metadata_Site,"
            + names.map { "FileName_Orig\($0),PathName_Orig\($0)" }.joined(separator: ",")
        let row = "source_4,BR00116991,A01,1," + names.map { "r01c01f01p01-\(Self.channels[$0]!)sk1fk1fl1.tiff,\(Self.jump.path)" }.joined(separator: ",")
        let (e, report) = try LoadDataLayout.read(try write(header + "\n" + row + "\n"))
        #expect(report.errors.isEmpty && e.channels == names.map { "Orig\($0)" } && e.plates[0].batch == "source_4")
        #expect(e.plates[0].wells[0].sites[0].files["OrigDNA"]?.lastPathComponent == "r01c01f01p01-ch5sk1fk1fl1.tiff")

        let dna = Self.jump.appendingPathComponent("r01c01f01p01-ch5sk1fk1fl1.tiff")
        let urls = "Metadata_Plate,Metadata_Well,URL_DNA,Image_URL_ER\nP1,A01,\(dna.absoluteString),\(Self.jump.path)/r01c01f01p01-ch4sk1fk1fl1.tiff\n"
        let (u, r2) = try LoadDataLayout.read(try write(urls))
        #expect(r2.errors.isEmpty && u.channels == ["DNA", "ER"] && u.plates[0].wells[0].sites[0].files["DNA"]?.path == dna.path)

        let remote = "Metadata_Plate,Metadata_Well,URL_DNA\nP1,A01,s3://bucket/x.tiff\n"
        #expect(errorText { _ = try LoadDataLayout.read(try write(remote)) }.contains("load_data.csv:2: URL_DNA 's3://bucket/x.tiff' is not a local file"))
        // Frame_ picks a page of a multi-page TIFF; Series_ other than 0 is refused.
        let stack = TestPaths.temporaryDirectory("frames").appendingPathComponent("stack.tif")
        try TIFF.write((0..<3).map { Image(width: 8, height: 6, value: Float(100 * $0), bitDepth: .uint16) }, to: stack)
        let frames = "Metadata_Plate,Metadata_Well,FileName_DNA,PathName_DNA,Frame_DNA,FileName_ER,PathName_ER,Frame_ER\nP1,A01,stack.tif,\(stack.deletingLastPathComponent().path),2,stack.tif,\(stack.deletingLastPathComponent().path),0\n"
        let (f, r3) = try LoadDataLayout.read(try write(frames))
        let field = try FieldOfView.load(f.plates[0].wells[0].sites[0], channels: ["DNA", "ER"], plate: "P1", well: WellID("A01")!)
        #expect(r3.errors.isEmpty && field.channel("DNA")!.pixels[0] == 200 && field.channel("ER")!.pixels[0] == 0)
        #expect(errorText { _ = try ImageFile.readImage(stack, plane: 3) }.contains("holds 3 plane(s); plane 3 was asked for"))
        let series = "Metadata_Plate,Metadata_Well,FileName_DNA,PathName_DNA,Series_DNA\nP1,A01,stack.tif,\(stack.deletingLastPathComponent().path),1\n"
        #expect(errorText { _ = try LoadDataLayout.read(try write(series)) }.contains("column Series_DNA selects series 1"))
    }

    /// Treatments from a separate plate map (JUMP's `well_position`, or `Metadata_Well` with or without
    /// `Metadata_Plate`), joined on plate + well with wells compared as wells (A1 = A01); a map that
    /// misses a well, lists one twice or contradicts the LoadData CSV is an error naming files and lines.
    @Test func joinsAPlateMapOnPlateAndWell() throws {
        let dir = TestPaths.temporaryDirectory("platemap")
        let dna = "r01c01f01p01-ch5sk1fk1fl1.tiff"
        let load = dir.appendingPathComponent("load_data.csv")
        try Data(("Metadata_Plate,Metadata_Well,Metadata_Site,FileName_DNA,PathName_DNA\n"
            + ["P1,A01,1", "P1,B02,1", "P2,A01,1"].map { "\($0),\(dna),\(Self.jump.path)" }.joined(separator: "\n") + "\n").utf8).write(to: load)
        func map(_ text: String) throws -> URL {
            let url = dir.appendingPathComponent("platemap.csv")
            try Data(text.utf8).write(to: url)
            return url
        }
        // One map for every plate, JUMP's column name and unpadded wells.
        let shared = try map("well_position,Metadata_Compound,Metadata_Concentration,Metadata_MoA\nA1,DMSO,0,\nB2,taxol,0.3,Microtubule stabilizers\n")
        let (e, report) = try LoadDataLayout.read(load, options: .init(checkFiles: false, metadata: shared))
        #expect(report.errors.isEmpty && e.plates.count == 2)
        let b02 = e.plates.first { $0.name == "P1" }!.wells.first { $0.id == WellID("B02")! }!
        #expect(b02.treatment == Treatment(compound: "taxol", concentration: 0.3, moa: "Microtubule stabilizers"))
        #expect(e.plates.first { $0.name == "P2" }!.wells[0].treatment?.compound == "DMSO")

        // Per plate: P2's A01 is missing, P1's A01 is listed twice.
        let perPlate = try map("Metadata_Plate,Metadata_Well,Metadata_Compound\nP1,A01,DMSO\nP1,B02,taxol\nP1,A01,DMSO\n")
        let text = errorText { _ = try LoadDataLayout.read(load, options: .init(checkFiles: false, metadata: perPlate)) }
        #expect(text.contains("platemap.csv:4: plate P1 well A01 is also on line 2") && text.contains("platemap.csv: no row for 1 well(s) of load_data.csv (first: plate P2 well A01)"), "\(text)")

        // A compound that the LoadData CSV names differently.
        try Data(("Metadata_Plate,Metadata_Well,Metadata_Compound,FileName_DNA,PathName_DNA\nP1,A01,DMSO,\(dna),\(Self.jump.path)\nP1,B02,nocodazole,\(dna),\(Self.jump.path)\n").utf8).write(to: load)
        let conflict = errorText { _ = try LoadDataLayout.read(load, options: .init(checkFiles: false, metadata: shared)) }
        #expect(conflict.contains("load_data.csv:3: Metadata_Compound is 'nocodazole' but platemap.csv:3 says 'taxol'"), "\(conflict)")
    }

    @Test func mismatchedChannelSizesNameTheField() throws {
        let names = ["DNA", "ER"]
        let dsb = TestPaths.realData.appendingPathComponent("dsb2018_nuclei/img2d.tif").path
        let url = try write(header(names) + "\n" + row(names).replacingOccurrences(of: "r01c01f01p01-ch4sk1fk1fl1.tiff,\(Self.jump.path)", with: "img2d.tif,\((dsb as NSString).deletingLastPathComponent)") + "\n")
        let (e, _) = try LoadDataLayout.read(url)
        let site = e.plates[0].wells[0].sites[0]
        #expect(errorText { _ = try FieldOfView.load(site, channels: names, plate: "BR00116991", well: WellID("A01")!) }
            == "plate BR00116991 well A01 site 1: channel 'ER' is 512x512 but channel 'DNA' is 1080x1080")
    }

    @Test func reportsEveryProblemAtOnce() throws {
        let names = ["DNA", "ER"]
        let lines = [
            header(names),
            row(names),
            row(names),                                                  // duplicate of line 2
            row(names, well: "Z99x"),                                    // bad well
            row(names, well: "A02", override: ["ER": "missing.tiff"]),   // missing file
        ]
        let url = try write(lines.joined(separator: "\n") + "\n")
        let text = errorText { _ = try LoadDataLayout.read(url) }
        #expect(text.hasPrefix("experiment layout has 3 problem(s):"), "\(text)")
        #expect(text.contains("load_data.csv:3: duplicate row for plate BR00116991 well A01 site 1 (first at load_data.csv:2)"))
        #expect(text.contains("load_data.csv:4: well 'Z99x' on plate BR00116991 is not a well name like A01"))
        #expect(text.contains("load_data.csv:5: plate BR00116991 well A02 site 1 channel ER: file not found: \(Self.jump.path)/missing.tiff"))
    }

    @Test func unknownAndMissingChannels() throws {
        let url = try write(header(["DNA", "ER"]) + "\n" + row(["DNA", "ER"]) + "\n")
        let text = errorText { _ = try LoadDataLayout.read(url, options: .init(channels: ["DNA", "Mito"])) }
        #expect(text.contains("unknown channel 'ER' (expected DNA, Mito)"))
        #expect(text.contains("channel 'Mito' has no FileName_Mito or URL_Mito column"))
    }

    @Test func platesWithoutControlsAndUnannotatedTreatmentsAreWarnings() throws {
        let names = ["DNA"]
        let text = header(names) + ",Metadata_MoA\n" + row(names) + ",DMSO\n"
            + row(names, site: 2).replacingOccurrences(of: ",DMSO,0", with: ",taxol,1") + ",\n"
        let url = try write(text.replacingOccurrences(of: "Metadata_Concentration\n", with: "Metadata_Concentration,Metadata_MoA\n"))
        let text2 = errorText { _ = try LoadDataLayout.read(url) }
        #expect(text2.contains("plate BR00116991 well A01 has treatment taxol@1 but DMSO@0"), "\(text2)")
        // Same data on two plates, the second without DMSO.
        let lines = [header(names) + ",Metadata_MoA", row(names) + ",DMSO",
                     row(names).replacingOccurrences(of: "BR00116991,A01,1,DMSO,0", with: "P2,B03,1,taxol,1") + ","]
        let (e, report) = try LoadDataLayout.read(try write(lines.joined(separator: "\n") + "\n"))
        #expect(e.plates.count == 2)
        #expect(report.warnings.contains("plate P2 has no DMSO control wells"))
        #expect(report.warnings.contains("1 treatment(s) have no MoA annotation: taxol@1"))
    }

    @Test func notALoadDataFile() throws {
        let url = try write("a,b\n1,2\n")
        #expect(errorText { _ = try LoadDataLayout.read(url) }.contains("no FileName_<Channel> or URL_<Channel> columns (with or without the Image_ prefix)"))
    }
}
