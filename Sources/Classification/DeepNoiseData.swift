import Foundation
import MorphoCore
import MorphoIO

/// The images of an RxRx1-style screen in memory (one [6, size, size] array per site), with the
/// normalization statistics DeepNoise uses (Yang et al., Eq. 1-3): per channel, the mean and standard
/// deviation of all pixels of the image's cell type, experiment (batch) or plate.
public struct RxRx1Images: Sendable {
    public enum Normalization: String, Codable, Sendable, CaseIterable {
        case cellType = "cell-type", experiment, plate
    }

    public let wells: [RxRx1Well]
    public let size: Int
    public let channels = RxRx1Layout.channelCount
    /// Pixels of image i at [i * channels * size * size ...].
    public let pixels: [Float]
    /// The well (index into `wells`) of each image.
    public let imageWell: [Int]
    /// Per image and channel: mean and standard deviation of its normalization group.
    public private(set) var mean: [Float] = []
    public private(set) var std: [Float] = []

    /// Reads every site of `wells` under `root` (`<root>/<train|test>/<experiment>/Plate<p>/<well>_s<k>_w<c>.<ext>`).
    public init(root: URL, wells: [RxRx1Well], sites: Int, ext: String, progress: Bool = true) throws {
        let first = try ImageFile.readImage(wells[0].imageURL(root: root, site: 1, channel: 1, ext: ext))
        let size = first.width
        let plane = size * size, per = 6 * plane
        let reporter = ProgressReporter("load images", total: wells.count * sites, unit: "images", enabled: progress)
        let loaded = try concurrentMap(wells.count * sites) { i -> [Float] in
            let well = wells[i / sites], site = i % sites + 1
            var out = [Float](repeating: 0, count: per)
            for c in 0..<6 {
                let url = well.imageURL(root: root, site: site, channel: c + 1, ext: ext)
                let image = try ImageFile.readImage(url)
                guard image.width == size, image.height == size else {
                    throw MorphoError.mismatchedImages(context: url.path, problem: "\(image.width)x\(image.height), the screen's images are \(size)x\(size)")
                }
                out.replaceSubrange((c * plane)..<((c + 1) * plane), with: image.pixels)
            }
            reporter.advance()
            return out
        }
        reporter.finish()
        self.wells = wells
        self.size = size
        pixels = loaded.flatMap { $0 }
        imageWell = (0..<(wells.count * sites)).map { $0 / sites }
    }

    public var count: Int { imageWell.count }

    /// The images of `wells` (indices into `wells`), well by well.
    public func images(ofWells wells: [Int]) -> [Int] {
        var byWell = [Int: [Int]]()
        for i in 0..<count { byWell[imageWell[i], default: []].append(i) }
        return wells.flatMap { byWell[$0] ?? [] }
    }

    /// Sets the statistics for `mode`: each group's per-channel pixel mean and standard deviation.
    public mutating func normalize(_ mode: Normalization) {
        let plane = size * size
        func key(_ w: RxRx1Well) -> String {
            switch mode {
            case .cellType: return w.cellType
            case .experiment: return w.experiment
            case .plate: return "\(w.experiment)/\(w.plate)"
            }
        }
        var sums = [String: [Double]]()
        for i in 0..<count {
            let k = key(wells[imageWell[i]])
            var s = sums[k] ?? [Double](repeating: 0, count: 13)
            for c in 0..<channels {
                let base = (i * channels + c) * plane
                var a = 0.0, b = 0.0
                for p in 0..<plane { let v = Double(pixels[base + p]); a += v; b += v * v }
                s[2 * c] += a; s[2 * c + 1] += b
            }
            s[12] += Double(plane)
            sums[k] = s
        }
        var mean = [Float](repeating: 0, count: count * channels), std = mean
        for i in 0..<count {
            let s = sums[key(wells[imageWell[i]])]!
            for c in 0..<channels {
                let m = s[2 * c] / s[12]
                mean[i * channels + c] = Float(m)
                std[i * channels + c] = Float(max(1e-3, (s[2 * c + 1] / s[12] - m * m).squareRoot()))
            }
        }
        self.mean = mean
        self.std = std
    }

    /// The augmentations of one image (DeepNoise: flips, 90-degree rotations, random scale, random erasing;
    /// mean and std jittered by up to +-`jitter`).
    public struct Augmentation: Sendable {
        public var dihedral = true
        public var scale = 0.0
        public var erasing = 0.0
        public var jitter = 0.0
        public init(dihedral: Bool = true, scale: Double = 0, erasing: Double = 0, jitter: Double = 0) {
            self.dihedral = dihedral; self.scale = scale; self.erasing = erasing; self.jitter = jitter
        }
        public static let none = Augmentation(dihedral: false)
    }

    /// Normalized, augmented `images` one after another: a batch [N, channels, size, size].
    public func batch(_ images: [Int], _ aug: Augmentation, rng: inout SeededGenerator) -> [Float] {
        let per = channels * size * size
        var out = [Float](repeating: 0, count: images.count * per)
        out.withUnsafeMutableBufferPointer { b in
            for (k, i) in images.enumerated() { fill(b.baseAddress! + k * per, image: i, aug, rng: &rng) }
        }
        return out
    }

    /// Writes normalized, augmented image `i` into `out` (channels x size x size).
    public func fill(_ out: UnsafeMutablePointer<Float>, image i: Int, _ aug: Augmentation, rng: inout SeededGenerator) {
        let n = size, plane = n * n
        let t = aug.dihedral ? Int(rng.next() % 8) : 0
        let zoom = aug.scale > 0 ? rng.uniform(1 - aug.scale, 1 + aug.scale) : 1
        var source = [Int](repeating: 0, count: plane)
        dihedralSource(&source, n: n, transform: t, zoom: zoom)
        for c in 0..<channels {
            let m = mean[i * channels + c] * Float(1 + (aug.jitter > 0 ? rng.uniform(-aug.jitter, aug.jitter) : 0))
            let s = std[i * channels + c] * Float(1 + (aug.jitter > 0 ? rng.uniform(-aug.jitter, aug.jitter) : 0))
            let base = (i * channels + c) * plane, o = out + c * plane
            for p in 0..<plane { o[p] = (pixels[base + source[p]] - m) / s }
        }
        if aug.erasing > 0 && rng.uniform() < aug.erasing {
            let area = rng.uniform(0.02, 0.2) * Double(plane), ratio = rng.uniform(0.3, 3.3)
            let h = min(n, Int((area * ratio).squareRoot())), w = min(n, Int((area / ratio).squareRoot()))
            let y0 = Int(rng.next() % UInt64(n - h + 1)), x0 = Int(rng.next() % UInt64(n - w + 1))
            for c in 0..<channels {
                for y in y0..<(y0 + h) { for x in x0..<(x0 + w) { out[c * plane + y * n + x] = 0 } }
            }
        }
    }
}

/// For each pixel of an n x n output plane, the index of the input pixel it takes under symmetry `t` of the
/// square (bit 2: transpose, bit 0: flip x, bit 1: flip y), after a zoom by `zoom` about the centre (nearest
/// pixel, clamped to the plane). `source` must hold n * n entries.
func dihedralSource(_ source: inout [Int], n: Int, transform t: Int, zoom: Double = 1) {
    let half = Double(n - 1) / 2
    for y in 0..<n {
        for x in 0..<n {
            var sx = x, sy = y
            if zoom != 1 {
                sx = min(n - 1, max(0, Int(((Double(x) - half) / zoom + half).rounded())))
                sy = min(n - 1, max(0, Int(((Double(y) - half) / zoom + half).rounded())))
            }
            if t & 4 != 0 { swap(&sx, &sy) }
            if t & 1 != 0 { sx = n - 1 - sx }
            if t & 2 != 0 { sy = n - 1 - sy }
            source[y * n + x] = sy * n + sx
        }
    }
}
