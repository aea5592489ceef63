import Foundation
import MorphoCore

/// Draws training batches as Caicedo et al. (2018) do: a class uniformly, then a random cell of it
/// (class balance whatever the cell counts); each crop is augmented by a random flip, a random
/// 90-degree rotation and a translation of up to `maxShift` pixels (zero fill); then mixup
/// (Zhang et al. 2018) with one `lambda ~ Beta(alpha, alpha)` per batch mixes every cell with a partner
/// from a different well: `x = l x_i + (1 - l) x_p`, `t = l y_i + (1 - l) y_p`.
struct BatchSampler {
    let data: CellDataset
    let cellsOfClass: [[Int]]
    /// Classes that have training cells.
    let classes: [Int]
    let augment: Bool
    let maxShift: Int
    let mixupAlpha: Double

    init(data: CellDataset, cells: [Int], augment: Bool, maxShift: Int, mixupAlpha: Double) {
        var byClass = [[Int]](repeating: [], count: data.classNames.count)
        for i in cells { byClass[data.labels[i]].append(i) }
        self.data = data
        cellsOfClass = byClass
        classes = byClass.indices.filter { !byClass[$0].isEmpty }
        self.augment = augment
        self.maxShift = maxShift
        self.mixupAlpha = mixupAlpha
    }

    struct Batch {
        var pixels: [Float]
        /// Soft targets [n, classes].
        var targets: [Float]
        /// The label of the larger mixup share.
        var labels: [Int]
    }

    func batch(_ n: Int, rng: inout SeededGenerator) -> Batch {
        var cells = [Int]()
        for _ in 0..<n {
            let c = classes[Int(rng.next() % UInt64(classes.count))]
            cells.append(cellsOfClass[c][Int(rng.next() % UInt64(cellsOfClass[c].count))])
        }
        let item = data.itemSize
        var pixels = [Float](repeating: 0, count: n * item)
        pixels.withUnsafeMutableBufferPointer { out in
            data.pixels.withUnsafeBufferPointer { src in
                for (k, cell) in cells.enumerated() {
                    let transform = augment ? CropTransform.random(maxShift: maxShift, rng: &rng) : .identity
                    transform.apply(src.baseAddress! + cell * item, to: out.baseAddress! + k * item, channels: data.channels.count, size: data.size)
                }
            }
        }
        let classCount = data.classNames.count
        var targets = [Float](repeating: 0, count: n * classCount)
        for (k, cell) in cells.enumerated() { targets[k * classCount + data.labels[cell]] = 1 }
        var labels = cells.map { data.labels[$0] }
        guard mixupAlpha > 0, n > 1 else { return Batch(pixels: pixels, targets: targets, labels: labels) }

        let lambda = Float(rng.beta(mixupAlpha, mixupAlpha))
        var partner = Array(0..<n)
        partner.shuffle(using: &rng)
        for k in 0..<n where data.wells[cells[partner[k]]] == data.wells[cells[k]] {
            // Re-draw partners from the same well a few times; keep the last draw if the batch has no other well.
            for _ in 0..<8 {
                partner[k] = Int(rng.next() % UInt64(n))
                if data.wells[cells[partner[k]]] != data.wells[cells[k]] { break }
            }
        }
        var mixed = pixels, mixedTargets = targets
        for k in 0..<n {
            let p = partner[k]
            for j in 0..<item { mixed[k * item + j] = lambda * pixels[k * item + j] + (1 - lambda) * pixels[p * item + j] }
            for j in 0..<classCount { mixedTargets[k * classCount + j] = lambda * targets[k * classCount + j] + (1 - lambda) * targets[p * classCount + j] }
            if lambda < 0.5 { labels[k] = data.labels[cells[p]] }
        }
        return Batch(pixels: mixed, targets: mixedTargets, labels: labels)
    }
}

/// A flip, a rotation by a multiple of 90 degrees, and a translation of a square crop.
struct CropTransform {
    var flip = false
    var quarterTurns = 0
    var dx = 0, dy = 0

    static let identity = CropTransform()

    static func random(maxShift: Int, rng: inout SeededGenerator) -> CropTransform {
        let span = UInt64(2 * maxShift + 1)
        return CropTransform(flip: rng.next() & 1 == 1, quarterTurns: Int(rng.next() % 4),
                             dx: Int(rng.next() % span) - maxShift, dy: Int(rng.next() % span) - maxShift)
    }

    /// `out(y, x) = in(R(y - dy, x - dx))` per channel, zero where the source leaves the crop; R rotates
    /// by `quarterTurns` and then flips left-right.
    func apply(_ src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, channels: Int, size s: Int) {
        for y in 0..<s {
            for x in 0..<s {
                var sy = y - dy, sx = x - dx
                guard sy >= 0, sy < s, sx >= 0, sx < s else {
                    for c in 0..<channels { dst[c * s * s + y * s + x] = 0 }
                    continue
                }
                if flip { sx = s - 1 - sx }
                for _ in 0..<quarterTurns { (sy, sx) = (sx, s - 1 - sy) }
                for c in 0..<channels { dst[c * s * s + y * s + x] = src[c * s * s + sy * s + sx] }
            }
        }
    }
}

extension SeededGenerator {
    /// Gamma(shape, 1) by Marsaglia & Tsang (2000); shape < 1 via Gamma(shape + 1) U^(1/shape).
    mutating func gamma(_ shape: Double) -> Double {
        if shape < 1 { return gamma(shape + 1) * Foundation.pow(uniform(), 1 / shape) }
        let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            var x: Double, v: Double
            repeat { x = normal(); v = 1 + c * x } while v <= 0
            v = v * v * v
            let u = uniform()
            if u < 1 - 0.0331 * x * x * x * x || Foundation.log(u) < 0.5 * x * x + d * (1 - v + Foundation.log(v)) { return d * v }
        }
    }

    /// Beta(a, b) as G_a / (G_a + G_b).
    mutating func beta(_ a: Double, _ b: Double) -> Double {
        let x = gamma(a), y = gamma(b)
        return x + y > 0 ? x / (x + y) : 0.5
    }
}
