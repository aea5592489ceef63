/// Marker-controlled watershed by priority flooding (Meyer 1991), as scikit-image's `watershed` with
/// 8-connectivity: pixels are flooded in increasing order of `surface` (ties first-come first-served)
/// from the labelled `markers`, only inside `mask`. Mask pixels no marker can reach stay 0.
/// OpenCV's `cv::watershed` floods 8-bit colour gradients instead, so this is written here.
public func watershed(surface: [Float], markers: LabelImage, mask: [UInt8]) -> LabelImage {
    let w = markers.width, h = markers.height
    precondition(surface.count == w * h && mask.count == w * h)
    var labels = markers.labels
    var heap = MinHeap()
    var age: UInt64 = 0
    @inline(__always) func key(_ v: Float) -> UInt64 {
        // Order-preserving map of Float to UInt32, in the high half; insertion age breaks ties.
        let b = v.bitPattern
        let ordered = b & 0x8000_0000 != 0 ? ~b : b | 0x8000_0000
        age += 1
        return UInt64(ordered) << 32 | (age & 0xFFFF_FFFF)
    }
    for i in 0..<(w * h) where labels[i] != 0 {
        heap.push(key(surface[i]), Int32(i))
    }
    surface.withUnsafeBufferPointer { s in
        mask.withUnsafeBufferPointer { m in
            labels.withUnsafeMutableBufferPointer { l in
                while let (_, index) = heap.pop() {
                    let i = Int(index), x = i % w, y = i / w, label = l[i]
                    for dy in -1...1 {
                        let ny = y + dy
                        if ny < 0 || ny >= h { continue }
                        for dx in -1...1 {
                            let nx = x + dx
                            if nx < 0 || nx >= w || (dx == 0 && dy == 0) { continue }
                            let j = ny * w + nx
                            if l[j] == 0 && m[j] != 0 {
                                l[j] = label
                                heap.push(key(s[j]), Int32(j))
                            }
                        }
                    }
                }
            }
        }
    }
    return LabelImage(width: w, height: h, labels: labels, count: markers.count)
}

/// A binary min-heap of (key, pixel index).
struct MinHeap {
    private var keys = [UInt64]()
    private var values = [Int32]()

    mutating func push(_ key: UInt64, _ value: Int32) {
        keys.append(key); values.append(value)
        var i = keys.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if keys[p] <= key { break }
            keys[i] = keys[p]; values[i] = values[p]
            i = p
        }
        keys[i] = key; values[i] = value
    }

    mutating func pop() -> (UInt64, Int32)? {
        guard let top = keys.first else { return nil }
        let topValue = values[0]
        let lastKey = keys.removeLast(), lastValue = values.removeLast()
        let n = keys.count
        if n > 0 {
            var i = 0
            while true {
                var c = 2 * i + 1
                if c >= n { break }
                if c + 1 < n && keys[c + 1] < keys[c] { c += 1 }
                if keys[c] >= lastKey { break }
                keys[i] = keys[c]; values[i] = values[c]
                i = c
            }
            keys[i] = lastKey; values[i] = lastValue
        }
        return (top, topValue)
    }
}

/// Fills the holes of a binary mask: background regions (4-connected) that do not touch the image
/// border become foreground.
public func fillHoles(_ mask: [UInt8], width: Int, height: Int) throws -> [UInt8] {
    let inverse = mask.map { $0 == 0 ? UInt8(1) : 0 }
    let background = try OpenCV.connectedComponents(inverse, width: width, height: height, connectivity: 4)
    var touchesBorder = [Bool](repeating: false, count: background.count + 1)
    for x in 0..<width {
        touchesBorder[Int(background.labels[x])] = true
        touchesBorder[Int(background.labels[(height - 1) * width + x])] = true
    }
    for y in 0..<height {
        touchesBorder[Int(background.labels[y * width])] = true
        touchesBorder[Int(background.labels[y * width + width - 1])] = true
    }
    var out = mask
    for i in out.indices where out[i] == 0 && !touchesBorder[Int(background.labels[i])] { out[i] = 1 }
    return out
}
