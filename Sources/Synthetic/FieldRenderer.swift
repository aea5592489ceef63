import Foundation
import MorphoCore

/// Per-batch systematic shifts: channel gains, DNA texture offset and background scale.
public struct BatchShift: Sendable, Codable {
    public var gains: [Double]
    public var textureOffset: Double
    public var backgroundScale: Double

    /// Drawn from `seed` and the batch name, with spread `strength` (log-normal gains).
    public init(batch: String, seed: UInt64, strength: Double) {
        var rng = SeededGenerator(seed: seed, stream: "batch/\(batch)")
        gains = (0..<3).map { _ in exp(strength * rng.normal()) }
        textureOffset = 0.3 * strength * rng.normal()
        backgroundScale = exp(0.5 * strength * rng.normal())
    }
}

/// One ground-truth nucleus of a rendered field.
public struct TruthNucleus: Sendable {
    public var label: Int
    /// Centroid of the nucleus mask, pixels, 0-based, x right, y down.
    public var x: Double
    public var y: Double
    public var area: Int
    /// A rounded (mitotic-arrest) cell.
    public var rounded: Bool
}

/// A rendered field: DNA, tubulin and actin images (uint16 counts), nucleus labels (0 = background,
/// 1...n) and the nuclei.
public struct RenderedField: Sendable {
    public var channels: [Image]
    public var labels: Image
    public var nuclei: [TruthNucleus]
}

/// An ellipse with centre (cx, cy), semi-axes a >= b, rotated by angle; `rho` is the normalised
/// radius (1 on the boundary).
struct Ellipse {
    var cx: Double, cy: Double, a: Double, b: Double, cosT: Double, sinT: Double

    init(cx: Double, cy: Double, a: Double, b: Double, angle: Double) {
        self.cx = cx; self.cy = cy; self.a = a; self.b = b
        cosT = cos(angle); sinT = sin(angle)
    }

    @inline(__always) func local(_ x: Double, _ y: Double) -> (u: Double, v: Double) {
        let dx = x - cx, dy = y - cy
        return (dx * cosT + dy * sinT, -dx * sinT + dy * cosT)
    }

    @inline(__always) func rho(_ x: Double, _ y: Double) -> Double {
        let (u, v) = local(x, y)
        return ((u / a) * (u / a) + (v / b) * (v / b)).squareRoot()
    }
}

/// One cell to draw.
struct CellSpec {
    var nuclei: [Ellipse]
    var body: Ellipse
    var lobes: Int, lobeAmp: Double, lobePhase: Double
    var rounded: Bool
    var dna: Double, texture: Double
    var waves: [(kx: Double, ky: Double, phase: Double)]
    var tubulin: Double, fibres: Double, fibreCount: Double, fibrePhase: Double, perinuclear: Double
    var actin: Double, cortical: Double, stressFibres: Double, stressPhase: Double
    var puncta: [(x: Double, y: Double)]
    var punctaWeight: Double
}

/// Draws synthetic fields of view: cells placed at random (some with touching nuclei), each with a
/// nucleus (DNA), a cell body with radial microtubules and a perinuclear ring (tubulin), and cortical
/// actin, stress fibres and puncta (actin), all shaped by the well's `Phenotype`; then batch gains,
/// illumination, Poisson shot noise and read noise, quantised to 16 bits.
public struct FieldRenderer: Sendable {
    public let config: SyntheticConfig

    public init(config: SyntheticConfig) { self.config = config }

    /// The true illumination field of one plate and channel: 1 - s * (d / dmax)^2 around a centre
    /// offset by up to 15% of the size, plus a 5% linear tilt, scaled to a maximum of 1.
    public func illumination(plate: String, channel: Int) -> Image {
        let w = config.fieldWidth, h = config.fieldHeight
        var rng = SeededGenerator(seed: config.seed, stream: "illumination/\(plate)/\(channel)")
        let cx = Double(w) * (0.5 + rng.uniform(-0.15, 0.15)), cy = Double(h) * (0.5 + rng.uniform(-0.15, 0.15))
        let s = config.illuminationStrength * rng.uniform(0.85, 1.1)
        let tiltAngle = rng.uniform(0, 2 * .pi)
        let dmax2 = [(0.0, 0.0), (Double(w), 0.0), (0.0, Double(h)), (Double(w), Double(h))]
            .map { ($0.0 - cx) * ($0.0 - cx) + ($0.1 - cy) * ($0.1 - cy) }.max()!
        var px = [Float](repeating: 0, count: w * h)
        var peak: Float = 0
        for y in 0..<h {
            for x in 0..<w {
                let dx = Double(x) + 0.5 - cx, dy = Double(y) + 0.5 - cy
                let tilt = 0.05 * ((Double(x) / Double(w) - 0.5) * cos(tiltAngle) + (Double(y) / Double(h) - 0.5) * sin(tiltAngle))
                let v = Float(1 - s * (dx * dx + dy * dy) / dmax2 + tilt)
                px[y * w + x] = v
                peak = max(peak, v)
            }
        }
        for i in px.indices { px[i] /= peak }
        return Image(width: w, height: h, pixels: px, bitDepth: .float32)
    }

    /// Renders one field. `illumination` holds the plate's three channel fields.
    public func render(phenotype: Phenotype, batch: BatchShift, illumination: [Image],
                       rng: inout SeededGenerator) -> RenderedField {
        let w = config.fieldWidth, h = config.fieldHeight
        let cells = placeCells(phenotype: phenotype, batch: batch, rng: &rng)
        var dna = [Float](repeating: 0, count: w * h)
        var tub = [Float](repeating: 0, count: w * h)
        var act = [Float](repeating: 0, count: w * h)
        var labels = [Int32](repeating: 0, count: w * h)
        var bestRho = [Float](repeating: 1, count: w * h)
        var rounded = [Bool]()
        var nextLabel: Int32 = 1
        for cell in cells {
            let labelBase = nextLabel
            nextLabel += Int32(cell.nuclei.count)
            for _ in cell.nuclei { rounded.append(cell.rounded) }
            draw(cell, labelBase: labelBase, w: w, h: h, dna: &dna, tub: &tub, act: &act, labels: &labels, bestRho: &bestRho)
        }

        // Camera: counts = illumination * (background + signal * gain), shot + read noise, 16-bit.
        let bg = config.backgroundCounts * batch.backgroundScale
        var images = [Image]()
        for (c, signal) in [dna, tub, act].enumerated() {
            let gain = config.signalCounts * batch.gains[c] * (c == 0 ? 1.0 : 0.8)
            var out = [Float](repeating: 0, count: w * h)
            illumination[c].pixels.withUnsafeBufferPointer { illum in
                signal.withUnsafeBufferPointer { sig in
                    out.withUnsafeMutableBufferPointer { o in
                        for i in 0..<(w * h) {
                            let lambda = Double(illum[i]) * (bg + gain * Double(sig[i]))
                            let sd = (0.5 * lambda + config.readNoise * config.readNoise).squareRoot()
                            o[i] = Float(min(max((lambda + sd * rng.normal()).rounded(), 0), 65535))
                        }
                    }
                }
            }
            images.append(Image(width: w, height: h, pixels: out, bitDepth: .uint16))
        }

        // Ground truth from the label image itself (so centroids and areas match the mask exactly).
        let n = Int(nextLabel) - 1
        var sx = [Double](repeating: 0, count: n + 1), sy = sx, area = [Int](repeating: 0, count: n + 1)
        for y in 0..<h {
            for x in 0..<w {
                let l = Int(labels[y * w + x])
                if l > 0 { sx[l] += Double(x); sy[l] += Double(y); area[l] += 1 }
            }
        }
        // Relabel 1...k over nuclei that kept pixels (a nucleus can be covered by its neighbours or lie off the field).
        var remap = [Int32](repeating: 0, count: n + 1)
        var nuclei = [TruthNucleus]()
        for l in 1..<(n + 1) where area[l] > 0 {
            remap[l] = Int32(nuclei.count + 1)
            nuclei.append(TruthNucleus(label: nuclei.count + 1, x: sx[l] / Double(area[l]), y: sy[l] / Double(area[l]),
                                       area: area[l], rounded: rounded[l - 1]))
        }
        let labelImage = Image(width: w, height: h, pixels: labels.map { Float(remap[Int($0)]) }, bitDepth: .uint16)
        return RenderedField(channels: images, labels: labelImage, nuclei: nuclei)
    }

    /// Draws cell positions and per-cell morphology from the phenotype.
    func placeCells(phenotype p: Phenotype, batch: BatchShift, rng: inout SeededGenerator) -> [CellSpec] {
        let w = Double(config.fieldWidth), h = Double(config.fieldHeight)
        let count = Int(rng.poisson(Double(config.cellsPerField) * max(p.density, 0)))
        var cells = [CellSpec]()
        var centres = [(x: Double, y: Double, r: Double)]()
        for _ in 0..<count {
            let isRound = rng.uniform() < p.roundFraction
            let multi = !isRound && rng.uniform() < p.multinucleateFraction
            let rn = config.nucleusRadius * p.nucleusSize * exp(0.12 * rng.normal()) * (isRound ? 0.72 : 1)
            let elong = isRound ? 1.0 : max(1, p.nucleusElongation * exp(0.1 * rng.normal()))
            // Position: touching a previous nucleus, or free with a minimum gap.
            var placed: (Double, Double)?
            for _ in 0..<40 {
                var x: Double, y: Double
                var partner = -1
                if !centres.isEmpty && rng.uniform() < config.touchingFraction {
                    partner = Int(rng.uniform() * Double(centres.count))
                    let a = rng.uniform(0, 2 * .pi)
                    let d = (centres[partner].r + rn) * rng.uniform(0.82, 0.95)
                    x = centres[partner].x + d * cos(a); y = centres[partner].y + d * sin(a)
                } else {
                    x = rng.uniform(0, w); y = rng.uniform(0, h)
                }
                let free = centres.enumerated().allSatisfy { k, c in
                    k == partner || (c.x - x) * (c.x - x) + (c.y - y) * (c.y - y) > pow((c.r + rn) * 1.15, 2)
                }
                if free && x >= 0 && x < w && y >= 0 && y < h { placed = (x, y); break }
            }
            guard let (x, y) = placed else { continue }
            let angle = rng.uniform(0, .pi)
            let a = rn * elong.squareRoot(), b = rn / elong.squareRoot()
            var nuclei = [Ellipse(cx: x, cy: y, a: a, b: b, angle: angle)]
            let rc = config.cellRadius * p.cellSize * exp(0.1 * rng.normal()) * (isRound ? 0.6 : 1)
            let ce = isRound ? 1.0 : max(1, p.cellElongation * exp(0.12 * rng.normal()))
            let bodyAngle = angle + 0.3 * rng.normal()
            var bx = x + 0.15 * rc * rng.normal(), by = y + 0.15 * rc * rng.normal()
            if multi {
                // A second nucleus along the long axis, the cell body centred between the two.
                let d = 2.05 * a
                let x2 = x + d * cos(angle), y2 = y + d * sin(angle)
                nuclei.append(Ellipse(cx: x2, cy: y2, a: a, b: b, angle: angle + 0.2 * rng.normal()))
                bx = (x + x2) / 2; by = (y + y2) / 2
            }
            let maxR = nuclei.map { max($0.a, $0.b) }.max()! * (multi ? 2.2 : 1)
            centres.append((x, y, maxR))
            let body = Ellipse(cx: bx, cy: by, a: rc * ce.squareRoot() * (multi ? 1.3 : 1), b: rc / ce.squareRoot(), angle: bodyAngle)
            let punctaCount = Int(rng.poisson(10 * p.actinPuncta))
            let puncta = (0..<punctaCount).map { _ -> (x: Double, y: Double) in
                let r = 0.85 * rng.uniform().squareRoot(), t = rng.uniform(0, 2 * .pi)
                let u = r * body.a * cos(t), v = r * body.b * sin(t)
                return (body.cx + u * body.cosT - v * body.sinT, body.cy + u * body.sinT + v * body.cosT)
            }
            let waves = (0..<2).map { _ -> (kx: Double, ky: Double, phase: Double) in
                let wl = rng.uniform(2.5, 5.5), t = rng.uniform(0, 2 * .pi)
                return (2 * .pi / wl * cos(t), 2 * .pi / wl * sin(t), rng.uniform(0, 2 * .pi))
            }
            cells.append(CellSpec(
                nuclei: nuclei, body: body,
                lobes: 2 + Int(rng.uniform() * 3), lobeAmp: isRound ? 0.02 : rng.uniform(0.05, 0.18), lobePhase: rng.uniform(0, 2 * .pi),
                rounded: isRound,
                dna: p.nucleusIntensity * exp(0.15 * rng.normal()) * (isRound ? 1.9 : 1),
                texture: max(0, p.nucleusTexture + batch.textureOffset) * (isRound ? 2 : 1),
                waves: waves,
                tubulin: 0.55 * p.tubulinIntensity * exp(0.15 * rng.normal()) * (isRound ? 1.5 : 1),
                fibres: min(max(p.tubulinFibres, 0), 1), fibreCount: Double(14 + Int(rng.uniform() * 14)), fibrePhase: rng.uniform(0, 2 * .pi),
                perinuclear: max(p.tubulinPerinuclear, 0) * (isRound ? 1.5 : 1),
                actin: 0.5 * p.actinIntensity * exp(0.15 * rng.normal()),
                cortical: max(p.actinCortical, 0) * (isRound ? 2 : 1), stressFibres: isRound ? 0 : min(max(p.actinFibres, 0), 1),
                stressPhase: rng.uniform(0, 2 * .pi),
                puncta: puncta, punctaWeight: max(p.actinPuncta, 0)))
        }
        return cells
    }

    /// Adds one cell to the signal buffers (DNA by maximum, cytoplasm channels by sum) and to the labels.
    private func draw(_ cell: CellSpec, labelBase: Int32, w: Int, h: Int, dna: inout [Float], tub: inout [Float],
                      act: inout [Float], labels: inout [Int32], bestRho: inout [Float]) {
        let body = cell.body
        let reach = body.a * (1 + cell.lobeAmp) + 2
        let x0 = max(0, Int(body.cx - reach)), x1 = min(w - 1, Int(body.cx + reach))
        let y0 = max(0, Int(body.cy - reach)), y1 = min(h - 1, Int(body.cy + reach))
        guard x0 <= x1, y0 <= y1 else { return }
        let nucleusEdge = cell.nuclei.map { $0.b }  // transition ~1 px wide
        let bodyEdge = body.b
        dna.withUnsafeMutableBufferPointer { dnaP in
        tub.withUnsafeMutableBufferPointer { tubP in
        act.withUnsafeMutableBufferPointer { actP in
        labels.withUnsafeMutableBufferPointer { labP in
        bestRho.withUnsafeMutableBufferPointer { rhoP in
            for y in y0...y1 {
                for x in x0...x1 {
                    let px = Double(x) + 0.5, py = Double(y) + 0.5, i = y * w + x
                    // Cell body: ellipse with a few lobes.
                    let (u, v) = body.local(px, py)
                    let phi = atan2(v / body.b, u / body.a)
                    let rhoBody = ((u / body.a) * (u / body.a) + (v / body.b) * (v / body.b)).squareRoot()
                        / (1 + cell.lobeAmp * sin(Double(cell.lobes) * phi + cell.lobePhase))
                    let inBody = min(max(0.5 + (1 - rhoBody) * bodyEdge, 0), 1)
                    // Nuclei.
                    var rhoN = 10.0
                    var nucleusValue = 0.0
                    for (k, n) in cell.nuclei.enumerated() {
                        let r = n.rho(px, py)
                        rhoN = min(rhoN, r)
                        let inside = min(max(0.5 + (1 - r) * nucleusEdge[k], 0), 1)
                        if inside > 0 {
                            var t = 0.0
                            for wv in cell.waves { t += sin(wv.kx * px + wv.ky * py + wv.phase) }
                            let value = cell.dna * (1 - 0.3 * r * r) * (1 + cell.texture * 0.5 * t) * inside
                            nucleusValue = max(nucleusValue, value)
                        }
                        if r < 1, Float(r) < rhoP[i] {
                            rhoP[i] = Float(r)
                            labP[i] = labelBase + Int32(k)
                        }
                    }
                    if nucleusValue > Double(dnaP[i]) { dnaP[i] = Float(nucleusValue) }
                    guard inBody > 0 || rhoN < 1.6 else { continue }
                    let nucleusShadow = rhoN < 1 ? 0.6 : 1.0
                    // Tubulin: radial filaments from the centre, brighter towards it, perinuclear ring.
                    let filament = 0.5 * (1 + cos(cell.fibreCount * phi + cell.fibrePhase))
                    let tubBody = cell.tubulin * inBody * (0.55 + 0.45 * (1 - min(rhoBody * rhoBody, 1)))
                        * (1 - cell.fibres + cell.fibres * 2 * filament * filament)
                    let ring = cell.perinuclear * cell.tubulin * exp(-((rhoN - 1.3) / 0.25) * ((rhoN - 1.3) / 0.25))
                    tubP[i] += Float((tubBody + ring) * nucleusShadow)
                    // Actin: diffuse, cortical ring, stress fibres across the short axis, puncta.
                    let cortex = cell.cortical * exp(-((rhoBody - 0.92) / 0.08) * ((rhoBody - 0.92) / 0.08))
                    let stripe = max(0, cos(2 * .pi * v / 4.5 + cell.stressPhase))
                    let fibre = cell.stressFibres * 1.2 * stripe * stripe * stripe * stripe
                    var actin = cell.actin * (inBody * (0.3 + fibre) + cortex)
                    for q in cell.puncta {
                        let d2 = (px - q.x) * (px - q.x) + (py - q.y) * (py - q.y)
                        if d2 < 16 { actin += cell.actin * cell.punctaWeight * 2.5 * exp(-d2 / 2.9) }
                    }
                    actP[i] += Float(actin * nucleusShadow)
                }
            }
        }}}}}
    }
}

extension FieldRenderer {
    /// One DMSO-like DNA field whose nuclei are about `diameter` pixels across (12% size spread, a
    /// quarter touching a neighbour, Poisson noise), on a square field of max(256, 14 x diameter)
    /// pixels holding as many nuclei as the 256 px default field at 16 px (24): for segmentation at
    /// any magnification. Returns the DNA image and its ground-truth labels.
    public static func nucleusField(diameter: Double, seed: UInt64 = 1) -> (dna: Image, labels: Image) {
        var config = SyntheticConfig()
        let side = max(256, Int((14 * diameter).rounded()))
        config.seed = seed
        config.fieldWidth = side; config.fieldHeight = side
        config.nucleusRadius = diameter / 2
        config.cellRadius = 1.25 * diameter
        config.cellsPerField = max(8, Int((24 * pow(Double(side) / 256, 2) * pow(16 / diameter, 2)).rounded()))
        let renderer = FieldRenderer(config: config)
        let illumination = (0..<3).map { renderer.illumination(plate: "scale", channel: $0) }
        var rng = SeededGenerator(seed: seed, stream: "nucleus-field/\(diameter)")
        let field = renderer.render(phenotype: .control, batch: BatchShift(batch: "B", seed: seed, strength: 0),
                                    illumination: illumination, rng: &rng)
        return (field.channels[0], field.labels)
    }
}
