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
