/// Pixels of `mask` whose `surface` value is >= that of every mask pixel within a disk of `radius`
/// pixels (OpenCV's elliptic structuring element; pixels outside the image or the mask do not count).
/// This is `surface >= dilate(surface, disk)` on the masked surface, as CellProfiler and scikit-image's
/// `peak_local_max` find declumping seeds, but the disk is scanned only at pixels that pass the
/// 4-neighbour test (the cross lies in every disk of radius >= 1), which leaves few candidates.
/// Returns 1 at the maxima and 0 elsewhere.
public func localMaxima(_ surface: [Float], mask: [UInt8], width w: Int, height h: Int, radius: Int) throws -> [UInt8] {
    precondition(surface.count == w * h && mask.count == w * h)
    let side = 2 * radius + 1
    let kernel = try OpenCV.diskKernel(radius: radius)
    var offsets: [(dx: Int, dy: Int)] = []
    for k in kernel.indices where kernel[k] != 0 && k != radius * side + radius {
        offsets.append((k % side - radius, k / side - radius))
    }
    var peaks = [UInt8](repeating: 0, count: w * h)
    surface.withUnsafeBufferPointer { s in
        mask.withUnsafeBufferPointer { m in
            peaks.withUnsafeMutableBufferPointer { peaks in
                @inline(__always) func higher(_ j: Int, than v: Float) -> Bool { m[j] != 0 && s[j] > v }
                for y in 0..<h {
                    for x in 0..<w {
                        let i = y * w + x, v = s[i]
                        guard m[i] != 0 else { continue }
                        if radius >= 1 {
                            if x > 0 && higher(i - 1, than: v) || x < w - 1 && higher(i + 1, than: v)
                                || y > 0 && higher(i - w, than: v) || y < h - 1 && higher(i + w, than: v) { continue }
                        }
                        let inside = x >= radius && y >= radius && x + radius < w && y + radius < h
                        var peak = true
                        for (dx, dy) in offsets {
                            let nx = x + dx, ny = y + dy
                            if !inside && (nx < 0 || ny < 0 || nx >= w || ny >= h) { continue }
                            if higher(ny * w + nx, than: v) { peak = false; break }
                        }
                        if peak { peaks[i] = 1 }
                    }
                }
            }
        }
    }
    return peaks
}

/// 8-connected groups of the non-zero pixels of a sparse binary image, labelled 1...n in raster order
/// of their first pixel (as OpenCV's `connectedComponents`), by a flood from each unlabelled pixel:
/// for a few seed pixels this costs one scan instead of a full two-pass labelling.
public func labelSparse(_ binary: [UInt8], width w: Int, height h: Int) -> LabelImage {
    precondition(binary.count == w * h)
    var labels = [Int32](repeating: 0, count: w * h)
    var count: Int32 = 0
    var stack = [Int]()
    binary.withUnsafeBufferPointer { b in
        labels.withUnsafeMutableBufferPointer { l in
            for start in 0..<(w * h) where b[start] != 0 && l[start] == 0 {
                count += 1
                l[start] = count
                stack.append(start)
                while let i = stack.popLast() {
                    forEachNeighbour(of: i, width: w, height: h) { j in
                        if b[j] != 0 && l[j] == 0 { l[j] = count; stack.append(j) }
                    }
                }
            }
        }
    }
    return LabelImage(width: w, height: h, labels: labels, count: Int(count))
}

/// The peaks of `surface` inside `mask` whose dynamic is at least `dynamic`: h-maxima (Soille 2003,
/// §6.3.4) without the reconstruction. A maximum's dynamic is how far one must descend from it before
/// reaching a higher one (or the end of its mask component); every mask component keeps its highest peak.
/// Pixels are merged in decreasing order of value with union-find: where two regions meet at level v,
/// the one with the lower peak p ends, and its peak is kept when p - v >= dynamic. Unlike a
/// suppression radius, this keeps two nuclei whose centres are close but separated by a neck and
/// merges the many shallow maxima of a textured nucleus. Returns the peak pixel indices (ascending).
public func significantMaxima(_ surface: [Float], mask: [UInt8], width w: Int, height h: Int, dynamic: Float) -> [Int] {
    precondition(surface.count == w * h && mask.count == w * h)
    // Sort keys: value descending (order-preserving bits of the float, inverted), then index ascending.
    var order = [UInt64]()
    order.reserveCapacity(w * h / 4)
    surface.withUnsafeBufferPointer { s in
        mask.withUnsafeBufferPointer { m in
            for i in 0..<(w * h) where m[i] != 0 {
                let bits = s[i].bitPattern
                let ascending = bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
                order.append(UInt64(~ascending) << 32 | UInt64(i))
            }
        }
    }
    sortByUpperHalf(&order)   // stable: indices were appended in ascending order
    var parent = [Int32](repeating: -1, count: w * h)   // -1: not yet merged
    var peak = [Int32](repeating: -1, count: w * h)     // at a root: its region's highest pixel
    var kept = [Int]()
    parent.withUnsafeMutableBufferPointer { parent in
        peak.withUnsafeMutableBufferPointer { peak in
            surface.withUnsafeBufferPointer { s in
                @inline(__always) func find(_ i: Int32) -> Int32 {
                    var i = i
                    while parent[Int(i)] != i {
                        parent[Int(i)] = parent[Int(parent[Int(i)])]
                        i = parent[Int(i)]
                    }
                    return i
                }
                for key in order {
                    let p = Int(key & 0xFFFF_FFFF), level = s[p]
                    parent[p] = Int32(p); peak[p] = Int32(p)
                    forEachNeighbour(of: p, width: w, height: h) { q in
                        guard parent[q] >= 0 else { return }
                        let a = find(Int32(p)), b = find(Int32(q))
                        if a == b { return }
                        // The region with the lower peak (ties: the later pixel) ends here.
                        let pa = Int(peak[Int(a)]), pb = Int(peak[Int(b)])
                        let aLower = s[pa] < s[pb] || (s[pa] == s[pb] && pa > pb)
                        let (low, high) = aLower ? (a, b) : (b, a)
                        let lowPeak = Int(peak[Int(low)])
                        if s[lowPeak] - level >= dynamic { kept.append(lowPeak) }
                        parent[Int(low)] = high
                    }
                }
                for key in order {
                    let p = Int32(key & 0xFFFF_FFFF)
                    if parent[Int(p)] == p { kept.append(Int(peak[Int(p)])) }
                }
            }
        }
    }
    return kept.sorted()
}

/// Sorts keys by their upper 32 bits, keeping the order of equal ones (LSD radix sort, two passes of
/// 16 bits: O(n), where a comparison sort of a field's pixels took most of the seed search).
func sortByUpperHalf(_ keys: inout [UInt64]) {
    guard keys.count > 1 else { return }
    var buffer = [UInt64](repeating: 0, count: keys.count)
    var counts = [Int](repeating: 0, count: 1 << 16)
    for shift in [UInt64(32), 48] {
        keys.withUnsafeBufferPointer { src in
            buffer.withUnsafeMutableBufferPointer { dst in
                counts.withUnsafeMutableBufferPointer { c in
                    for k in c.indices { c[k] = 0 }
                    for key in src { c[Int((key >> shift) & 0xFFFF)] += 1 }
                    var sum = 0
                    for k in c.indices { let n = c[k]; c[k] = sum; sum += n }
                    for key in src {
                        let d = Int((key >> shift) & 0xFFFF)
                        dst[c[d]] = key; c[d] += 1
                    }
                }
            }
        }
        swap(&keys, &buffer)
    }
}
