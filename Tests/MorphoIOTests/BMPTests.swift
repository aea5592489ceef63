import Foundation
import MorphoCore
@testable import MorphoIO
import MorphoTestSupport
import Testing

@Suite struct BMPTests {
    let dir = TestPaths.temporaryDirectory("bmp")

    /// Our encoder read back through OpenCV: rows bottom-up and padded to 4 bytes (width 13), top row first in memory.
    @Test func encodedBMPReadsBackExactly() throws {
        let w = 13, h = 5
        let bytes = (0..<(w * h)).map { UInt8(($0 * 53 + 7) % 256) }
        let url = dir.appendingPathComponent("grey.Bmp")
        let data = BMP.encode(width: w, height: h, pixels: bytes)
        #expect(data.count == 14 + 40 + 1024 + 16 * h)
        try data.write(to: url)
        let image = try ImageFile.readImage(url)
        #expect(image.width == w && image.height == h && image.bitDepth == .uint8)
        #expect(image.pixels == bytes.map(Float.init))
    }

    @Test func corruptOrMissingBMPIsAnErrorNamingIt() throws {
        let url = dir.appendingPathComponent("cut.bmp")
        try BMP.encode(width: 8, height: 8, pixels: [UInt8](repeating: 9, count: 64)).prefix(60).write(to: url)
        #expect { try ImageFile.readImage(url) } throws: { "\($0)".contains("cut.bmp") }
        #expect { try ImageFile.readImage(dir.appendingPathComponent("none.bmp")) } throws: { "\($0)".contains("none.bmp") }
    }

    /// Pillow, independently: it reads our BMP as the same pixels, and its own 8-bit grey and RGB-grey BMPs
    /// read the same in Morpho; a colour BMP is refused.
    @Test(.enabled(if: Peers.available || Peers.required)) func pillowAgrees() throws {
        let w = 10, h = 6
        let bytes = (0..<(w * h)).map { UInt8(($0 * 29) % 256) }
        let ours = dir.appendingPathComponent("ours.bmp")
        try BMP.encode(width: w, height: h, pixels: bytes).write(to: ours)
        let script = """
        import sys, json, numpy as np
        from PIL import Image
        a = np.array(Image.open(sys.argv[1]))
        print(json.dumps(a.ravel().tolist()))
        g = (np.arange(\(w * h)).reshape(\(h), \(w)) * 29 % 256).astype(np.uint8)
        Image.fromarray(g, "L").save(sys.argv[2] + "/pil_l.bmp")
        Image.fromarray(np.dstack([g, g, g]), "RGB").save(sys.argv[2] + "/pil_rgb.bmp")
        c = np.dstack([g, g // 2, g]); Image.fromarray(c, "RGB").save(sys.argv[2] + "/pil_colour.bmp")
        """
        let out = try Peers.run(["-c", script, ours.path, dir.path])
        #expect(try JSONDecoder().decode([Int].self, from: Data(out.utf8)) == bytes.map(Int.init))
        for name in ["pil_l.bmp", "pil_rgb.bmp"] {
            #expect(try ImageFile.readImage(dir.appendingPathComponent(name)).pixels == bytes.map(Float.init), "\(name)")
        }
        #expect { try ImageFile.readImage(dir.appendingPathComponent("pil_colour.bmp")) } throws: { "\($0)".contains("3 channels") }
    }
}

@Suite struct BBBC014LayoutTests {
    /// A folder with an (empty) file per well and channel in the default naming, plus an unrelated file.
    func folder(skipping: (WellID, Int)? = nil) throws -> URL {
        let dir = TestPaths.temporaryDirectory("bbbc014")
        for r in 0..<8 {
            for c in 1...12 {
                for ch in 1...2 where !(skipping.map { $0.0 == WellID(row: r, column: c) && $0.1 == ch } ?? false) {
                    try Data().write(to: dir.appendingPathComponent(BBBC014Layout.fileName(well: WellID(row: r, column: c), channel: ch, ext: "Bmp")))
                }
            }
        }
        try Data().write(to: dir.appendingPathComponent("Thumbs.db"))
        return dir
    }

    @Test func readsTwoCellLinesAsPlatesWithClassesByColumn() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(BBBC014Layout.fileName(well: WellID(row: 4, column: 1), channel: 2) == "Channel2-49-E-01.BMP")
        let experiment = try BBBC014Layout().read(folder: dir)
        #expect(experiment.channels == ["DNA", "NFkB"] && experiment.controlCompound == nil)
        #expect(experiment.plates.map(\.name) == ["BBBC014-MCF7", "BBBC014-A549"] && experiment.batches == ["A549", "MCF7"])
        let mcf7 = experiment.plates[0], a549 = experiment.plates[1]
        #expect(mcf7.wells.count == 48 && a549.wells.count == 48)
        #expect(mcf7.wells.allSatisfy { $0.id.row < 4 } && a549.wells.allSatisfy { $0.id.row >= 4 })
        let e1 = a549.wells.first { $0.id == WellID(row: 4, column: 1) }!
        #expect(e1.treatment == Treatment(compound: "TNFa", concentration: 12, moa: "nuclear"))
        #expect(e1.sites[0].files["NFkB"]?.lastPathComponent == "Channel2-49-E-01.Bmp")
        #expect(mcf7.wells.first { $0.id.column == 6 }?.treatment?.moa == nil)
        #expect(mcf7.wells.first { $0.id.column == 12 }?.treatment == Treatment(compound: "TNFa", concentration: 1, moa: "cytoplasmic"))
        #expect(Set(experiment.treatments.compactMap(\.moa)) == ["cytoplasmic", "nuclear"] && experiment.treatments.count == 12)
    }

    @Test func badFoldersAndSettingsAreNamed() throws {
        let dir = try folder(skipping: (WellID(row: 2, column: 7), 2))
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect { try BBBC014Layout().read(folder: dir) } throws: { "\($0)".contains("well C07: no NFkB image") }
        var layout = BBBC014Layout()
        layout.filePattern = "^(?<row>[A-H])(?<column>\\d+)\\.tif$"
        #expect { try layout.read(folder: dir) } throws: { "\($0)".contains("(?<channel>") }
        layout.filePattern = "^w(?<row>[A-H])(?<column>\\d+)_c(?<channel>\\d)\\.tif$"
        #expect { try layout.read(folder: dir) } throws: { "\($0)".contains("no image file matches") }
        // Another naming, given by pattern.
        try Data().write(to: dir.appendingPathComponent("wA1_c1.tif"))
        try Data().write(to: dir.appendingPathComponent("wA1_c2.tif"))
        let one = try layout.read(folder: dir)
        #expect(one.plates.count == 1 && one.plates[0].wells.count == 1 && one.plates[0].name == "BBBC014-MCF7")
        try Data().write(to: dir.appendingPathComponent("wA1_c3.tif"))
        #expect { try layout.read(folder: dir) } throws: { "\($0)".contains("wA1_c3.tif") && "\($0)".contains("channel 3 has no name") }
        layout = BBBC014Layout()
        layout.negativeColumns = [4, 5]
        #expect { try layout.validate() } throws: { "\($0)".contains("negative_columns") }
        #expect { try BBBC014Layout().read(folder: dir.appendingPathComponent("absent")) } throws: { "\($0)".contains("absent") }
    }
}
