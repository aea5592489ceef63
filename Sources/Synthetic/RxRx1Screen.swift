import Foundation
import MorphoCore
import MorphoIO

/// A synthetic screen with the design of RxRx1 (Recursion; Sypetkowski et al. 2023): experiments
/// (batches) of one cell type each, 4 plates per experiment, 384-well plates without the outer ring (308
/// usable wells), on every plate the same positive-control siRNAs and one untreated well, and the
/// treatment classes split into fixed plate groups so that each experiment holds every class once per
/// plate group (RxRx1: 1,108 = 4 x 277). Six channels (nucleus, nucleolus, mitochondria, ER, actin, Golgi),
/// several sites per well. Class phenotypes are subtle; experiment and plate effects (per-channel gains
/// and offsets) are strong, so that per-plate normalization matters as in DeepNoise (Yang et al.).
public struct RxRx1Config: Codable, Sendable, Equatable {
    public var seed: UInt64 = 1
    /// Cell types, each with its own experiments (at most 4: HEPG2, HUVEC, RPE, U2OS).
    public var cellTypes = 2
    /// Experiments per cell type used for training, and held out (never seen in training, as RxRx1's test set).
    public var trainExperimentsPerCellType = 2
    public var testExperimentsPerCellType = 1
    public var platesPerExperiment = 4
    /// Treatment classes (siRNAs); a multiple of `plateGroups`. RxRx1: 1,108.
    public var classes = 16
    public var plateGroups = 4
    /// Positive-control siRNAs on every plate. RxRx1: 30.
    public var controls = 4
    public var sitesPerWell = 2
    public var imageSize = 64
    public var cellsPerImage = 7
    /// Size of the class phenotypes (log-scale shifts of size and per-channel intensity).
    public var phenotype = 0.35
    /// Share of a class's phenotype that depends on the cell type.
    public var cellTypeSpecificity = 0.4
    /// Per-experiment and per-plate gains (log-scale standard deviations) and offsets (fraction of full scale).
    public var experimentEffect = 0.45
    public var plateEffect = 0.25
    public var offsetEffect = 0.04
    /// Cell-to-cell variation of size and intensity (log scale), which the phenotype must stand out of.
    public var cellVariation = 0.25

    public init() {}

    public static let cellTypeNames = ["HEPG2", "HUVEC", "RPE", "U2OS"]

    /// `tiny` (tests: 16 classes, 32 px), `demo` (40 classes, 48 px, 4 sites), `rxrx1` (the full 1,108-class layout).
    public static func preset(_ name: String) throws -> RxRx1Config {
        var c = RxRx1Config()
        switch name {
        case "tiny":
            c.imageSize = 32; c.cellsPerImage = 4; c.sitesPerWell = 1; c.testExperimentsPerCellType = 1
            c.trainExperimentsPerCellType = 1
        case "demo":
            c.classes = 40; c.controls = 6; c.trainExperimentsPerCellType = 3; c.sitesPerWell = 4
            c.imageSize = 48; c.cellsPerImage = 8
        case "rxrx1":
            c.cellTypes = 4; c.trainExperimentsPerCellType = 6; c.testExperimentsPerCellType = 3
            c.classes = 1108; c.controls = 30; c.imageSize = 128; c.cellsPerImage = 30
        default:
            throw MorphoError.config(key: "preset", problem: "unknown RxRx1 preset '\(name)' (tiny, demo, rxrx1)")
        }
        return c
    }

    public var classesPerGroup: Int { classes / plateGroups }
    /// Treatment wells + controls + the untreated well.
    public var wellsPerPlate: Int { classesPerGroup + controls + 1 }

    public func validate() throws {
        func check(_ ok: Bool, _ key: String, _ problem: String) throws {
            if !ok { throw MorphoError.config(key: key, problem: problem) }
        }
        try check((1...4).contains(cellTypes), "cell_types", "must be 1...4 (HEPG2, HUVEC, RPE, U2OS)")
        try check(trainExperimentsPerCellType >= 1 && testExperimentsPerCellType >= 0, "train_experiments_per_cell_type", "needs at least one training experiment")
        try check(plateGroups >= 1 && classes >= plateGroups && classes % plateGroups == 0, "classes", "\(classes) classes do not split into \(plateGroups) plate groups")
        try check(platesPerExperiment >= 1, "plates_per_experiment", "must be >= 1")
        try check(wellsPerPlate <= 308, "classes", "\(wellsPerPlate) wells per plate do not fit the 308 inner wells of a 384-well plate")
        try check(imageSize >= 16 && sitesPerWell >= 1 && cellsPerImage >= 1, "image_size", "image size >= 16, sites and cells >= 1")
    }
}

public struct RxRx1Design: Sendable {
    public let config: RxRx1Config
    public let wells: [RxRx1Well]
    /// The treatment classes of each plate group.
    public let groups: [[Int]]

    /// The 308 wells of a 384-well plate (16 x 24) without its outer ring: rows B-O, columns 2-23.
    public static let innerWells: [WellID] = (1...14).flatMap { r in (2...23).map { WellID(row: r, column: $0) } }

    /// The plate group of plate `plate` (1-based) of experiment number `experiment` (1-based): a rotation
    /// that differs between experiments, as RxRx1's few fixed plate layouts do.
    public static func group(plate: Int, experiment: Int, groups: Int) -> Int { (plate - 1 + experiment - 1) % groups }

    public init(config: RxRx1Config) throws {
        try config.validate()
        self.config = config
        let perGroup = config.classesPerGroup
        groups = (0..<config.plateGroups).map { g in Array((g * perGroup)..<((g + 1) * perGroup)) }
        var wells = [RxRx1Well]()
        for t in 0..<config.cellTypes {
            let cellType = RxRx1Config.cellTypeNames[t]
            let experiments = config.trainExperimentsPerCellType + config.testExperimentsPerCellType
            for e in 1...experiments {
                let name = String(format: "%@-%02d", cellType, e)
                for p in 1...config.platesPerExperiment {
                    var rng = SeededGenerator(seed: config.seed, stream: "rxrx1 layout \(name) \(p)")
                    let positions = Array(RxRx1Design.innerWells.shuffled(using: &rng).prefix(config.wellsPerPlate)).sorted()
                    let group = RxRx1Design.group(plate: p, experiment: e, groups: config.plateGroups)
                    var contents = groups[group].map { ($0, RxRx1Well.Kind.treatment) }
                    contents += (0..<config.controls).map { (config.classes + $0, .positiveControl) }
                    contents.append((config.classes + config.controls, .negativeControl))
                    contents.shuffle(using: &rng)
                    for (position, (sirna, kind)) in zip(positions, contents) {
                        wells.append(RxRx1Well(experiment: name, cellType: cellType, plate: p, well: position, sirna: sirna, kind: kind,
                                               test: e > config.trainExperimentsPerCellType))
                    }
                }
            }
        }
        self.wells = wells
    }
}

/// Renders the six channels of one site. Every random draw comes from a generator named after what it
/// decides (class phenotype, experiment, plate, site), so any site renders the same on its own.
public struct RxRx1Renderer: Sendable {
    public let config: RxRx1Config

    public init(config: RxRx1Config) { self.config = config }

    /// Effects on the log scale: [nucleus size, cell size, 6 channel intensities, nucleolus spots].
    static let effectCount = 9

    func normals(_ stream: String, _ count: Int) -> [Double] {
        var rng = SeededGenerator(seed: config.seed, stream: stream)
        return (0..<count).map { _ in rng.normal() }
    }

    /// The phenotype of a class in a cell type: a shared part plus a cell-type-specific part. Controls are
    /// stronger (they are chosen to be visible), the untreated well has none.
    public func phenotype(sirna: Int, cellType: String) -> [Double] {
        guard sirna < config.classes + config.controls else { return [Double](repeating: 0, count: Self.effectCount) }
        let shared = normals("phenotype \(sirna)", Self.effectCount)
        let specific = normals("phenotype \(sirna) \(cellType)", Self.effectCount)
        let s = config.cellTypeSpecificity
        let size = config.phenotype * (sirna >= config.classes ? 2 : 1)
        return zip(shared, specific).map { size * ((1 - s) * $0 + s * $1) }
    }

    /// A disk of radius `edge` with a logistic rim of `width`: 1 inside, 0 outside.
    @inline(__always) static func softEdge(_ r: Double, _ edge: Double, _ width: Double) -> Double {
        1 / (1 + Foundation.exp((r - edge) / width))
    }

    /// Renders the 8-bit channels (0...255 as Float) of one site of `well`.
    public func render(_ well: RxRx1Well, site: Int) -> [Image] {
        let n = config.imageSize
        let effect = phenotype(sirna: well.sirna ?? config.classes + config.controls, cellType: well.cellType)
        let typeBase = normals("cell type \(well.cellType)", 8).map { 0.2 * $0 }
        let experimentGain = normals("experiment \(well.experiment) gain", 6).map { Foundation.exp(config.experimentEffect * $0) }
        let experimentOffset = normals("experiment \(well.experiment) offset", 6).map { abs($0) * config.offsetEffect }
        let plateGain = normals("plate \(well.experiment) \(well.plate) gain", 6).map { Foundation.exp(config.plateEffect * $0) }
        var rng = SeededGenerator(seed: config.seed, stream: "site \(well.idCode) \(site)")
        var channels = [[Float]](repeating: [Float](repeating: 0, count: n * n), count: 6)
        let scale = Double(n) / 64
        let baseNucleus = 5.5 * scale * Foundation.exp(typeBase[0]), baseCell = 11.0 * scale * Foundation.exp(typeBase[1])
        let intensities = [0.55, 0.5, 0.35, 0.3, 0.45, 0.5].enumerated().map { $0.element * Foundation.exp(typeBase[2 + $0.offset]) }

        for _ in 0..<max(1, Int((Double(config.cellsPerImage) * rng.uniform(0.7, 1.3)).rounded())) {
            let cx = rng.uniform(0, Double(n)), cy = rng.uniform(0, Double(n))
            let v = config.cellVariation
            let rn = baseNucleus * Foundation.exp(effect[0] + v * 0.5 * rng.normal())
            let rc = max(rn * 1.4, baseCell * Foundation.exp(effect[1] + v * 0.5 * rng.normal()))
            let amp = (0..<6).map { intensities[$0] * Foundation.exp(effect[2 + $0] + v * rng.normal()) }
            let elong = rng.uniform(0.8, 1.25), angle = rng.uniform(0, .pi)
            let (ca, sa) = (Foundation.cos(angle), Foundation.sin(angle))
            let spots = max(1, Int((2.5 * Foundation.exp(effect[8]) + rng.uniform(-0.5, 0.5)).rounded()))
            let spotCentres = (0..<spots).map { _ in (rng.uniform(-0.5, 0.5) * rn, rng.uniform(-0.5, 0.5) * rn) }
            let golgiAngle = rng.uniform(0, 2 * .pi)
            let golgi = (Foundation.cos(golgiAngle) * rn * 1.2, Foundation.sin(golgiAngle) * rn * 1.2)
            let phase = rng.uniform(0, 2 * .pi)
            let x0 = max(0, Int(cx - rc - 2)), x1 = min(n - 1, Int(cx + rc + 2))
            let y0 = max(0, Int(cy - rc - 2)), y1 = min(n - 1, Int(cy + rc + 2))
            guard x0 <= x1, y0 <= y1 else { continue }
            for y in y0...y1 {
                for x in x0...x1 {
                    let dx = Double(x) + 0.5 - cx, dy = Double(y) + 0.5 - cy
                    let u: Double = (ca * dx + sa * dy) / elong
                    let w: Double = (-sa * dx + ca * dy) * elong
                    let r: Double = (u * u + w * w).squareRoot()
                    let i = y * n + x
                    let nucleus = RxRx1Renderer.softEdge(r, rn, 0.6 * scale)
                    let body = RxRx1Renderer.softEdge(r, rc, 1.0 * scale)
                    channels[0][i] += Float(amp[0] * nucleus)
                    var spot = 0.0
                    for (sx, sy) in spotCentres {
                        let d2 = (u - sx) * (u - sx) + (w - sy) * (w - sy)
                        spot += Foundation.exp(-d2 / (2 * 0.8 * scale * 0.8 * scale))
                    }
                    channels[1][i] += Float(amp[1] * spot * nucleus)
                    let texture = 0.5 + 0.5 * Foundation.sin(3 * Foundation.atan2(w, u) + phase + r / scale)
                    channels[2][i] += Float(amp[2] * body * (1 - nucleus) * (0.4 + 0.6 * texture))
                    channels[3][i] += Float(amp[3] * body * Foundation.exp(-max(0, r - rn) / (0.5 * rc)))
                    channels[4][i] += Float(amp[4] * Foundation.exp(-(r - rc) * (r - rc) / (2 * 1.2 * scale * 1.2 * scale)))
                    let gd2 = (u - golgi.0) * (u - golgi.0) + (w - golgi.1) * (w - golgi.1)
                    channels[5][i] += Float(amp[5] * Foundation.exp(-gd2 / (2 * 1.5 * scale * 1.5 * scale)))
                }
            }
        }
        return (0..<6).map { c in
            let gain = experimentGain[c] * plateGain[c]
            var pixels = channels[c]
            for i in pixels.indices {
                let signal = (Double(pixels[i]) + experimentOffset[c] + 0.02) * gain
                let noisy = signal + 0.015 * rng.normal() + (max(signal, 0) * 0.002).squareRoot() * rng.normal()
                pixels[i] = Float(min(255, max(0, (noisy * 255).rounded())))
            }
            return Image(width: n, height: n, pixels: pixels, bitDepth: .uint8)
        }
    }
}

/// Records `config` and the Morpho version in `<folder>/screen.json`, so a rerun resumes the same screen; a
/// folder holding a screen made with another config or version is an error naming the file.
func claimScreenFolder<Config: Encodable>(_ folder: URL, config: Config, kind: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    let screenFile = folder.appendingPathComponent("screen.json")
    let description = try encoder.encode(["config": String(decoding: try encoder.encode(config), as: UTF8.self), "version": MorphoVersion.current])
    if let old = try? Data(contentsOf: screenFile), old != description {
        throw MorphoError.file(path: screenFile.path, problem: "the folder holds \(kind) screen made with another config or version; use a new folder")
    }
    try AtomicFile.write(description, to: screenFile)
}

/// Writes an RxRx1-like screen in RxRx1's layout, 8-bit grey PNGs as RxRx1's own:
///
/// ```
/// <out>/screen.json                               config and Morpho version
/// <out>/train.csv, train_controls.csv, test.csv, test_controls.csv
/// <out>/truth/test_labels.csv                     the held-out experiments' answers (id_code, sirna)
/// <out>/<train|test>/<experiment>/Plate<p>/<well>_s<site>_w<1...6>.png
/// ```
///
/// Images are written atomically, a well's last channel of its last site last, so a rerun renders only
/// the wells a crash left unfinished.
public struct RxRx1ScreenWriter: Sendable {
    public static let imageExtension = "png"
    public let design: RxRx1Design

    public init(design: RxRx1Design) { self.design = design }

    /// Returns the number of wells rendered now (0 when everything was there).
    @discardableResult
    public func write(to folder: URL, progress: Bool = true) throws -> Int {
        let config = design.config
        try claimScreenFolder(folder, config: config, kind: "an RxRx1-like")
        try RxRx1Layout.write(design.wells, to: folder, truthFile: folder.appendingPathComponent("truth/test_labels.csv"))
        let renderer = RxRx1Renderer(config: config)
        let ext = RxRx1ScreenWriter.imageExtension
        let todo = design.wells.filter {
            !FileManager.default.fileExists(atPath: $0.imageURL(root: folder, site: config.sitesPerWell, channel: 6, ext: ext).path)
        }
        let reporter = ProgressReporter("rxrx1 wells", total: todo.count, unit: "wells", enabled: progress)
        _ = try concurrentMap(todo.count) { i in
            let well = todo[i]
            for site in 1...config.sitesPerWell {
                for (c, image) in renderer.render(well, site: site).enumerated() {
                    let bytes = image.pixels.map { UInt8(min(max($0.rounded(), 0), 255)) }
                    try AtomicFile.write(PNG.encode(width: image.width, height: image.height, channels: 1, pixels: bytes),
                                         to: well.imageURL(root: folder, site: site, channel: c + 1, ext: ext))
                }
            }
            reporter.advance()
        }
        reporter.finish()
        return todo.count
    }
}
