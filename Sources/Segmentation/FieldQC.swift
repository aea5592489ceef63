import Foundation
import ImageProcessing
import MorphoCore

/// Image-quality measurements of one field, written to the fields table. The contrast is in units of
/// the background's pixel noise, so it means the same on any camera, bit depth and exposure.
public struct FieldQC: Sendable, Equatable {
    /// Fraction of pixels in the (filled) foreground mask.
    public var foregroundFraction = 0.0
    /// Otsu's separability: between-class variance over total variance of the smoothed image for the
    /// mask's two classes (1: two spikes; 2/pi ~ 0.64 for pure Gaussian noise).
    public var separability = 0.0
    /// (median foreground - median background) / background noise; noise is the standard deviation
    /// estimated from differences of horizontally adjacent background pixels, E|dI| sqrt(pi) / 2,
    /// which ignores smooth illumination gradients.
    public var contrast = 0.0
    /// (90th percentile of the foreground - median background) / (median background - the image's
    /// 0.1th percentile, at least the noise): how far the foreground stands above the background
    /// compared with how far the background stands above the darkest pixels (the camera offset). A
    /// background-only field split by Otsu gives about 1 or less.
    public var relativeContrast = 0.0
    /// Background noise (image units).
    public var noise = 0.0
    /// Fraction of pixels at the image's maximum value when more than one pixel holds it
    /// (CellProfiler's PercentMaximal / 100): clipped by the camera or the bit depth.
    public var saturatedFraction = 0.0
    /// Edge sharpness, 1 / edge width in pixels: the upper-quartile Sobel gradient of the unsmoothed
    /// image on the foreground's boundary over the step from background to foreground. It measures the
    /// optics' blur, not the nuclei's size or texture (phenotypes change those); compared within a plate.
    public var focus: Double?
    /// The estimated nucleus diameter (pixels); nil when it was configured.
    public var diameter: Double?
    public var count = 0
    public var flags: [FieldFlag] = []

    public init(saturatedFraction: Double = 0) { self.saturatedFraction = saturatedFraction }

    /// A field holds nuclei when its foreground stands at least 5 noise units and twice the
    /// background's own height above the background (`relativeContrast`), and covers less than 90% of
    /// the field. Pure noise split by Otsu gives contrasts about 1; a real background patch of the JUMP
    /// field (out-of-focus glow) 7.5 noise units but a relative contrast under 2; nuclear stains give
    /// tens to hundreds of noise units.
    public var separable: Bool { contrast >= 5 && relativeContrast >= 2 && foregroundFraction > 0 && foregroundFraction < 0.9 }

    /// The fraction of pixels at the maximum, when at least two pixels hold it. A constant image is
    /// saturated only at the top of its integer type (a blank field at 120 is not).
    static func saturatedFraction(_ image: Image) -> Double {
        image.pixels.withUnsafeBufferPointer { p in
            let (bottom, top) = extremes(p)
            if bottom == top { return image.bitDepth != .float32 && top == image.bitDepth.maxValue ? 1 : 0 }
            var n = 0
            for v in p where v == top { n += 1 }
            return n > 1 ? Double(n) / Double(p.count) : 0
        }
    }

    /// Measures foreground fraction, separability, contrast, noise and focus.
    static func measure(_ image: Image, smoothed: Image, mask: [UInt8], saturatedFraction: Double) -> FieldQC {
        var qc = FieldQC(saturatedFraction: saturatedFraction)
        let w = image.width, h = image.height, n = w * h
        let (lo, hi) = image.pixels.withUnsafeBufferPointer(extremes)
        guard lo.isFinite, hi.isFinite else { return qc }
        // Percentiles from fine histograms: selecting over copies of every pixel cost more than the
        // segmentation. Fields of 512 x 512 pixels or more are sampled on a 2 x 2 grid (over 65,000
        // samples: the statistics move by well under a percent).
        let sampling = n >= 1 << 18 ? 2 : 1, sampled = ((h + sampling - 1) / sampling) * ((w + sampling - 1) / sampling)
        var fg = BinnedValues(lo: lo, hi: hi), bg = BinnedValues(lo: lo, hi: hi)
        let binning = fg.binning
        var diffSum = 0.0, diffCount = 0
        var s1 = 0.0, s0 = 0.0, ss = 0.0, sAll = 0.0
        image.pixels.withUnsafeBufferPointer { p in
            smoothed.pixels.withUnsafeBufferPointer { sm in
                mask.withUnsafeBufferPointer { m in
                    fg.fill { fc in
                        var inside = 0
                        bg.fill { bc in
                            for y in stride(from: 0, to: h, by: sampling) {
                                for x in stride(from: 0, to: w, by: sampling) {
                                    let i = y * w + x, v = Double(sm[i])
                                    sAll += v; ss += v * v
                                    if m[i] != 0 {
                                        fc[binning.bin(p[i])] += 1; s1 += v; inside += 1
                                    } else {
                                        bc[binning.bin(p[i])] += 1; s0 += v
                                        if x + 1 < w && m[i + 1] == 0 { diffSum += Double(abs(p[i + 1] - p[i])); diffCount += 1 }
                                    }
                                }
                            }
                            return sampled - inside
                        }
                        return inside
                    }
                }
            }
        }
        qc.foregroundFraction = Double(fg.total) / Double(sampled)
        guard let fgTop = fg.percentile(90), let background = bg.percentile(50),
              let dark = fg.merged(bg).percentile(0.1) else { return qc }
        let mean = sAll / Double(sampled), total = ss / Double(sampled) - mean * mean
        let m1 = s1 / Double(fg.total), m0 = s0 / Double(bg.total), p1 = qc.foregroundFraction
        qc.separability = total > 0 ? min(1, p1 * (1 - p1) * (m1 - m0) * (m1 - m0) / total) : 0
        let step = Double(fgTop - background)
        qc.noise = diffCount > 0 ? diffSum / Double(diffCount) * Double.pi.squareRoot() / 2 : 0
        qc.contrast = step / max(qc.noise, 1e-6 * max(abs(step), 1e-30))
        qc.relativeContrast = step / max(Double(background - dark), qc.noise, 1e-6 * max(abs(step), 1e-30))
        qc.focus = edgeSharpness(image, mask: mask, step: Float(step))
        return qc
    }

    /// Flags the fields whose edges are far blurrier than their plate's: a robust z of log(focus)
    /// against the plate's median and MAD below -3 (statistically apart) and edges at least 1.3 times
    /// the plate's median width (apart by an amount that matters: plates of near-identical fields have
    /// tiny MADs). Needs 8 fields with a focus score; otherwise flags nothing.
    public static func flagOutOfFocus(_ fields: inout [FieldQC]) {
        let logs = fields.compactMap { $0.focus.flatMap { $0 > 0 ? log($0) : nil } }
        guard logs.count >= 8 else { return }
        let median = Double(percentile(logs.map(Float.init), 50))
        let mad = Double(percentile(logs.map { Float(abs($0 - median)) }, 50)) * 1.4826
        guard mad > 0 else { return }
        for k in fields.indices {
            if let f = fields[k].focus, f > 0, (log(f) - median) / mad < -3, log(f) - median < log(1 / 1.3), !fields[k].flags.contains(.outOfFocus) {
                fields[k].flags.append(.outOfFocus)
            }
        }
    }

    /// 1 / edge width (pixels): the 75th percentile of the Sobel gradient magnitude (/ 8, image units
    /// per pixel) over foreground pixels with a 4-neighbour in the background, over `step`. A step
    /// blurred by a Gaussian of sigma s has a largest slope of step / (s sqrt(2 pi)).
    static func edgeSharpness(_ image: Image, mask: [UInt8], step: Float) -> Double? {
        let w = image.width, h = image.height
        guard step > 0, w >= 3, h >= 3 else { return nil }
        var gradients = [Float]()
        image.pixels.withUnsafeBufferPointer { p in
            mask.withUnsafeBufferPointer { m in
                for y in 1..<(h - 1) {
                    for x in 1..<(w - 1) {
                        let i = y * w + x
                        guard m[i] != 0, m[i - 1] == 0 || m[i + 1] == 0 || m[i - w] == 0 || m[i + w] == 0 else { continue }
                        let gx = (p[i - w + 1] + 2 * p[i + 1] + p[i + w + 1]) - (p[i - w - 1] + 2 * p[i - 1] + p[i + w - 1])
                        let gy = (p[i + w - 1] + 2 * p[i + w] + p[i + w + 1]) - (p[i - w - 1] + 2 * p[i - w] + p[i - w + 1])
                        gradients.append((gx * gx + gy * gy).squareRoot() / 8)
                    }
                }
            }
        }
        guard gradients.count >= 16 else { return nil }
        return Double(percentile(gradients, 75) / step)
    }
}
