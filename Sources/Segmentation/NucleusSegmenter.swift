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

    /// The nucleus diameter of a plate (`DiameterScope.plate`) from a sample of its fields (after
    /// illumination correction): the median of the fields' estimates, leaving out fields with no
    /// foreground separable from the background; nil when no field counts. The configured diameter
    /// when there is one. `threads`: how many fields at once (default `Parallelism.maxThreads`).
    public func plateDiameter(_ sample: [Image], threads: Int? = nil) throws -> Double? {
        if let d = config.configuredDiameter { return d }
        let estimates = try concurrentMap(sample.count, threads: threads) { k -> Double? in
            let dna = sample[k]
            guard dna.width > 2, dna.height > 2, dna.pixels.withUnsafeBufferPointer(firstNonFinite) == nil,
                  let scale = try NucleusScale.find(dna, configured: nil, sigma: { config.resolved(diameter: $0).smoothingSigma },
                                                    threshold: automaticThreshold) else { return nil }
            let t = max(Float(config.minimumThreshold), scale.threshold * Float(config.thresholdScale))
            let mask = ImageProcessing.fillHoles(scale.smoothed.pixels.map { $0 > t ? 1 : 0 }, width: dna.width, height: dna.height)
            return FieldQC.measure(dna, smoothed: scale.smoothed, mask: mask, saturatedFraction: 0).separable ? scale.diameter : nil
        }.compactMap { $0 }
        return estimates.isEmpty ? nil : Double(percentile(estimates.map(Float.init), 50))
    }

    /// The fields of a plate of `count` fields whose estimates make its diameter: up to 8, evenly spread.
    public static func plateSample(count: Int) -> [Int] {
        let n = min(8, count)
        return (0..<n).map { $0 * count / n }
    }

    /// Segments one DNA image (native units, after illumination correction). Non-finite pixels are an
    /// error naming `context`. `raw`, when given, is the image before illumination correction, on
    /// which saturation is measured. `plateDiameter` (from `plateDiameter(_:)`) replaces the field's own
    /// estimate when no diameter is configured.
    public func segment(_ dna: Image, raw: Image? = nil, context: String = "image", plateDiameter: Double? = nil) throws -> NucleusSegmentation {
        let w = dna.width, h = dna.height
        guard w > 2, h > 2 else { throw MorphoError.data(context: context, problem: "image of \(w)x\(h) is too small to segment") }
        if let bad = dna.pixels.withUnsafeBufferPointer(firstNonFinite) {
            throw MorphoError.data(context: context, problem: "non-finite pixel at x=\(bad % w), y=\(bad / w)")
        }
        let saturated = FieldQC.saturatedFraction(raw ?? dna)
        var empty = NucleusSegmentation(labels: LabelImage(width: w, height: h, labels: [Int32](repeating: 0, count: w * h), count: 0),
                                        nuclei: [], threshold: nil, flag: nil, qc: FieldQC(saturatedFraction: saturated), settings: nil)
        let scale = try NucleusScale.find(dna, configured: config.configuredDiameter ?? plateDiameter,
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
        // The estimate's last smoothing is reused when it is the one the settings ask for (reusing
        // one 25% off cost one of DSB2018's 125 nuclei).
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
        if let window = settings.adaptiveWindow, let local = localThresholds(smoothed, window: window, global: t) {
            mask = adaptiveMask(smoothed, local)
        } else {
            mask = smoothed.pixels.map { $0 > t ? UInt8(1) : 0 }
        }
        if config.fillHoles { mask = ImageProcessing.fillHoles(mask, width: w, height: h) }
        var qc = FieldQC.measure(dna, smoothed: smoothed, mask: mask, saturatedFraction: saturated)
        qc.diameter = config.configuredDiameter == nil ? scale.diameter : nil  // estimated here or for the plate
        guard qc.separable else {
            empty.flag = "no separable foreground"
            empty.threshold = t
            empty.qc = qc
            // A field clipped at the top of its range is also flagged saturated (the why of "empty").
            empty.qc.flags = qc.saturatedFraction > 0.2 ? [.empty, .saturated] : [.empty]
            empty.settings = settings
            return empty
        }

        // Declumping labels every mask pixel, so the filled mask leaves no hole inside an object.
        var labels = try declump(dna, mask: mask, settings: settings)
        if let f = config.refineFraction { refine(&labels, smoothed: smoothed, mask: mask, fraction: Float(f)) }

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
        return Otsu.histogram(input, bins: histogramBins).map(threshold)
    }

    /// Otsu's bins: 256 for two classes, 128 for three (scikit-image's defaults).
    var histogramBins: Int { config.threshold == .otsu ? 256 : 128 }

    /// The configured Otsu variant on a histogram (of log-transformed values when `logTransform` is set).
    func threshold(_ histogram: Otsu.Histogram) -> Float {
        let t: Float
        switch config.threshold {
        case .otsu: t = Otsu.threshold(histogram)
        case .otsu3Foreground: t = Otsu.thresholds3(histogram).low
        case .otsu3Background: t = Otsu.thresholds3(histogram).high
        }
        return config.logTransform ? expm1(t) : t
    }

    /// CellProfiler's adaptive threshold: the configured method in each of (w / window) x (h / window)
    /// blocks (a constant block keeps its value), interpolated bilinearly between block centres
    /// (constant beyond the outer centres; CellProfiler fits a spline), times `thresholdScale`,
    /// clamped to [max(minimumThreshold, 0.7 g), 1.5 g] around the global threshold g. nil when the
    /// image holds fewer than 2 windows along a side (the global threshold is used).
    func localThresholds(_ image: Image, window: Int, global g: Float) -> LocalThresholds? {
        let w = image.width, h = image.height
        let nx = w / window, ny = h / window
        guard nx >= 2, ny >= 2 else { return nil }
        let input = config.logTransform ? image.pixels.map { log1p(max(0, $0)) } : image.pixels
        let histograms = Otsu.blockHistograms(input, width: w, height: h, nx: nx, ny: ny, bins: histogramBins)
        let blocks = (0..<(nx * ny)).map { b in
            histograms[b].map(threshold) ?? image.pixels[(b / nx) * h / ny * w + (b % nx) * w / nx]
        }
        let lo = max(Float(config.minimumThreshold), 0.7 * g)
        return LocalThresholds(blocks: blocks, nx: nx, ny: ny, width: w, height: h, scale: Float(config.thresholdScale), lo: lo, hi: max(lo, 1.5 * g))
    }

    /// The whole map of `localThresholds` (w x h values).
    func adaptiveThreshold(_ image: Image, window: Int, global g: Float) -> [Float]? {
        guard let local = localThresholds(image, window: window, global: g) else { return nil }
        var out = [Float](repeating: 0, count: image.width * image.height)
        out.withUnsafeMutableBufferPointer { o in
            for y in 0..<image.height { local.row(y, into: UnsafeMutableBufferPointer(rebasing: o[(y * image.width)..<((y + 1) * image.width)])) }
        }
        return out
    }

    /// Pixels above their local threshold.
    func adaptiveMask(_ image: Image, _ local: LocalThresholds) -> [UInt8] {
        let w = image.width
        var mask = [UInt8](repeating: 0, count: w * image.height), row = [Float](repeating: 0, count: w)
        image.pixels.withUnsafeBufferPointer { p in
            mask.withUnsafeMutableBufferPointer { m in
                row.withUnsafeMutableBufferPointer { t in
                    for y in 0..<image.height {
                        local.row(y, into: t)
                        let pr = p.baseAddress! + y * w, mr = m.baseAddress! + y * w
                        for x in 0..<w { mr[x] = pr[x] > t[x] ? 1 : 0 }
                    }
                }
            }
        }
        return mask
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
                let d = Image(width: w, height: h, pixels: try OpenCV.distanceTransform(mask, width: w, height: h, precise: false), bitDepth: .float32)
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
    func refine(_ labels: inout LabelImage, smoothed: Image, mask: [UInt8], fraction: Float) {
        let n = labels.labels.count, objects = labels.count
        let (lo, hi) = smoothed.pixels.withUnsafeBufferPointer(extremes)
        guard objects > 0, lo.isFinite, hi.isFinite else { return }
        // Each object's values side by side (counting sort by label), and the background's histogram.
        var start = [Int](repeating: 0, count: objects + 2)
        for l in labels.labels where l != 0 { start[Int(l) + 1] += 1 }
        for l in 1...(objects + 1) { start[l] += start[l - 1] }
        var values = [Float](repeating: 0, count: start[objects + 1])
        var outside = BinnedValues(lo: lo, hi: hi)
        let binning = outside.binning
        var next = start
        labels.labels.withUnsafeBufferPointer { l in
            smoothed.pixels.withUnsafeBufferPointer { s in
                mask.withUnsafeBufferPointer { m in
                    values.withUnsafeMutableBufferPointer { v in
                        next.withUnsafeMutableBufferPointer { next in
                            outside.fill { c in
                                var added = 0
                                for i in 0..<n {
                                    let k = Int(l[i])
                                    if k != 0 {
                                        v[next[k]] = s[i]; next[k] += 1
                                    } else if m[i] == 0 {  // object pixels lie inside the mask
                                        c[binning.bin(s[i])] += 1; added += 1
                                    }
                                }
                                return added
                            }
                        }
                    }
                }
            }
        }
        guard let background = outside.percentile(50) else { return }
        var cut = [Float](repeating: .infinity, count: objects + 1)
        values.withUnsafeMutableBufferPointer { v in
            for k in 1...objects where start[k + 1] > start[k] {
                let top = percentileInPlace(UnsafeMutableBufferPointer(rebasing: v[start[k]..<start[k + 1]]), 95)
                cut[k] = background + fraction * (top - background)
            }
        }
        labels.labels.withUnsafeMutableBufferPointer { l in
            smoothed.pixels.withUnsafeBufferPointer { s in
                for i in 0..<n where l[i] != 0 && s[i] < cut[Int(l[i])] { l[i] = 0 }
            }
        }
        labels.relabel()
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

/// Block thresholds interpolated bilinearly between block centres, scaled and clamped to [lo, hi].
struct LocalThresholds {
    let blocks: [Float], nx: Int, ny: Int, width: Int, height: Int, scale: Float, lo: Float, hi: Float
    /// Per column: the first of its two blocks and the weight of the second.
    let column: [Int], weight: [Float]

    init(blocks: [Float], nx: Int, ny: Int, width: Int, height: Int, scale: Float, lo: Float, hi: Float) {
        (self.blocks, self.nx, self.ny, self.width, self.height, self.scale, self.lo, self.hi) = (blocks, nx, ny, width, height, scale, lo, hi)
        let axes = (0..<width).map { Self.axis($0, width, nx) }
        column = axes.map(\.0)
        weight = axes.map(\.2)
    }

    /// Block centre k along an axis of n blocks over `size` pixels lies at (k + 0.5) * size / n:
    /// the two blocks around position p and the weight of the second.
    static func axis(_ p: Int, _ size: Int, _ n: Int) -> (Int, Int, Float) {
        let u = min(max((Float(p) + 0.5) * Float(n) / Float(size) - 0.5, 0), Float(n - 1))
        let k = min(Int(u), n - 2)
        return (k, k + 1, u - Float(k))
    }

    /// Row y's thresholds into `out` (`width` values): blocks interpolated along y, then along x.
    func row(_ y: Int, into out: UnsafeMutableBufferPointer<Float>) {
        let (y0, y1, fy) = Self.axis(y, height, ny)
        weight.withUnsafeBufferPointer { weight in
            // Columns come in runs between the same two block centres: one vectorizable loop per run.
            var x = 0
            while x < width {
                let k = column[x]
                var end = x + 1
                while end < width && column[end] == k { end += 1 }
                let a = blocks[y0 * nx + k] * (1 - fy) + blocks[y1 * nx + k] * fy
                let b = blocks[y0 * nx + k + 1] * (1 - fy) + blocks[y1 * nx + k + 1] * fy
                let (scale, lo, hi) = (scale, lo, hi)
                for i in x..<end {
                    let fx = weight[i]
                    out[i] = min(max((a * (1 - fx) + b * fx) * scale, lo), hi)
                }
                x = end
            }
        }
    }
}
