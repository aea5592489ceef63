import Foundation
import ImageProcessing
import MorphoCore

/// One segmented nucleus. Coordinates are pixels, 0-based, x to the right, y down (DeepProfiler's
/// `Nuclei_Location_Center_X/Y`); the box is [minX, maxX) x [minY, maxY) as CellProfiler reports it.
public struct Nucleus: Sendable, Equatable {
    public var label: Int32
    public var centerX: Double
    public var centerY: Double
    public var area: Int
    public var minX: Int, minY: Int, maxX: Int, maxY: Int
    /// Mean DNA intensity over the object, in the (illumination-corrected) image's units.
    public var meanIntensity: Double

    public init(label: Int32, centerX: Double, centerY: Double, area: Int, minX: Int, minY: Int, maxX: Int, maxY: Int,
                meanIntensity: Double) {
        self.label = label
        self.centerX = centerX; self.centerY = centerY
        self.area = area
        self.minX = minX; self.minY = minY; self.maxX = maxX; self.maxY = maxY
        self.meanIntensity = meanIntensity
    }

    /// Equivalent diameter 2 sqrt(area / pi).
    public var diameter: Double { 2 * (Double(area) / Double.pi).squareRoot() }
}

/// The result for one field: the label image, its nuclei (label i is `nuclei[i - 1]`) and QC values.
public struct NucleusSegmentation: Sendable {
    public var labels: LabelImage
    public var nuclei: [Nucleus]
    /// The threshold applied (image units; the global one when adaptive); nil when the image was constant.
    public var threshold: Float?
    /// Why a field gave no nuclei ("constant image", "no separable foreground", "no nuclei"); nil when fine.
    public var flag: String?
    public var qc: FieldQC
    /// The settings used, with the diameter estimated or configured.
    public var settings: ResolvedSegmentation?
}

/// Nucleus segmentation as in CellProfiler's IdentifyPrimaryObjects, at the field's own scale: the
/// nucleus diameter is estimated (`NucleusScale`) unless configured, and sets the smoothing, the
/// adaptive threshold's block size, the seed smoothing and dynamic and the size limits. Then Gaussian
/// smoothing, Otsu threshold (adaptive by default), hole filling, declumping by seeded watershed from
/// h-maxima, and removal of objects outside the size range or touching the border. A field with no
/// foreground separable from the background (`FieldQC.separable`) gives no nuclei.
public struct NucleusSegmenter: Sendable {
    public let config: SegmentationConfig

    public init(_ config: SegmentationConfig = .init()) throws {
        try config.validate()
        self.config = config
    }

    /// Segments one DNA image (native units, after illumination correction). Non-finite pixels are an
    /// error naming `context`. `raw`, when given, is the image before illumination correction, on
    /// which saturation is measured.
    public func segment(_ dna: Image, raw: Image? = nil, context: String = "image") throws -> NucleusSegmentation {
        let w = dna.width, h = dna.height
        guard w > 2, h > 2 else { throw MorphoError.data(context: context, problem: "image of \(w)x\(h) is too small to segment") }
        if let bad = dna.pixels.withUnsafeBufferPointer(firstNonFinite) {
            throw MorphoError.data(context: context, problem: "non-finite pixel at x=\(bad % w), y=\(bad / w)")
        }
        let saturated = FieldQC.saturatedFraction(raw ?? dna)
        var empty = NucleusSegmentation(labels: LabelImage(width: w, height: h, labels: [Int32](repeating: 0, count: w * h), count: 0),
                                        nuclei: [], threshold: nil, flag: nil, qc: FieldQC(saturatedFraction: saturated), settings: nil)
        let scale = try NucleusScale.find(dna, configured: config.configuredDiameter,
                                          sigma: { config.resolved(diameter: $0).smoothingSigma }, threshold: automaticThreshold)
        guard let scale else {
            // Constant: saturated only when the value is the top of an integer type (all clipped).
            let source = raw ?? dna
            let clipped = source.bitDepth != .float32 && source.pixels.first == source.bitDepth.maxValue
            empty.flag = "constant image"
            empty.qc.flags = clipped ? [.empty, .saturated] : [.empty]
            empty.qc.saturatedFraction = clipped ? 1 : 0
            return empty
        }
        let settings = config.resolved(diameter: scale.diameter)
        // The estimate's last smoothing is reused when it is the one the settings ask for.
        var smoothed = scale.smoothed, automatic: Float? = scale.threshold
        if scale.smoothingSigma != settings.smoothingSigma {
            smoothed = try OpenCV.gaussianBlur(dna, sigma: settings.smoothingSigma)
            automatic = automaticThreshold(smoothed.pixels)
        }
        guard let automatic else {
            empty.flag = "constant image"
            empty.qc.flags = [.empty]
            return empty
        }
        let t = max(Float(config.minimumThreshold), automatic * Float(config.thresholdScale))
        var mask: [UInt8]
        if let window = settings.adaptiveWindow, let local = adaptiveThreshold(smoothed, window: window, global: t) {
            mask = zip(smoothed.pixels, local).map { $0 > $1 ? UInt8(1) : 0 }
        } else {
            mask = smoothed.pixels.map { $0 > t ? UInt8(1) : 0 }
        }
        if config.fillHoles { mask = ImageProcessing.fillHoles(mask, width: w, height: h) }
        var qc = FieldQC.measure(dna, smoothed: smoothed, mask: mask, saturatedFraction: saturated)
        qc.diameter = config.configuredDiameter == nil ? scale.diameter : nil
        guard qc.separable else {
            empty.flag = "no separable foreground"
            empty.threshold = t
            empty.qc = qc
            empty.qc.flags = [.empty]
            empty.settings = settings
            return empty
        }

        // Declumping labels every mask pixel, so the filled mask leaves no hole inside an object.
        var labels = try declump(dna, mask: mask, settings: settings)
        if let f = config.refineFraction { labels = refine(labels, smoothed: smoothed, mask: mask, fraction: Float(f)) }

        var nuclei = measure(labels, dna)
        let keep = nuclei.map { n in
            let d = n.diameter
            let border = n.minX == 0 || n.minY == 0 || n.maxX == w || n.maxY == h
            return d >= settings.minDiameter && d <= settings.maxDiameter && !(config.removeBorderObjects && border)
        }
        if keep.contains(false) {
            // Labels are numbered in raster order of first appearance, and so stay after relabelling:
            // the kept nuclei keep their order and measurements and take the labels 1, 2, ...
            labels.relabel { keep[Int($0) - 1] }
            nuclei = zip(nuclei, keep).filter { $0.1 }.enumerated().map { k, kept in
                var n = kept.0
                n.label = Int32(k + 1)
                return n
            }
        }
        qc.count = nuclei.count
        if qc.saturatedFraction > 0.2 * max(qc.foregroundFraction, 0.05) { qc.flags.append(.saturated) }
        return NucleusSegmentation(labels: labels, nuclei: nuclei, threshold: t,
                                   flag: nuclei.isEmpty ? "no nuclei" : nil, qc: qc, settings: settings)
    }

    /// The configured Otsu variant, on log(1 + max(0, v)) when `logTransform` is set (mapped back).
    func automaticThreshold(_ values: [Float]) -> Float? {
        let input = config.logTransform ? values.map { log1p(max(0, $0)) } : values
        let t: Float?
        switch config.threshold {
        case .otsu: t = Otsu.threshold(input)
        case .otsu3Foreground: t = Otsu.thresholds3(input)?.low
        case .otsu3Background: t = Otsu.thresholds3(input)?.high
        }
        return config.logTransform ? t.map { expm1($0) } : t
    }

    /// CellProfiler's adaptive threshold: the configured method in each of (w / window) x (h / window)
    /// blocks (a constant block keeps its value), interpolated bilinearly between block centres
    /// (constant beyond the outer centres; CellProfiler fits a spline), times `thresholdScale`,
    /// clamped to [max(minimumThreshold, 0.7 g), 1.5 g] around the global threshold g. nil when the
    /// image holds fewer than 2 windows along a side (the global threshold is used).
    func adaptiveThreshold(_ image: Image, window: Int, global g: Float) -> [Float]? {
        let w = image.width, h = image.height
        let nx = w / window, ny = h / window
        guard nx >= 2, ny >= 2 else { return nil }
        var blocks = [Float](repeating: 0, count: nx * ny)
        var values = [Float]()
        for by in 0..<ny {
            for bx in 0..<nx {
                let x0 = bx * w / nx, x1 = (bx + 1) * w / nx, y0 = by * h / ny, y1 = (by + 1) * h / ny
                values.removeAll(keepingCapacity: true)
                for y in y0..<y1 { values.append(contentsOf: image.pixels[(y * w + x0)..<(y * w + x1)]) }
                blocks[by * nx + bx] = automaticThreshold(values) ?? values[0]
            }
        }
        let scale = Float(config.thresholdScale)
        let lo = max(Float(config.minimumThreshold), 0.7 * g), hi = max(lo, 1.5 * g)
        // Block centre k along an axis of n blocks over `size` pixels lies at (k + 0.5) * size / n.
        func axis(_ p: Int, _ size: Int, _ n: Int) -> (Int, Int, Float) {
            let u = min(max((Float(p) + 0.5) * Float(n) / Float(size) - 0.5, 0), Float(n - 1))
            let k = min(Int(u), n - 2)
            return (k, k + 1, u - Float(k))
        }
        let columns = (0..<w).map { axis($0, w, nx) }
        var out = [Float](repeating: 0, count: w * h)
        for y in 0..<h {
            let (y0, y1, fy) = axis(y, h, ny)
            for x in 0..<w {
                let (x0, x1, fx) = columns[x]
                let top = blocks[y0 * nx + x0] * (1 - fx) + blocks[y0 * nx + x1] * fx
                let bottom = blocks[y1 * nx + x0] * (1 - fx) + blocks[y1 * nx + x1] * fx
                out[y * w + x] = min(max((top * (1 - fy) + bottom * fy) * scale, lo), hi)
            }
        }
        return out
    }

    /// Splits touching nuclei: seeds at the significant maxima (dynamic >= `seedDynamic`) of the
    /// smoothed seed surface inside the mask, or at local maxima `maximaSuppressionDistance` apart when
    /// that is set, then a watershed from the seeds on the dividing-line surface. Mask components
    /// without a seed stay whole objects.
    func declump(_ dna: Image, mask: [UInt8], settings: ResolvedSegmentation) throws -> LabelImage {
        let w = dna.width, h = dna.height
        if config.declump == .none { return try OpenCV.connectedComponents(mask, width: w, height: h, connectivity: 8) }
        // Each surface is computed at most once, whether it serves the seeds, the lines or both.
        var smoothedIntensity: [Float]?, distanceMap: [Float]?
        func intensity() throws -> [Float] {
            if smoothedIntensity == nil {
                // In pixels of distance: a fraction of the mask's 99th percentile, times the radius.
                var s = try OpenCV.gaussianBlur(dna, sigma: settings.seedSigma).pixels
                let inside = zip(s, mask).compactMap { $1 != 0 ? $0 : nil }
                let top = inside.isEmpty ? 1 : max(percentile(inside, 99), .leastNormalMagnitude)
                let scale = Float(settings.diameter / 2) / top
                for i in s.indices { s[i] = max(0, s[i]) * scale }
                smoothedIntensity = s
            }
            return smoothedIntensity!
        }
        func distance() throws -> [Float] {
            if distanceMap == nil {
                let d = Image(width: w, height: h, pixels: try OpenCV.distanceTransform(mask, width: w, height: h), bitDepth: .float32)
                distanceMap = try OpenCV.gaussianBlur(d, sigma: settings.seedSigma).pixels
            }
            return distanceMap!
        }
        let seedSurface: [Float]
        switch config.declump {
        case .none, .intensity: seedSurface = try intensity()
        case .shape: seedSurface = try distance()
        case .hybrid:
            // Geometric mean: still in pixels of distance.
            seedSurface = zip(try distance(), try intensity()).map { ($0 * $1).squareRoot() }
        }
        let floodSurface: [Float]
        switch config.dividingLines {
        case .intensity: floodSurface = try intensity()
        case .shape: floodSurface = try distance()
        case .propagate: floodSurface = [Float](repeating: 0, count: w * h)
        }

        let seeds: LabelImage
        if let separation = config.maximaSuppressionDistance {
            let radius = max(1, Int((separation - 0.5).rounded()))
            seeds = labelSparse(try localMaxima(seedSurface, mask: mask, width: w, height: h, radius: radius), width: w, height: h)
        } else {
            let peaks = significantMaxima(seedSurface, mask: mask, width: w, height: h, dynamic: Float(settings.seedDynamic))
            var markers = [Int32](repeating: 0, count: w * h)
            for (k, p) in peaks.enumerated() { markers[p] = Int32(k + 1) }
            seeds = LabelImage(width: w, height: h, labels: markers, count: peaks.count)
        }
        var labels = watershed(surface: floodSurface, markers: seeds, mask: mask, descending: true)
        // Mask pixels no seed reached: their components become objects of their own.
        var unreached = [UInt8](repeating: 0, count: w * h), any = false
        for i in 0..<(w * h) where mask[i] != 0 && labels.labels[i] == 0 { unreached[i] = 1; any = true }
        if any {
            let extra = try OpenCV.connectedComponents(unreached, width: w, height: h, connectivity: 8)
            let offset = Int32(labels.count)
            for i in 0..<(w * h) where extra.labels[i] != 0 { labels.labels[i] = extra.labels[i] + offset }
            labels.count += extra.count
        }
        labels.relabel()
        return labels
    }

    /// Per-object threshold (see `SegmentationConfig.refineFraction`).
    func refine(_ labels: LabelImage, smoothed: Image, mask: [UInt8], fraction: Float) -> LabelImage {
        let outside = zip(smoothed.pixels, mask).compactMap { $1 == 0 ? $0 : nil }
        guard !outside.isEmpty, labels.count > 0 else { return labels }
        let background = percentile(outside, 50)
        var members = [[Float]](repeating: [], count: labels.count + 1)
        for (i, l) in labels.labels.enumerated() where l != 0 { members[Int(l)].append(smoothed.pixels[i]) }
        let cut = members.map { $0.isEmpty ? Float.infinity : background + fraction * (percentile($0, 95) - background) }
        var out = labels
        for i in out.labels.indices where out.labels[i] != 0 && smoothed.pixels[i] < cut[Int(out.labels[i])] {
            out.labels[i] = 0
        }
        out.relabel()
        return out
    }

    /// Area, centroid, box and mean intensity of every label, in one pass.
    func measure(_ labels: LabelImage, _ image: Image) -> [Nucleus] {
        struct Sums { var area = 0, sx = 0, sy = 0, si = 0.0, minX = Int.max, minY = Int.max, maxX = -1, maxY = -1 }
        let n = labels.count, w = labels.width
        var sums = [Sums](repeating: Sums(), count: n + 1)
        sums.withUnsafeMutableBufferPointer { sums in
            labels.labels.withUnsafeBufferPointer { l in
                image.pixels.withUnsafeBufferPointer { p in
                    for y in 0..<labels.height {
                        for x in 0..<w {
                            let k = Int(l[y * w + x])
                            if k == 0 { continue }
                            sums[k].area += 1
                            sums[k].sx += x; sums[k].sy += y; sums[k].si += Double(p[y * w + x])
                            sums[k].minX = min(sums[k].minX, x); sums[k].maxX = max(sums[k].maxX, x + 1)
                            sums[k].minY = min(sums[k].minY, y); sums[k].maxY = max(sums[k].maxY, y + 1)
                        }
                    }
                }
            }
        }
        return (1...max(n, 1)).compactMap { k in
            guard k <= n, sums[k].area > 0 else { return nil }
            let m = sums[k], a = Double(m.area)
            return Nucleus(label: Int32(k), centerX: Double(m.sx) / a, centerY: Double(m.sy) / a, area: m.area,
                           minX: m.minX, minY: m.minY, maxX: m.maxX, maxY: m.maxY, meanIntensity: m.si / a)
        }
    }
}
