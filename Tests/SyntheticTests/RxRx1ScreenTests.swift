import Foundation
import MorphoCore
import MorphoIO
import MorphoTestSupport
import Synthetic
import Testing

@Suite struct RxRx1ScreenTests {
    @Test func fullLayoutHasRxRx1sDesign() throws {
        let design = try RxRx1Design(config: try RxRx1Config.preset("rxrx1"))
        let plates = Dictionary(grouping: design.wells) { "\($0.experiment) \($0.plate)" }
        #expect(plates.count == 4 * 9 * 4)
        for (_, wells) in plates {
            #expect(wells.count == 308)  // 277 treatments + 30 controls + 1 untreated: the inner wells, all used
            #expect(Set(wells.map(\.well)).count == 308 && wells.allSatisfy { (1...14).contains($0.well.row) && (2...23).contains($0.well.column) })
            #expect(wells.filter { $0.kind == .positiveControl }.count == 30 && wells.filter { $0.kind == .negativeControl }.count == 1)
        }
        // Each experiment holds every one of the 1,108 classes exactly once.
        for (_, wells) in Dictionary(grouping: design.wells, by: \.experiment) {
            let treatments = wells.filter { $0.kind == .treatment }.map { $0.sirna! }
            #expect(treatments.count == 1108 && Set(treatments) == Set(0..<1108))
        }
        // Plate groups are fixed sets, and which plate holds which group varies between experiments.
        #expect(design.groups.count == 4 && design.groups.allSatisfy { $0.count == 277 })
        #expect(RxRx1Design.group(plate: 1, experiment: 1, groups: 4) != RxRx1Design.group(plate: 1, experiment: 2, groups: 4))
        #expect(Set(design.wells.filter(\.test).map(\.experiment)).count == 12)
    }

    @Test func tablesRoundTripAndRenderingIsDeterministic() throws {
        let config = try RxRx1Config.preset("tiny")
        let design = try RxRx1Design(config: config)
        let out = TestPaths.temporaryDirectory("rxrx1")
        let writer = RxRx1ScreenWriter(design: design)
        #expect(try writer.write(to: out, progress: false) == design.wells.count)
        // The test labels are not in test.csv; the truth file gives them back.
        let test = try CSV.read(out.appendingPathComponent("test.csv"))
        #expect(!test.hasColumn("sirna"))
        let blind = try RxRx1Layout.read(out)
        #expect(blind.filter { $0.test && $0.kind == .treatment }.allSatisfy { $0.sirna == nil })
        let read = try RxRx1Layout.read(out, truthFile: out.appendingPathComponent("truth/test_labels.csv"))
        #expect(Set(read.map(\.idCode)) == Set(design.wells.map(\.idCode)) && read.count == design.wells.count)
        let byID = Dictionary(uniqueKeysWithValues: design.wells.map { ($0.idCode, $0) })
        #expect(read.allSatisfy { byID[$0.idCode] == $0 })

        // A well renders the same again; a deleted image is the only thing rendered by a rerun.
        let well = design.wells[5]
        let file = well.imageURL(root: out, site: 1, channel: 6, ext: "png")
        #expect(try ImageFile.readImage(file).pixels == RxRx1Renderer(config: config).render(well, site: 1)[5].pixels)
        try FileManager.default.removeItem(at: file)
        #expect(try writer.write(to: out, progress: false) == 1)
        var other = config
        other.seed = 2
        #expect(throws: MorphoError.self) { try RxRx1ScreenWriter(design: try RxRx1Design(config: other)).write(to: out, progress: false) }
    }

    @Test func experimentEffectsAreStrongAndPhenotypesShowWithinAPlate() throws {
        var config = try RxRx1Config.preset("tiny")
        config.imageSize = 48
        config.cellsPerImage = 8
        let renderer = RxRx1Renderer(config: config)
        let design = try RxRx1Design(config: config)
        func mean(_ wells: [RxRx1Well], channel: Int) -> Double {
            let values = wells.flatMap { renderer.render($0, site: 1)[channel].pixels }
            return Double(values.reduce(0, +)) / Double(values.count)
        }
        // Per-experiment means of a channel differ by far more than a subtle phenotype would move them.
        let byExperiment = Dictionary(grouping: design.wells, by: \.experiment)
        let means = byExperiment.values.map { mean(Array($0.prefix(12)), channel: 0) }
        #expect(means.max()! / means.min()! > 1.3, "\(means)")
        // A class with a strong effect on the nucleus channel (intensity, and area: twice the log radius)
        // differs from the untreated wells of its plate in that direction in both experiments of the cell type.
        let effects = (0..<config.classes).map { k in
            let p = renderer.phenotype(sirna: k, cellType: "HEPG2")
            return p[2] + 2 * p[0]
        }
        let strongest = effects.indices.max { abs(effects[$0]) < abs(effects[$1]) }!
        var signs = [Bool]()
        for e in ["HEPG2-01", "HEPG2-02"] {
            let wells = design.wells.filter { $0.experiment == e }
            let target = wells.first { $0.sirna == strongest }!
            let untreated = wells.filter { $0.plate == target.plate && $0.kind == .negativeControl }
            let sites = (1...6).map { s in renderer.render(target, site: s)[0].pixels }.flatMap { $0 }
            let controlSites = untreated.flatMap { w in (1...6).flatMap { renderer.render(w, site: $0)[0].pixels } }
            let t = Double(sites.reduce(0, +)) / Double(sites.count), c = Double(controlSites.reduce(0, +)) / Double(controlSites.count)
            signs.append((t > c) == (effects[strongest] > 0))
        }
        #expect(signs == [true, true], "class \(strongest) effect \(effects[strongest])")
    }
}
