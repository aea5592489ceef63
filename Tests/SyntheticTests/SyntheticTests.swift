import Foundation
import MorphoCore
import MorphoIO
import MorphoTestSupport
@testable import Synthetic
import Testing

/// Mean of a per-nucleus quantity over fields rendered for one phenotype.
func nucleusStatistics(_ phenotype: Phenotype, fields: Int = 6, config: SyntheticConfig = TinyScreen.config) -> (count: Double, area: Double, rounded: Double) {
    let renderer = FieldRenderer(config: config)
    let illumination = (0..<3).map { renderer.illumination(plate: "P", channel: $0) }
    let batch = BatchShift(batch: "B", seed: 1, strength: 0)
    var n = 0, area = 0, rounded = 0
    for k in 0..<fields {
        var rng = SeededGenerator(seed: 9, stream: "stats/\(k)")
        let field = renderer.render(phenotype: phenotype, batch: batch, illumination: illumination, rng: &rng)
        n += field.nuclei.count
        area += field.nuclei.reduce(0) { $0 + $1.area }
        rounded += field.nuclei.filter(\.rounded).count
    }
    return (Double(n) / Double(fields), Double(area) / Double(max(n, 1)), Double(rounded) / Double(max(n, 1)))
}

@Suite struct DesignTests {
    @Test func tinyDesignHasControlsEverywhereAndReplicatesAcrossBatches() throws {
        let design = try ScreenDesign.make(TinyScreen.config)
        #expect(design.plates.count == 2 && design.plates.map(\.batch) == ["Week1", "Week2"])
        for plate in design.plates {
            #expect(plate.wells.filter { $0.treatment.compound == "DMSO" }.count == 4)
            #expect(Set(plate.wells.map(\.well)).count == plate.wells.count)
        }
        // 6 MoAs x 2 compounds x 2 concentrations, 2 replicates each, on different plates (batches).
        var platesOf = [String: Set<String>]()
        for p in design.plates { for w in p.wells where w.treatment.compound != "DMSO" { platesOf[w.treatment.key, default: []].insert(p.batch) } }
        #expect(platesOf.count == 24 && platesOf.values.allSatisfy { $0.count == 2 })
    }

    @Test func invalidConfigsNameTheKey() throws {
        var c = SyntheticConfig()
        c.moaCount = 13
        #expect(throws: MorphoError.config(key: "moaCount", problem: "must be 1...12 (BBBC021 has 12 mechanisms)")) { try c.validate() }
        c = SyntheticConfig()
        c.controlWellsPerPlate = 0
        #expect(throws: MorphoError.self) { try c.validate() }
        c = SyntheticConfig()
        c.batches = 1; c.moaCount = 12; c.compoundsPerMoA = 3
        #expect(throws: MorphoError.self) { try ScreenDesign.make(c) }  // does not fit on one plate
        #expect(throws: MorphoError.config(key: "preset", problem: "unknown preset 'huge' (tiny, small, realistic)")) { try SyntheticConfig.preset("huge") }
    }

    @Test func doseResponseGrowsWithConcentration() throws {
        func f(_ c: Double) throws -> Double {
            try Phenotype.of(Treatment(compound: "AK-1", concentration: c, moa: "Aurora kinase inhibitors"), control: "DMSO", ec50: 1).nucleusSize
        }
        let sizes = try [0.01, 0.1, 1, 10, 100].map(f)
        #expect(zip(sizes, sizes.dropFirst()).allSatisfy { $0 < $1 })
        #expect(abs(sizes[2] - (1 + 0.45 / 2)) < 1e-12)  // half effect at the EC50
        #expect(try Phenotype.of(Treatment(compound: "DMSO", concentration: 0), control: "DMSO", ec50: 1) == .control)
        #expect(throws: MorphoError.self) { try Phenotype.of(Treatment(compound: "x", concentration: 1, moa: "Unknown MoA"), control: "DMSO", ec50: 1) }
        #expect(Phenotype.moaOrder.count == 12 && Set(Phenotype.moaOrder) == Set(Phenotype.byMoA.keys))
    }
}

@Suite struct RenderTests {
    @Test func sameSeedSameBytesOtherSeedOtherBytes() throws {
        let renderer = FieldRenderer(config: TinyScreen.config)
        let illum = (0..<3).map { renderer.illumination(plate: "P", channel: $0) }
        func render(_ seed: UInt64) -> RenderedField {
            var rng = SeededGenerator(seed: seed, stream: "f")
            return renderer.render(phenotype: .control, batch: BatchShift(batch: "B", seed: 1, strength: 0.1), illumination: illum, rng: &rng)
        }
        let a = render(1), b = render(1), c = render(2)
        #expect(a.channels == b.channels && a.labels == b.labels)
        #expect(a.channels[0] != c.channels[0])
    }

    @Test func groundTruthAgreesWithTheLabelImage() throws {
        let renderer = FieldRenderer(config: TinyScreen.config)
        let illum = (0..<3).map { renderer.illumination(plate: "P", channel: $0) }
        var rng = SeededGenerator(seed: 5, stream: "gt")
        let f = renderer.render(phenotype: .control, batch: BatchShift(batch: "B", seed: 1, strength: 0), illumination: illum, rng: &rng)
        #expect(f.nuclei.count >= 10)
        #expect(Int(f.labels.range.max) == f.nuclei.count)
        var area = [Int](repeating: 0, count: f.nuclei.count + 1)
        for v in f.labels.pixels { area[Int(v)] += 1 }
        #expect(f.nuclei.allSatisfy { area[$0.label] == $0.area && $0.area > 20 })
        // Nuclei are bright in DNA: the mean DNA count inside nuclei is well above background.
        var inside = 0.0, outside = 0.0, ni = 0.0, no = 0.0
        for (i, v) in f.channels[0].pixels.enumerated() {
            if f.labels.pixels[i] > 0 { inside += Double(v); ni += 1 } else { outside += Double(v); no += 1 }
        }
        #expect(inside / ni > 4 * outside / no)
        #expect(f.channels.allSatisfy { $0.bitDepth == .uint16 && $0.range.max <= 65535 && $0.range.min >= 0 })
    }

    @Test func someNucleiTouch() throws {
        let renderer = FieldRenderer(config: TinyScreen.config)
        let illum = (0..<3).map { renderer.illumination(plate: "P", channel: $0) }
        var touching = Set<[Int]>()
        for k in 0..<4 {
            var rng = SeededGenerator(seed: 11, stream: "touch/\(k)")
            let f = renderer.render(phenotype: .control, batch: BatchShift(batch: "B", seed: 1, strength: 0), illumination: illum, rng: &rng)
            let w = f.labels.width
            for y in 0..<f.labels.height { for x in 0..<(w - 1) {
                let a = Int(f.labels[x, y]), b = Int(f.labels[x + 1, y])
                if a > 0, b > 0, a != b { touching.insert([k, min(a, b), max(a, b)]) }
            } }
        }
        #expect(touching.count >= 5)
    }

    @Test func illuminationFieldHasTheConfiguredVignetting() {
        let renderer = FieldRenderer(config: TinyScreen.config)
        let field = renderer.illumination(plate: "Week1_22123", channel: 0)
        let (lo, hi) = field.range
        #expect(hi == 1)
        #expect(lo > 0.3 && lo < 0.6)
        #expect(field != renderer.illumination(plate: "Week2_22223", channel: 0))
    }

    /// Each mechanism moves the measurable morphology the way it is meant to.
    @Test func phenotypesChangeMeasurableMorphology() throws {
        let dmso = nucleusStatistics(.control)
        let aurora = nucleusStatistics(Phenotype.byMoA["Aurora kinase inhibitors"]!)
        let eg5 = nucleusStatistics(Phenotype.byMoA["Eg5 inhibitors"]!)
        let replication = nucleusStatistics(Phenotype.byMoA["DNA replication"]!)
        #expect(aurora.area > 1.5 * dmso.area)
        #expect(aurora.count < dmso.count)
        #expect(eg5.rounded > 0.35 && dmso.rounded < 0.1)
        #expect(replication.area < dmso.area)
    }
}

@Suite(.serialized) struct ScreenWriterTests {
    @Test func tinyScreenReadsBackThroughTheBBBC021Reader() throws {
        let e = try TinyScreen.read()
        let design = try ScreenDesign.make(TinyScreen.config)
        #expect(e.plates.count == 2 && e.batches == ["Week1", "Week2"])
        #expect(e.wellCount == design.plates.reduce(0) { $0 + $1.wells.count } && e.siteCount == 56)
        #expect(e.treatments.filter { $0.compound != "DMSO" }.allSatisfy { $0.moa != nil })
        #expect(Set(e.treatments.compactMap(\.moa)).count == 7)  // 6 MoAs + DMSO
        for plate in design.plates {
            let read = e.plates.first { $0.name == plate.name }!
            for w in plate.wells {
                let got = read.wells.first { $0.id == w.well }!
                #expect(got.treatment == w.treatment && got.replicate == w.replicate)
            }
        }
        // Images are 16-bit fields of the configured size; truth files exist for every field.
        let site = e.plates[0].wells[0].sites[0]
        let field = try FieldOfView.load(site, channels: BBBC021Layout.channels, plate: e.plates[0].name, well: e.plates[0].wells[0].id)
        #expect(field.width == 256 && field.height == 256 && field.channels.allSatisfy { $0.bitDepth == .uint16 })
        let truth = try CSV.read(TinyScreen.folder.appendingPathComponent("truth/nuclei.csv.gz"))
        #expect(truth.rowCount > 56 * 10)
        let illum = try TIFF.readImage(TinyScreen.folder.appendingPathComponent("truth/illumination/Week1_22123_DAPI.tif"))
        #expect(illum.bitDepth == .float32 && illum.range.max == 1)
    }

    @Test func treatmentTruthGivesEachTreatmentsDoseEffect() throws {
        _ = try TinyScreen.read()
        let table = try CSV.read(TinyScreen.folder.appendingPathComponent("truth/treatments.csv"))
        let design = try ScreenDesign.make(TinyScreen.config)
        let treated = Set(design.plates.flatMap { $0.wells.map(\.treatment) }.filter { $0.compound != "DMSO" }.map(\.key))
        #expect(table.header == ["compound", "concentration", "moa", "ec50", "effect"] && table.rowCount == treated.count)
        var byCompound = [String: [(Double, Double)]]()
        let (compounds, moas) = (try table.column("compound"), try table.column("moa"))
        let (doses, ec50s, effects) = (try table.column("concentration"), try table.column("ec50"), try table.column("effect"))
        for r in 0..<table.rowCount {
            let compound = compounds[r], c = Double(doses[r])!, effect = Double(effects[r])!
            #expect(abs(effect - Phenotype.effect(concentration: c, ec50: Double(ec50s[r])!)) < 1e-4)
            #expect(!moas[r].isEmpty)
            byCompound[compound, default: []].append((c, effect))
        }
        // Within a compound the effect grows with the dose, and half the full effect sits at the EC50.
        for (_, rows) in byCompound { let e = rows.sorted { $0.0 < $1.0 }.map(\.1); #expect(zip(e, e.dropFirst()).allSatisfy { $0 < $1 }) }
        #expect(abs(Phenotype.effect(concentration: 2, ec50: 2) - 0.5) < 1e-12 && Phenotype.effect(concentration: 0, ec50: 2) == 0)
    }

    @Test func rerunResumesAndReproducesTheSameBytes() throws {
        var config = TinyScreen.config
        config.batches = 1
        config.moaCount = 2
        let out = TestPaths.temporaryDirectory("resume")
        let writer = ScreenWriter(config: config, design: try ScreenDesign.make(config), source: "synthetic")
        let first = try writer.write(to: out, progress: false)
        #expect(first.fieldsRendered == first.fields)
        // Simulate a crash: one field lost its images and truth.
        let job = writer.design.plates[0].wells[3]
        let fieldJob = ScreenWriter.FieldJob(plate: writer.design.plates[0], well: job, site: 1)
        let image = writer.imageURL(out, fieldJob, channel: 1)
        let original = try Data(contentsOf: image)
        try FileManager.default.removeItem(at: image)
        try FileManager.default.removeItem(at: writer.truthURL(out, fieldJob).appendingPathExtension("csv"))
        let second = try writer.write(to: out, progress: false)
        #expect(second.fieldsRendered == 1 && second.nuclei == first.nuclei)
        #expect(try Data(contentsOf: image) == original)
        // No temporary files are left anywhere.
        let leftovers = FileManager.default.enumerator(atPath: out.path)!.compactMap { $0 as? String }.filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty)
        // Another config in the same folder is refused.
        var other = config
        other.seed = 99
        #expect(throws: MorphoError.self) {
            try ScreenWriter(config: other, design: try ScreenDesign.make(other), source: "synthetic").write(to: out, progress: false)
        }
    }

    /// The real BBBC021 design (one plate, one site per well) rendered with synthetic pixels.
    @Test func rendersTheRealBBBC021Design() throws {
        let (real, _) = try BBBC021Layout.read(imageCSV: TestPaths.bbbc021ImageCSV, moaCSV: TestPaths.bbbc021MoACSV,
                                               options: .init(annotatedOnly: true, plates: ["Week1_22123"]))
        var config = TinyScreen.config
        config.fieldWidth = 96; config.fieldHeight = 96; config.cellsPerField = 4
        let out = TestPaths.temporaryDirectory("real-design")
        try ScreenWriter(config: config, design: ScreenDesign.from(real, maxSites: 1), source: "BBBC021").write(to: out, progress: false)
        let (back, _) = try BBBC021Layout.read(imageCSV: out.appendingPathComponent("image.csv"), moaCSV: out.appendingPathComponent("moa.csv"),
                                               options: .init(imageRoot: out.appendingPathComponent("images"), checkFiles: true))
        #expect(back.plates.map(\.name) == ["Week1_22123"] && back.plates[0].batch == "Week1")
        #expect(back.wellCount == real.wellCount && back.siteCount == real.wellCount)
        let realWells = Dictionary(uniqueKeysWithValues: real.plates[0].wells.map { ($0.id, $0.treatment) })
        #expect(back.plates[0].wells.allSatisfy { realWells[$0.id] == $0.treatment })
    }
}
