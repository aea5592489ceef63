import MorphoCore

/// Median filter over a square window of `size` pixels (odd; even sizes grow by one) for Float images,
/// which OpenCV's `medianBlur` handles only for kernels up to 5. Values are quantized to 65,536 levels
/// between the image's minimum and maximum (error at most range / 131,070) and the median of the
/// window is found with Huang's sliding histogram, in two levels (256 coarse x 256 fine bins). The
/// window is clipped to the image: near the edges the median is over the pixels inside it.
public func medianFilter(_ image: Image, size: Int) -> Image {
    let w = image.width, h = image.height
    guard w > 0, h > 0, size > 1 else { return image }
    let r = size / 2
    let (lo, hi) = image.range
    guard hi > lo else { return image }
    let scale = 65_535 / Double(hi - lo)
    let q = image.pixels.map { UInt16((Double($0 - lo) * scale).rounded()) }
    var out = Image(width: w, height: h, bitDepth: image.bitDepth)
    var coarse = [Int32](repeating: 0, count: 256)
    var fine = [Int32](repeating: 0, count: 65_536)
    q.withUnsafeBufferPointer { q in
        out.pixels.withUnsafeMutableBufferPointer { o in
            coarse.withUnsafeMutableBufferPointer { coarse in
                fine.withUnsafeMutableBufferPointer { fine in
                    for y in 0..<h {
                        for i in 0..<256 { coarse[i] = 0 }
                        for i in 0..<65_536 { fine[i] = 0 }
                        let y0 = max(0, y - r), y1 = min(h - 1, y + r)
                        var count = 0
                        @inline(__always) func column(_ x: Int, _ delta: Int32) {
                            var idx = y0 * w + x
                            for _ in y0...y1 {
                                let v = Int(q[idx])
                                fine[v] &+= delta
                                coarse[v >> 8] &+= delta
                                idx += w
                            }
                        }
                        for x in 0...min(w - 1, r) { column(x, 1); count += y1 - y0 + 1 }
                        for x in 0..<w {
                            if x > 0 {
                                if x + r < w { column(x + r, 1); count += y1 - y0 + 1 }
                                if x - r - 1 >= 0 { column(x - r - 1, -1); count -= y1 - y0 + 1 }
                            }
                            // Lower median: the element of rank (count - 1) / 2.
                            var need = Int32((count - 1) / 2)
                            var c = 0
                            while coarse[c] <= need { need -= coarse[c]; c += 1 }
                            var f = c << 8
                            while fine[f] <= need { need -= fine[f]; f += 1 }
                            o[y * w + x] = lo + Float(Double(f) / scale)
                        }
                    }
                }
            }
        }
    }
    return out
}
