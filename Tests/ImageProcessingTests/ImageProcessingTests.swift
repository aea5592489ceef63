import Foundation
@testable import ImageProcessing
import MorphoCore
import MorphoTestSupport
import Testing

@Suite struct WatershedTests {
    /// Two seeds at the ends of a 1-pixel-high strip whose surface has a ridge at x = 7: the dividing
    /// line follows the ridge for a value watershed, and the midpoint for propagation on a flat surface.
    @Test func dividesAtRidgeOrMidpoint() {
        let w = 12
        var markers = LabelImage(width: w, height: 1, labels: [Int32](repeating: 0, count: w), count: 2)
        markers.labels[0] = 1; markers.labels[w - 1] = 2
        let mask = [UInt8](repeating: 1, count: w)
        let ridge: [Float] = (0..<w).map { x in x == 7 ? 10 : Float(abs(x - 7)) * -0.1 }
        let byValue = watershed(surface: ridge, markers: markers, mask: mask)
        #expect(byValue.labels == [1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2] || byValue.labels == [1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2])
        let flat = watershed(surface: [Float](repeating: 0, count: w), markers: markers, mask: mask)
        #expect(flat.labels == [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2])
    }

    @Test func staysInsideMask() {
        var markers = LabelImage(width: 5, height: 1, labels: [1, 0, 0, 0, 0], count: 1)
        markers.count = 1
        let out = watershed(surface: [0, 0, 0, 0, 0], markers: markers, mask: [1, 1, 0, 1, 1])
        #expect(out.labels == [1, 1, 0, 0, 0])
    }

    /// On random surfaces, masks and markers, the per-component flood equals one global priority flood
    /// (the reference written plainly here), ascending and descending.
    @Test func matchesOneGlobalFlood() {
        var rng = SeededGenerator(seed: 3)
        let w = 40, h = 30
        for trial in 0..<20 {
            let surface = (0..<(w * h)).map { _ in Float(rng.next() % 8) }  // many ties
            let mask = (0..<(w * h)).map { _ in UInt8(rng.next() % 10 < 7 ? 1 : 0) }
            var markers = LabelImage(width: w, height: h, labels: [Int32](repeating: 0, count: w * h), count: 6)
            for label in 1...6 { markers.labels[Int(rng.next() % UInt64(w * h))] = Int32(label) }
            for descending in [false, true] {
                let fast = watershed(surface: surface, markers: markers, mask: mask, descending: descending)
                let reference = Self.globalFlood(surface.map { descending ? -$0 : $0 }, markers, mask)
                #expect(fast.labels == reference, "trial \(trial), descending \(descending)")
            }
        }
    }

    /// Priority flood with one sorted queue over the whole image: (value, insertion order) first.
    static func globalFlood(_ surface: [Float], _ markers: LabelImage, _ mask: [UInt8]) -> [Int32] {
        let w = markers.width, h = markers.height
        var labels = markers.labels, queue: [(Float, Int, Int)] = [], age = 0
        for i in labels.indices where labels[i] != 0 { queue.append((surface[i], age, i)); age += 1 }
        while !queue.isEmpty {
            let k = queue.indices.min { (queue[$0].0, queue[$0].1) < (queue[$1].0, queue[$1].1) }!
            let i = queue.remove(at: k).2, x = i % w, y = i / w
            for dy in -1...1 {
                for dx in -1...1 where (dx != 0 || dy != 0) && x + dx >= 0 && x + dx < w && y + dy >= 0 && y + dy < h {
                    let j = (y + dy) * w + x + dx
                    if labels[j] == 0 && mask[j] != 0 { labels[j] = labels[i]; queue.append((surface[j], age, j)); age += 1 }
                }
            }
        }
        return labels
    }

    @Test func heapPopsInOrder() {
        var heap = MinHeap()
        var rng = SeededGenerator(seed: 7)
        let keys = (0..<500).map { _ in UInt64(rng.next() % 1000) }
        for (i, k) in keys.enumerated() { heap.push(k, Int32(i)) }
        var popped = [UInt64]()
        while let (k, _) = heap.pop() { popped.append(k) }
        #expect(popped == keys.sorted())
    }
}

@Suite struct LocalMaximaTests {
    /// Equals surface >= grey dilation over OpenCV's disk (outside the mask = -inf), computed plainly.
    @Test func matchesDilationOverDisk() throws {
        var rng = SeededGenerator(seed: 5)
        let w = 37, h = 23
        for radius in [0, 1, 2, 4, 7] {
            let surface = (0..<(w * h)).map { _ in Float(rng.next() % 20) }
            let mask = (0..<(w * h)).map { _ in UInt8(rng.next() % 10 < 8 ? 1 : 0) }
            let kernel = try OpenCV.diskKernel(radius: radius), side = 2 * radius + 1
            var expected = [UInt8](repeating: 0, count: w * h)
            for y in 0..<h {
                for x in 0..<w where mask[y * w + x] != 0 {
                    var top = -Float.infinity
                    for ky in 0..<side {
                        for kx in 0..<side where kernel[ky * side + kx] != 0 {
                            let nx = x + kx - radius, ny = y + ky - radius
                            if nx >= 0, ny >= 0, nx < w, ny < h, mask[ny * w + nx] != 0 { top = max(top, surface[ny * w + nx]) }
                        }
                    }
                    if surface[y * w + x] >= top { expected[y * w + x] = 1 }
                }
            }
            #expect(try localMaxima(surface, mask: mask, width: w, height: h, radius: radius) == expected, "radius \(radius)")
        }
        #expect(try OpenCV.diskKernel(radius: 1) == [0, 1, 0, 1, 1, 1, 0, 1, 0])
    }

    @Test func sparseLabelsMatchOpenCV() throws {
        var rng = SeededGenerator(seed: 9)
        let w = 50, h = 40
        let binary = (0..<(w * h)).map { _ in UInt8(rng.next() % 10 < 2 ? 1 : 0) }
        let ours = labelSparse(binary, width: w, height: h)
        let opencv = try OpenCV.connectedComponents(binary, width: w, height: h, connectivity: 8)
        #expect(ours.count == opencv.count)
        #expect(ours.relabeled() == opencv.relabeled())
    }
}

@Suite struct ExtremesTests {
    /// 16-lane min/max against a plain scan, for lengths around the lane width, with NaNs and
    /// infinities mixed in; all-NaN and empty inputs give (inf, -inf).
    @Test func matchesPlainScan() {
        var rng = SeededGenerator(seed: 11)
        for n in [0, 1, 15, 16, 17, 31, 33, 100, 9216] {
            var values = (0..<n).map { _ in Float(rng.uniform(-1000, 1000)) }
            for i in values.indices where rng.uniform() < 0.05 { values[i] = [Float.nan, .infinity, -.infinity][Int(rng.uniform() * 3)] }
            let finite = values.filter { !$0.isNaN }
            let got = values.withUnsafeBufferPointer { extremes($0) }
            #expect(got.lo == (finite.min() ?? .infinity) && got.hi == (finite.max() ?? -.infinity), "n=\(n)")
        }
        let nans = [Float](repeating: .nan, count: 40)
        let got = nans.withUnsafeBufferPointer { extremes($0) }
        #expect(got.lo == .infinity && got.hi == -.infinity)
    }
}

@Suite struct NonFiniteTests {
    @Test func findsFirstNaNOrInfinityAnywhere() {
        for n in [0, 5, 16, 40] {
            let clean = (0..<n).map { Float($0) }
            #expect(clean.withUnsafeBufferPointer(firstNonFinite) == nil)
            for bad in [Float.nan, .infinity, -.infinity] {
                for at in [0, n / 2, n - 1] where n > 0 {
                    var v = clean
                    v[at] = bad
                    if at + 1 < n { v[n - 1] = .nan }
                    #expect(v.withUnsafeBufferPointer(firstNonFinite) == at, "n=\(n) at=\(at) \(bad)")
                }
            }
        }
    }
}

@Suite struct FillHolesTests {
    /// The old definition through OpenCV: 4-connected background components that touch no border.
    func reference(_ mask: [UInt8], _ w: Int, _ h: Int) throws -> [UInt8] {
        let background = try OpenCV.connectedComponents(mask.map { $0 == 0 ? 1 : 0 }, width: w, height: h, connectivity: 4)
        var border = Set<Int32>()
        for x in 0..<w { border.insert(background.labels[x]); border.insert(background.labels[(h - 1) * w + x]) }
        for y in 0..<h { border.insert(background.labels[y * w]); border.insert(background.labels[y * w + w - 1]) }
        return mask.indices.map { mask[$0] != 0 || !border.contains(background.labels[$0]) ? 1 : 0 }
    }

    /// Random blobs with holes, at densities from sparse to almost full, on sizes that leave partial
    /// 8-byte words at the row ends: the scanline fill equals the component definition. A ring with a
    /// diagonal gap keeps its hole (background is 4-connected).
    @Test func matchesBorderComponentDefinition() throws {
        var rng = SeededGenerator(seed: 21)
        for (w, h) in [(1, 1), (7, 5), (37, 29), (64, 48), (131, 77)] {
            for density in [0.2, 0.45, 0.6, 0.8] {
                let mask = (0..<(w * h)).map { _ in rng.uniform() < density ? UInt8(1) : 0 }
                #expect(fillHoles(mask, width: w, height: h) == (try reference(mask, w, h)), "\(w)x\(h) density \(density)")
            }
        }
        // 5x5 ring around (2, 2) whose only gaps are diagonal: the centre is a hole.
        let ring: [UInt8] = [0, 1, 1, 1, 0,
                             1, 1, 1, 1, 1,
                             1, 1, 0, 1, 1,
                             1, 1, 1, 1, 1,
                             0, 1, 1, 1, 0]
        #expect(fillHoles(ring, width: 5, height: 5)[12] == 1)
        var open = ring
        open[7] = 0; open[2] = 0  // a 4-connected path from the centre to the top border
        #expect(fillHoles(open, width: 5, height: 5)[12] == 0)
    }
}

@Suite struct PercentileTests {
    /// Quickselect gives exactly what interpolating in a sorted copy gives, ties and sizes 1...200 included.
    @Test func matchesSortedInterpolation() {
        var rng = SeededGenerator(seed: 3)
        for n in 1...200 {
            let values = (0..<n).map { _ in Float(Int(rng.uniform(0, 20))) + (n % 3 == 0 ? Float(rng.normal()) : 0) }
            let sorted = values.sorted()
            for p in [0.0, 0.1, 25, 50, 90, 99, 100] {
                let position = p / 100 * Double(n - 1)
                let lo = Int(position.rounded(.down)), hi = min(lo + 1, n - 1)
                let expected = sorted[lo] + (sorted[hi] - sorted[lo]) * Float(position - Double(lo))
                #expect(percentile(values, p) == expected, "n \(n) p \(p)")
            }
        }
    }
}
