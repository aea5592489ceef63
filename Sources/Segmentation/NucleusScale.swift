import Foundation
import ImageProcessing
import MorphoCore

/// The typical nucleus diameter of a field, found from the image. Assumes nuclei are brighter than
/// the background, that Otsu's threshold (after light smoothing) separates them, and that most of the
/// foreground's area belongs to nuclei of one population. It does not assume their size.
///
/// Each connected component of the foreground gives one diameter: its equivalent diameter
/// 2 sqrt(area / pi), but at most 2.4 times its largest inscribed radius (the distance transform's
/// maximum). The cap makes a clump of touching nuclei, whose inscribed radius is still one nucleus's,
/// count as about one nucleus; single nuclei up to 1.44:1 elongation keep their own diameter. The
/// estimate is the area-weighted median, so specks of noise and debris do not pull it down. Smoothing
/// at the scale found (diameter / 16) merges textured nuclei that light smoothing breaks into pieces,
/// so the estimate is repeated until the smoothing settles (at most three passes).
public enum NucleusScale {
    public struct Found: Sendable {
        public var diameter: Double
        /// The smoothing the last threshold was computed at, and its result.
        public var smoothingSigma: Double
        public var smoothed: Image
        public var threshold: Float
    }

    /// The diameter (`configured` when given) and the smoothed image and automatic threshold at the
    /// resulting smoothing `sigma(diameter)`; nil when the image is constant.
    static func find(_ image: Image, configured: Double?, sigma: (Double) -> Double,
                     threshold: ([Float]) -> Float?) throws -> Found? {
        if let d = configured {
            let s = sigma(d), smoothed = try OpenCV.gaussianBlur(image, sigma: s)
            return threshold(smoothed.pixels).map { Found(diameter: d, smoothingSigma: s, smoothed: smoothed, threshold: $0) }
        }
        var s = 1.0
        var found: Found?
        for _ in 0..<3 {
            let smoothed = try OpenCV.gaussianBlur(image, sigma: s)
            guard let t = threshold(smoothed.pixels) else { return found }
            let mask = fillHoles(smoothed.pixels.map { $0 > t ? 1 : 0 }, width: image.width, height: image.height)
            let d = try estimate(mask: mask, width: image.width, height: image.height)
            found = Found(diameter: d, smoothingSigma: s, smoothed: smoothed, threshold: t)
            let next = sigma(d)
            if abs(next - s) <= 0.25 * s { break }
            s = next
        }
        return found
    }

    /// The area-weighted median of the components' capped equivalent diameters (see the type's
    /// documentation); components whose inscribed radius is under 1.5 px (isolated pixels and thin
    /// lines) do not count. 3 px when no component counts.
    public static func estimate(mask: [UInt8], width w: Int, height h: Int) throws -> Double {
        let components = try OpenCV.connectedComponents(mask, width: w, height: h, connectivity: 8)
        let distance = try OpenCV.distanceTransform(mask, width: w, height: h, precise: false)
        var area = [Int](repeating: 0, count: components.count + 1)
        var inscribed = [Float](repeating: 0, count: components.count + 1)
        for i in 0..<(w * h) {
            let l = Int(components.labels[i])
            if l == 0 { continue }
            area[l] += 1
            inscribed[l] = max(inscribed[l], distance[i])
        }
        var diameters = [(d: Double, weight: Double)]()
        for l in 1..<(components.count + 1) where inscribed[l] >= 1.5 {
            let a = Double(area[l])
            diameters.append((min(2 * (a / .pi).squareRoot(), 2.4 * Double(inscribed[l])), a))
        }
        guard !diameters.isEmpty else { return 3 }
        diameters.sort { $0.d < $1.d }
        let half = diameters.reduce(0) { $0 + $1.weight } / 2
        var sum = 0.0
        for entry in diameters {
            sum += entry.weight
            if sum >= half { return max(3, entry.d) }
        }
        return max(3, diameters[diameters.count - 1].d)
    }
}
