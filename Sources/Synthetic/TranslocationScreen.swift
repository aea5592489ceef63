import Foundation
import MorphoCore
import MorphoIO

/// A synthetic NF-kB translocation screen in BBBC014's layout (`BBBC014Layout`): two cell lines of different
/// look (MCF7: small, round, bright; A549: large, elongated, dimmer) in rows A-D and E-H, TNF-alpha in a
/// 12-step dilution series (column 1 the highest), two channels: DNA and NF-kB.
///
/// Each cell holds NF-kB of total amount T; the nuclear fraction follows a Hill curve of the dose,
/// f(c) = f0 + (f1 - f0) c^h / (c^h + EC50^h), with cell-to-cell noise on the logit scale. The nucleus and the
/// cytoplasm are filled evenly with f T and (1 - f) T, so at low doses the nuclei are dark holes in bright
/// cytoplasm and at high doses they are brighter than it (a nuclear/cytoplasmic intensity ratio that rises
/// with the dose, as in Ding et al. 1998's translocation assay). 8-bit BMPs as BBBC014's own.
public struct TranslocationConfig: Codable, Sendable, Equatable {
    public var seed: UInt64 = 1
    public var fieldWidth = 340
    public var fieldHeight = 256
    /// Mean cells per field (Poisson-like, +-30%).
    public var cellsPerField = 40
    /// TNF-alpha in column 1 (ng/mL) and the dilution factor from one column to the next.
    public var topConcentration = 100.0
    public var dilution = 2.5
    /// EC50 (ng/mL) per cell line, in `BBBC014Layout.cellLines` order.
    public var ec50 = [1.0, 3.0]
    public var hill = 1.0
    /// Nuclear fraction of NF-kB without and with saturating TNF-alpha.
    public var basalNuclearFraction = 0.1
    public var maximalNuclearFraction = 0.7
    /// Standard deviation of a cell's nuclear fraction on the logit scale.
    public var cellVariation = 0.5

    public init() {}

    /// The concentration of each of the 12 columns.
    public var concentrations: [Double] { (0..<12).map { topConcentration / pow(dilution, Double($0)) } }

    public func nuclearFraction(concentration c: Double, cellLine: Int) -> Double {
        let h = pow(max(c, 0), hill), k = pow(ec50[cellLine], hill)
        return basalNuclearFraction + (maximalNuclearFraction - basalNuclearFraction) * h / (h + k)
    }

    public func validate() throws {
        func check(_ ok: Bool, _ key: String, _ problem: String) throws { if !ok { throw MorphoError.config(key: "experiment.bbbc014.synthetic.\(key)", problem: problem) } }
        try check(fieldWidth >= 32 && fieldHeight >= 32, "field_width", "fields must be at least 32 x 32")
        try check(cellsPerField >= 1, "cells_per_field", "must be at least 1")
        try check(topConcentration > 0 && dilution > 1, "dilution", "need top_concentration > 0 and dilution > 1")
        try check(ec50.count == 2 && ec50.allSatisfy { $0 > 0 }, "ec50", "give a positive EC50 for each of the two cell lines")
        try check(hill > 0, "hill", "must be positive")
        try check(0 < basalNuclearFraction && basalNuclearFraction < maximalNuclearFraction && maximalNuclearFraction < 1,
                  "maximal_nuclear_fraction", "need 0 < basal_nuclear_fraction < maximal_nuclear_fraction < 1")
        try check(cellVariation >= 0, "cell_variation", "must be non-negative")
    }

    /// The layout the screen is written in, with its real concentrations.
    public var layout: BBBC014Layout {
        var l = BBBC014Layout()
        l.concentrations = concentrations
        return l
    }
}

/// How each cell line looks: radii in pixels, elongation, DNA level and mean NF-kB level over the cell.
struct CellLineLook {
    var nucleusRadius: Double, cellRadius: Double, elongation: Double, dna: Double, nfkb: Double

    static let lines = [CellLineLook(nucleusRadius: 5.0, cellRadius: 10.5, elongation: 1.1, dna: 1.0, nfkb: 0.25),
                        CellLineLook(nucleusRadius: 6.5, cellRadius: 13.0, elongation: 1.5, dna: 0.75, nfkb: 0.2)]
}

/// Renders the two channels of one well. Every random draw comes from a generator named after the well.
public struct TranslocationRenderer: Sendable {
    public let config: TranslocationConfig

    public init(config: TranslocationConfig) { self.config = config }

    /// The 8-bit DNA and NF-kB images (values 0...255 as Float) of `well` of cell line `line` at `concentration`.
    public func render(well: WellID, line: Int, concentration: Double) -> [Image] {
        let w = config.fieldWidth, h = config.fieldHeight
        let look = CellLineLook.lines[line]
        var rng = SeededGenerator(seed: config.seed, stream: "bbbc014 \(well) \(line)")
        var dna = [Float](repeating: 0, count: w * h), nfkb = dna
        let f = config.nuclearFraction(concentration: concentration, cellLine: line)
        let logit = log(f / (1 - f))
        let count = max(1, Int((Double(config.cellsPerField) * rng.uniform(0.7, 1.3)).rounded()))
        var centres = [(Double, Double)]()
        for _ in 0..<count {
            var c = (rng.uniform(0, Double(w)), rng.uniform(0, Double(h)))
            for _ in 0..<20 where centres.contains(where: { hypot($0.0 - c.0, $0.1 - c.1) < 2.2 * look.nucleusRadius }) {
                c = (rng.uniform(0, Double(w)), rng.uniform(0, Double(h)))
            }
            centres.append(c)
            let rn = look.nucleusRadius * exp(0.12 * rng.normal()), rc = max(1.5 * rn, look.cellRadius * exp(0.15 * rng.normal()))
            let e = look.elongation * exp(0.1 * rng.normal()), angle = rng.uniform(0, .pi)
            let (ca, sa) = (cos(angle), sin(angle))
            let fn = 1 / (1 + exp(-(logit + config.cellVariation * rng.normal())))
            // NF-kB of the whole cell, shared out: the nucleus ellipse has area pi rn^2, the cytoplasm the rest of pi rc^2.
            let total = look.nfkb * exp(0.2 * rng.normal()) * Double.pi * rc * rc
            let nucleusArea = Double.pi * rn * rn, cytoplasmArea = Double.pi * rc * rc - nucleusArea
            let nuclearDensity = fn * total / nucleusArea, cytoplasmicDensity = (1 - fn) * total / cytoplasmArea
            let dnaLevel = look.dna * exp(0.15 * rng.normal()), phase = rng.uniform(0, 2 * .pi)
            let reach = rc * e.squareRoot() + 2
            let x0 = max(0, Int(c.0 - reach)), x1 = min(w - 1, Int(c.0 + reach))
            let y0 = max(0, Int(c.1 - reach)), y1 = min(h - 1, Int(c.1 + reach))
            guard x0 <= x1, y0 <= y1 else { continue }
            for y in y0...y1 {
                for x in x0...x1 {
                    let dx = Double(x) + 0.5 - c.0, dy = Double(y) + 0.5 - c.1
                    let u = (ca * dx + sa * dy) / e.squareRoot(), v = (-sa * dx + ca * dy) * e.squareRoot()
                    let r = (u * u + v * v).squareRoot()
                    let wobble = 1 + 0.12 * sin(3 * atan2(v, u) + phase)
                    let nucleus = RxRx1Renderer.softEdge(r, rn, 0.4), body = RxRx1Renderer.softEdge(r, rc * wobble, 0.8)
                    let i = y * w + x
                    dna[i] += Float(dnaLevel * nucleus * (0.85 + 0.15 * sin(u * 1.3 + phase) * sin(v * 1.1)))
                    nfkb[i] += Float(nuclearDensity * nucleus + cytoplasmicDensity * max(0, body - nucleus))
                }
            }
        }
        return [dna, nfkb].map { signal in
            var pixels = signal
            for i in pixels.indices {
                let s = 0.06 + 0.7 * Double(pixels[i])
                let noisy = s + 0.012 * rng.normal() + (max(s, 0) * 0.004).squareRoot() * rng.normal()
                pixels[i] = Float(min(255, max(0, (noisy * 255).rounded())))
            }
            return Image(width: w, height: h, pixels: pixels, bitDepth: .uint8)
        }
    }
}

/// Writes a synthetic BBBC014-like screen: `<out>/screen.json` (config and version) and
/// `<out>/images/Channel<c>-<nn>-<row>-<cc>.BMP`, 96 wells, one field each. Images are written atomically,
/// a well's last channel last, so a rerun renders only the wells a crash left unfinished.
public struct TranslocationScreenWriter: Sendable {
    public let config: TranslocationConfig

    public init(config: TranslocationConfig) { self.config = config }

    public static func imageFolder(_ folder: URL) -> URL { folder.appendingPathComponent("images") }

    /// Returns the number of wells rendered now (0 when everything was there).
    @discardableResult
    public func write(to folder: URL, progress: Bool = true) throws -> Int {
        try config.validate()
        try claimScreenFolder(folder, config: config, kind: "a BBBC014-like")
        let images = Self.imageFolder(folder), layout = config.layout
        let url = { @Sendable (well: WellID, channel: Int) in images.appendingPathComponent(BBBC014Layout.fileName(well: well, channel: channel)) }
        let wells = (0..<layout.rows).flatMap { r in (1...layout.concentrations.count).map { WellID(row: r, column: $0) } }
        let todo = wells.filter { !FileManager.default.fileExists(atPath: url($0, layout.channels.count).path) }
        let renderer = TranslocationRenderer(config: config)
        let reporter = ProgressReporter("bbbc014 wells", total: todo.count, unit: "wells", enabled: progress)
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        _ = try concurrentMap(todo.count) { i in
            let well = todo[i]
            let line = layout.cellLines.firstIndex(of: layout.cellLine(row: well.row))!
            for (c, image) in renderer.render(well: well, line: line, concentration: config.concentrations[well.column - 1]).enumerated() {
                try AtomicFile.write(BMP.encode(width: image.width, height: image.height, pixels: image.pixels.map { UInt8($0) }), to: url(well, c + 1))
            }
            reporter.advance()
        }
        reporter.finish()
        return todo.count
    }
}
