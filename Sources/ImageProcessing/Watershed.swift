/// Marker-controlled watershed by priority flooding (Meyer 1991), as scikit-image's `watershed` with
/// 8-connectivity: pixels are flooded in increasing order of `surface` (ties first-come first-served)
/// from the labelled `markers`, only inside `mask` (in decreasing order when `descending`, i.e. on
/// the inverted surface). Mask pixels no marker can reach stay 0.
/// OpenCV's `cv::watershed` floods 8-bit colour gradients instead, so this is written here.
/// Floods never meet across separate components of mask and markers, so each component is flooded on
/// its own, with a small heap over pixels that lie close together; the result is that of one global flood.
public func watershed(surface: [Float], markers: LabelImage, mask: [UInt8], descending: Bool = false) -> LabelImage {
    let w = markers.width, h = markers.height
    precondition(surface.count == w * h && mask.count == w * h)
    var labels = markers.labels
    var heap = MinHeap()
    var age: UInt64 = 0
    @inline(__always) func key(_ v: Float) -> UInt64 {
        // Order-preserving map of Float to UInt32, in the high half; insertion age breaks ties.
        let b = (descending ? -v : v).bitPattern
        let ordered = b & 0x8000_0000 != 0 ? ~b : b | 0x8000_0000
        age += 1
        return UInt64(ordered) << 32 | (age & 0xFFFF_FFFF)
    }
    var visited = [Bool](repeating: false, count: w * h)
    var stack = [Int](), seeds = [Int](), members = [Int]()
    surface.withUnsafeBufferPointer { s in
        mask.withUnsafeBufferPointer { m in
            labels.withUnsafeMutableBufferPointer { l in
                visited.withUnsafeMutableBufferPointer { visited in
                    for start in 0..<(w * h) where l[start] != 0 && !visited[start] {
                        // The component of mask and marker pixels around this marker, and its markers.
                        seeds.removeAll(keepingCapacity: true); members.removeAll(keepingCapacity: true)
                        stack.append(start); visited[start] = true
                        var single = true
                        while let i = stack.popLast() {
                            members.append(i)
                            if l[i] != 0 { seeds.append(i); single = single && l[i] == l[start] }
                            forEachNeighbour(of: i, width: w, height: h) { j in
                                if !visited[j] && (m[j] != 0 || l[j] != 0) { visited[j] = true; stack.append(j) }
                            }
                        }
                        if single {  // one label floods all of its component, in whatever order
                            for i in members where l[i] == 0 { l[i] = l[start] }
                            continue
                        }
                        seeds.sort()
                        for i in seeds { heap.push(key(s[i]), Int32(i)) }
                        while let (_, index) = heap.pop() {
                            let i = Int(index), label = l[i]
                            forEachNeighbour(of: i, width: w, height: h) { j in
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
    }
    return LabelImage(width: w, height: h, labels: labels, count: markers.count)
}

/// Calls `body` with each 8-neighbour of pixel i of a w x h raster, row by row.
@inline(__always) func forEachNeighbour(of i: Int, width w: Int, height h: Int, _ body: (Int) -> Void) {
    let y = i / w, x = i - y * w
    if x > 0 && y > 0 && x < w - 1 && y < h - 1 {
        body(i - w - 1); body(i - w); body(i - w + 1); body(i - 1)
        body(i + 1); body(i + w - 1); body(i + w); body(i + w + 1)
        return
    }
    for dy in -1...1 where y + dy >= 0 && y + dy < h {
        for dx in -1...1 where x + dx >= 0 && x + dx < w && (dx != 0 || dy != 0) {
            body((y + dy) * w + x + dx)
        }
    }
}

/// A 4-ary min-heap of (key, pixel index): half the depth of a binary heap, and a node's children
/// share a cache line.
struct MinHeap {
    private struct Entry { var key: UInt64; var value: Int32 }
    private var entries = [Entry]()

    mutating func push(_ key: UInt64, _ value: Int32) {
        entries.append(Entry(key: key, value: value))
        entries.withUnsafeMutableBufferPointer { e in
            var i = e.count - 1
            while i > 0 {
                let p = (i - 1) / 4
                if e[p].key <= key { break }
                e[i] = e[p]
                i = p
            }
            e[i] = Entry(key: key, value: value)
        }
    }

    mutating func pop() -> (UInt64, Int32)? {
        guard let top = entries.first else { return nil }
        let last = entries.removeLast()
        entries.withUnsafeMutableBufferPointer { e in
            let n = e.count
            guard n > 0 else { return }
            var i = 0
            while true {
                let first = 4 * i + 1
                if first >= n { break }
                var c = first
                for k in (first + 1)..<min(first + 4, n) where e[k].key < e[c].key { c = k }
                if e[c].key >= last.key { break }
                e[i] = e[c]
                i = c
            }
            e[i] = last
        }
        return (top.key, top.value)
    }
}

/// Fills the holes of a binary mask: background regions (4-connected) that do not touch the image
/// border become foreground. A scanline flood (Heckbert's seed fill) marks the background reachable
/// from the border one horizontal run at a time, finding run ends 16 bytes at a time, so an open
/// background costs little more than a memset; what it does not reach is foreground or a hole.
public func fillHoles(_ mask: [UInt8], width w: Int, height h: Int) -> [UInt8] {
    precondition(mask.count == w * h)
    guard w > 0, h > 0 else { return mask }
    // 0: background not yet reached, 1: foreground, 2: background reached from the border.
    var state = [UInt8](unsafeUninitializedCapacity: w * h) { out, count in
        mask.withUnsafeBufferPointer { m in for i in 0..<(w * h) { out[i] = m[i] != 0 ? 1 : 0 } }
        count = w * h
    }
    var stack = [Int]()
    state.withUnsafeMutableBufferPointer { st in
        let base = st.baseAddress!
        /// First index in i..<end whose state is (`zero`: 0, else: not 0), or end; 8 bytes at a time
        /// (a word has a zero byte where (v - 0x01..) & ~v & 0x80.. is set, lowest byte first).
        @inline(__always) func find(_ zero: Bool, _ i: Int, _ end: Int) -> Int {
            var k = i
            while k + 8 <= end {
                let v = UnsafeRawPointer(base + k).loadUnaligned(as: UInt64.self)
                let hits = zero ? (v &- 0x0101_0101_0101_0101) & ~v & 0x8080_8080_8080_8080 : v
                if hits != 0 {
                    if zero { return k + hits.trailingZeroBitCount / 8 }
                    break
                }
                k += 8
            }
            while k < end && (base[k] == 0) != zero { k += 1 }
            return k
        }
        /// Pushes one seed per unreached background run of row y within columns x0...x1.
        @inline(__always) func seedRuns(_ y: Int, _ x0: Int, _ x1: Int) {
            let row = y * w, end = row + x1 + 1
            var k = row + x0
            while true {
                k = find(true, k, end)
                if k >= end { break }
                stack.append(k)
                k = find(false, k, end)
            }
        }
        seedRuns(0, 0, w - 1)
        seedRuns(h - 1, 0, w - 1)
        for y in 1..<max(1, h - 1) {
            if st[y * w] == 0 { stack.append(y * w) }
            if st[y * w + w - 1] == 0 { stack.append(y * w + w - 1) }
        }
        while let seed = stack.popLast() {
            guard st[seed] == 0 else { continue }
            let y = seed / w, row = y * w
            var x0 = seed - row
            while x0 > 0 && st[row + x0 - 1] == 0 { x0 -= 1 }
            let x1 = find(false, seed, row + w) - row - 1
            (base + row + x0).update(repeating: 2, count: x1 - x0 + 1)
            if y > 0 { seedRuns(y - 1, x0, x1) }
            if y < h - 1 { seedRuns(y + 1, x0, x1) }
        }
    }
    // Foreground, or background the border flood did not reach (a hole).
    for i in state.indices { state[i] = state[i] == 2 ? 0 : 1 }
    return state
}
