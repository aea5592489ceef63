import Foundation
import MorphoCore
import MorphoIO
import MorphoTestSupport
import Synthetic
import Testing

@Suite struct TranslocationScreenTests {
    /// Mean background-subtracted NF-kB in nuclear cores (DNA bright) over that in the cytoplasm (DNA dark, NF-kB above background).
    static func nuclearToCytoplasmic(_ images: [Image]) -> Double {
        let background: Float = 0.06 * 255
        var nucleus = 0.0, nn = 0.0, cytoplasm = 0.0, nc = 0.0
        for (d, f) in zip(images[0].pixels, images[1].pixels) {
            if d > 100 { nucleus += Double(f - background); nn += 1 } else if d < 25, f > background + 12 { cytoplasm += Double(f - background); nc += 1 }
        }
        return (nucleus / nn) / (cytoplasm / nc)
    }

    /// The nuclear fraction follows the Hill curve; in the images the nuclear/cytoplasmic NF-kB ratio falls from
    /// well above 1 (column 1, translocated) to below 1 (column 12, nuclei dark in bright cytoplasm), in both cell lines.
    @Test func translocationRisesWithTheDose() throws {
        let config = TranslocationConfig()
        #expect(config.concentrations[0] == 100 && abs(config.concentrations[1] - 40) < 1e-12)
        let f0 = config.basalNuclearFraction, f1 = config.maximalNuclearFraction
        #expect(abs(config.nuclearFraction(concentration: config.ec50[1], cellLine: 1) - (f0 + f1) / 2) < 1e-12)
        #expect(abs(config.nuclearFraction(concentration: 0, cellLine: 0) - f0) < 1e-12)
        let renderer = TranslocationRenderer(config: config)
        for line in 0..<2 {
            let ratios = [1, 5, 7, 12].map { column in
                Self.nuclearToCytoplasmic(renderer.render(well: WellID(row: 4 * line, column: column), line: line, concentration: config.concentrations[column - 1]))
            }
            #expect(ratios[0] > 3 && ratios[3] < 0.8, "line \(line): \(ratios)")
            #expect(zip(ratios, ratios.dropFirst()).allSatisfy { $0 > $1 }, "line \(line): \(ratios)")
        }
        // The same well renders the same; the cell lines differ (A549 nuclei are larger).
        let a = renderer.render(well: WellID(row: 0, column: 3), line: 0, concentration: 10)
        #expect(a.map(\.pixels) == renderer.render(well: WellID(row: 0, column: 3), line: 0, concentration: 10).map(\.pixels))
        let b = renderer.render(well: WellID(row: 0, column: 3), line: 1, concentration: 10)
        func nucleusPixels(_ i: [Image]) -> Int { i[0].pixels.filter { $0 > 60 }.count }
        #expect(Double(nucleusPixels(b)) > 1.2 * Double(nucleusPixels(a)))
    }

    /// 96 wells in two channels as BMPs in BBBC014's naming, read back by the layout; a rerun renders only
    /// what is missing; another config in the same folder is refused.
    @Test func screenWritesResumesAndReads() throws {
        let dir = TestPaths.temporaryDirectory("bbbc014-screen")
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = TranslocationConfig()
        config.fieldWidth = 64; config.fieldHeight = 48; config.cellsPerField = 4
        let writer = TranslocationScreenWriter(config: config)
        #expect(try writer.write(to: dir, progress: false) == 96)
        let images = TranslocationScreenWriter.imageFolder(dir)
        try FileManager.default.removeItem(at: images.appendingPathComponent("Channel2-30-C-06.BMP"))
        #expect(try writer.write(to: dir, progress: false) == 1)
        #expect(try writer.write(to: dir, progress: false) == 0)
        let experiment = try config.layout.read(folder: images)
        #expect(experiment.plates.map(\.wells.count) == [48, 48])
        let well = experiment.plates[1].wells.first { $0.id == WellID(row: 7, column: 12) }!
        #expect(well.treatment?.moa == "cytoplasmic" && abs(well.treatment!.concentration - 100 / pow(2.5, 11)) < 1e-12)
        let field = try FieldOfView.load(well.sites[0], channels: experiment.channels, plate: "p", well: well.id)
        #expect(field.width == 64 && field.height == 48 && field.channels.count == 2)
        config.seed = 2
        #expect { try TranslocationScreenWriter(config: config).write(to: dir, progress: false) } throws: { "\($0)".contains("another config") }
        config.ec50 = [1]
        #expect { try config.validate() } throws: { "\($0)".contains("ec50") }
    }
}
