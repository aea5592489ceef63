import Foundation
import MorphoCore

/// The parameters of a synthetic BBBC021-like screen. Every value has a default; `preset` gives the
/// named sizes. The same config and seed give the same bytes.
public struct SyntheticConfig: Codable, Sendable, Equatable {
    public var seed: UInt64 = 1
    public var fieldWidth = 256
    public var fieldHeight = 256
    public var batches = 2
    public var platesPerBatch = 1
    /// Number of mechanisms of action (the first k of `Phenotype.moaOrder`), at least 1.
    public var moaCount = 6
    public var compoundsPerMoA = 2
    /// Concentrations in micromolar; effects grow with dose (Hill curve around each compound's EC50).
    public var concentrations = [0.3, 3.0]
    /// Replicate wells per treatment, placed on different plates (and so across batches).
    public var replicates = 2
    public var controlWellsPerPlate = 4
    public var sitesPerWell = 1
    /// Mean number of cells in a DMSO field (scaled by a treatment's density).
    public var cellsPerField = 24
    /// Fraction of cells placed touching a neighbour (their nuclei touch).
    public var touchingFraction = 0.25
    /// Depth of the per-plate vignetting: the illumination field falls from 1 at its centre to about
    /// 1 - strength in the far corners.
    public var illuminationStrength = 0.55
    /// Relative size of per-batch intensity and texture shifts.
    public var batchEffect = 0.12
    /// Camera: counts per unit of signal (DMSO nucleus peak ~ 1), background counts, read noise (counts).
    public var signalCounts = 2600.0
    public var backgroundCounts = 180.0
    public var readNoise = 6.0
    /// Base radii in pixels of a DMSO nucleus and cell body.
    public var nucleusRadius = 8.0
    public var cellRadius = 20.0

    public init() {}

    /// Named sizes: `tiny` (tests: 2 plates of 256x256, seconds), `small` (demo: 4 plates in 2
    /// batches, 8 MoAs, 2 sites of 512x512), `realistic` (1280x1024 fields, BBBC021 scale).
    public static func preset(_ name: String) throws -> SyntheticConfig {
        var c = SyntheticConfig()
        switch name {
        case "tiny":
            break
        case "small":
            c.fieldWidth = 512; c.fieldHeight = 512; c.platesPerBatch = 2; c.moaCount = 8
            c.concentrations = [0.1, 1.0, 10.0]; c.replicates = 3; c.sitesPerWell = 2; c.cellsPerField = 70
        case "realistic":
            c.fieldWidth = 1280; c.fieldHeight = 1024; c.batches = 3; c.platesPerBatch = 2; c.moaCount = 12
            c.compoundsPerMoA = 3; c.concentrations = [0.1, 1.0, 10.0]; c.replicates = 3; c.controlWellsPerPlate = 6
            c.sitesPerWell = 4; c.cellsPerField = 260; c.nucleusRadius = 10; c.cellRadius = 25
        default:
            throw MorphoError.config(key: "preset", problem: "unknown preset '\(name)' (tiny, small, realistic)")
        }
        return c
    }

    /// Checks ranges; the error names the key.
    public func validate() throws {
        func check(_ ok: Bool, _ key: String, _ problem: String) throws {
            if !ok { throw MorphoError.config(key: key, problem: problem) }
        }
        try check(fieldWidth >= 32 && fieldHeight >= 32, "fieldWidth/fieldHeight", "fields must be at least 32x32")
        try check(batches >= 1 && platesPerBatch >= 1, "batches", "need at least one plate")
        try check((1...12).contains(moaCount), "moaCount", "must be 1...12 (BBBC021 has 12 mechanisms)")
        try check(compoundsPerMoA >= 1, "compoundsPerMoA", "must be at least 1")
        try check(!concentrations.isEmpty && concentrations.allSatisfy { $0 > 0 }, "concentrations", "need positive concentrations")
        try check(replicates >= 1, "replicates", "must be at least 1")
        try check(controlWellsPerPlate >= 1, "controlWellsPerPlate", "every plate needs DMSO controls")
        try check(sitesPerWell >= 1, "sitesPerWell", "must be at least 1")
        try check(cellsPerField >= 1, "cellsPerField", "must be at least 1")
        try check((0...1).contains(touchingFraction), "touchingFraction", "must be in 0...1")
        try check((0..<0.95).contains(illuminationStrength), "illuminationStrength", "must be in 0..<0.95")
        try check(nucleusRadius >= 2 && cellRadius > nucleusRadius, "nucleusRadius", "need 2 <= nucleusRadius < cellRadius")
    }
}

/// One well to render.
public struct DesignWell: Sendable {
    public var well: WellID
    public var treatment: Treatment
    public var replicate: Int
    public var sites: Int
}

/// One plate to render.
public struct DesignPlate: Sendable {
    public var name: String
    public var batch: String
    public var wells: [DesignWell]
}

/// The experimental design of a screen: which treatment is in which well of which plate.
public struct ScreenDesign: Sendable {
    public var plates: [DesignPlate]
    public var control: String

    /// Compound names are "<MoA initials>-<k>" (e.g. "MD-1" for a microtubule destabilizer).
    public static func compoundName(moa: String, index: Int) -> String {
        let initials = moa.split(whereSeparator: { $0 == " " || $0 == "-" }).map { String($0.prefix(1)).uppercased() }.joined()
        return "\(initials)-\(index + 1)"
    }

    /// Lays out a synthetic screen from `config`: treatments are every MoA x compound x concentration;
    /// replicate r of treatment t goes on plate (t + r * platesPerBatch) mod plates, so replicates of a
    /// treatment land in different batches when there are several; wells are filled row-major over
    /// the inner 6 x 10 wells of a 96-well plate in a seeded random order.
    public static func make(_ config: SyntheticConfig) throws -> ScreenDesign {
        try config.validate()
        let plateCount = config.batches * config.platesPerBatch
        var treatments = [Treatment]()
        for moa in Phenotype.moaOrder.prefix(config.moaCount) {
            for k in 0..<config.compoundsPerMoA {
                for c in config.concentrations {
                    treatments.append(Treatment(compound: compoundName(moa: moa, index: k), concentration: c, moa: moa))
                }
            }
        }
        var content = [[(Treatment, Int)]](repeating: [], count: plateCount)
        for (t, treatment) in treatments.enumerated() {
            for r in 0..<config.replicates {
                content[(t + r * config.platesPerBatch) % plateCount].append((treatment, r + 1))
            }
        }
        let interior = (1...6).flatMap { row in (2...11).map { WellID(row: row, column: $0) } }
        var plates = [DesignPlate]()
        for p in 0..<plateCount {
            let b = p / config.platesPerBatch
            let name = "Week\(b + 1)_\(22100 + 100 * b + 11 * (p % config.platesPerBatch) + 23)"
            var items = content[p]
            for k in 0..<config.controlWellsPerPlate {
                items.append((Treatment(compound: "DMSO", concentration: 0, moa: "DMSO"), k + 1))
            }
            guard items.count <= interior.count else {
                throw MorphoError.config(key: "replicates", problem: "plate \(name) would need \(items.count) wells; a 96-well plate has \(interior.count) inner wells: use more plates or fewer treatments")
            }
            var rng = SeededGenerator(seed: config.seed, stream: "layout/\(name)")
            let positions = interior.shuffled(using: &rng).prefix(items.count).sorted()
            let wells = zip(positions, items).map { DesignWell(well: $0, treatment: $1.0, replicate: $1.1, sites: config.sitesPerWell) }
            plates.append(DesignPlate(name: name, batch: "Week\(b + 1)", wells: wells))
        }
        return ScreenDesign(plates: plates, control: "DMSO")
    }

    /// The exact design of a real experiment (plates, wells, treatments, MoAs, batches, site counts),
    /// for example BBBC021 read by `BBBC021Layout`, to be rendered with synthetic pixels.
    public static func from(_ experiment: Experiment, maxSites: Int? = nil) -> ScreenDesign {
        let control = experiment.controlCompound ?? "DMSO"
        let plates = experiment.plates.map { plate in
            DesignPlate(name: plate.name, batch: plate.batch, wells: plate.wells.compactMap { w in
                guard let t = w.treatment else { return nil }
                return DesignWell(well: w.id, treatment: t, replicate: w.replicate ?? 1,
                                  sites: min(w.sites.count, maxSites ?? Int.max))
            })
        }
        return ScreenDesign(plates: plates, control: control)
    }

    public var fieldCount: Int { plates.reduce(0) { $0 + $1.wells.reduce(0) { $0 + $1.sites } } }
}
