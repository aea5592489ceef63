import Foundation
import MorphoIO

/// Small SVG and PNG pictures for the report (self-contained: SVG inline, PNG as data URIs).
enum Charts {
    /// Tableau's 10 categorical colours, then greys.
    static let palette = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
                          "#1b9e77", "#d95f02", "#7570b3", "#e7298a"]

    /// Viridis sampled at 5 points, linearly interpolated; t in 0...1.
    static func viridis(_ t: Double) -> (UInt8, UInt8, UInt8) {
        let stops: [(Double, Double, Double)] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
        let x = min(max(t.isFinite ? t : 0, 0), 1) * Double(stops.count - 1)
        let i = min(Int(x), stops.count - 2), f = x - Double(i)
        let a = stops[i], b = stops[i + 1]
        return (UInt8(a.0 + (b.0 - a.0) * f), UInt8(a.1 + (b.1 - a.1) * f), UInt8(a.2 + (b.2 - a.2) * f))
    }

    static func hex(_ c: (UInt8, UInt8, UInt8)) -> String { String(format: "#%02x%02x%02x", c.0, c.1, c.2) }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;").replacingOccurrences(of: "'", with: "&#39;")
    }

    /// An `<img>` with the PNG inline.
    static func img(_ png: Data, alt: String, width: Int? = nil) -> String {
        "<img alt=\"\(escape(alt))\" \(width.map { "width=\"\($0)\" " } ?? "")src=\"data:image/png;base64,\(png.base64EncodedString())\">"
    }

    /// A heat map of `values` (rows x columns, NaN = empty) with row and column labels.
    static func heatmap(_ values: [[Double]], rowLabels: [String], columnLabels: [String], cell: Int = 18, title: String, showValues: Bool = false) -> String {
        let left = 8 + 7 * (rowLabels.map(\.count).max() ?? 1), top = 20 + (columnLabels.map(\.count).max() ?? 1) * 6
        let w = left + cell * columnLabels.count + 10 + 5 * (columnLabels.map(\.count).max() ?? 1), h = top + cell * rowLabels.count + 10
        let finite = values.flatMap { $0 }.filter(\.isFinite)
        let lo = finite.min() ?? 0, hi = finite.max() ?? 1
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(w)\" height=\"\(h)\" role=\"img\"><title>\(escape(title))</title>"
        for (j, label) in columnLabels.enumerated() {
            let x = left + j * cell + cell / 2
            s += "<text x=\"\(x)\" y=\"\(top - 4)\" font-size=\"10\" transform=\"rotate(-60 \(x) \(top - 4))\">\(escape(label))</text>"
        }
        for (i, label) in rowLabels.enumerated() {
            s += "<text x=\"\(left - 4)\" y=\"\(top + i * cell + cell * 2 / 3)\" font-size=\"10\" text-anchor=\"end\">\(escape(label))</text>"
            for (j, v) in values[i].enumerated() {
                let fill = v.isFinite ? hex(viridis(hi > lo ? (v - lo) / (hi - lo) : 0.5)) : "#eeeeee"
                s += "<rect x=\"\(left + j * cell)\" y=\"\(top + i * cell)\" width=\"\(cell - 1)\" height=\"\(cell - 1)\" fill=\"\(fill)\"><title>\(escape(label)) \(escape(columnLabels[j])): \(v.isFinite ? String(format: "%g", v) : "none")</title></rect>"
                if showValues, v.isFinite, v != 0 {
                    s += "<text x=\"\(left + j * cell + cell / 2)\" y=\"\(top + i * cell + cell * 2 / 3)\" font-size=\"9\" text-anchor=\"middle\" fill=\"\((v - lo) / max(hi - lo, 1e-9) > 0.6 ? "#000" : "#fff")\">\(Int(v))</text>"
                }
            }
        }
        return s + "</svg>"
    }

    /// Horizontal bars of fractions in 0...1 with their labels and n.
    static func bars(_ items: [(label: String, correct: Int, total: Int)], title: String) -> String {
        let left = 8 + 7 * (items.map(\.label.count).max() ?? 1), barW = 300, row = 20
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(left + barW + 90)\" height=\"\(items.count * row + 10)\" role=\"img\"><title>\(escape(title))</title>"
        for (i, item) in items.enumerated() {
            let f = item.total > 0 ? Double(item.correct) / Double(item.total) : 0
            let y = 5 + i * row
            s += "<text x=\"\(left - 6)\" y=\"\(y + 13)\" font-size=\"11\" text-anchor=\"end\">\(escape(item.label))</text>"
            s += "<rect x=\"\(left)\" y=\"\(y)\" width=\"\(barW)\" height=\"\(row - 4)\" fill=\"#eeeeee\"/>"
            s += "<rect x=\"\(left)\" y=\"\(y)\" width=\"\(Int(Double(barW) * f))\" height=\"\(row - 4)\" fill=\"\(palette[i % palette.count])\"/>"
            s += "<text x=\"\(left + barW + 6)\" y=\"\(y + 13)\" font-size=\"11\">\(item.correct)/\(item.total)</text>"
        }
        return s + "</svg>"
    }

    /// A scatter plot of labelled points coloured by group, with a legend.
    static func scatter(_ points: [(x: Double, y: Double, group: String, label: String)], title: String, xLabel: String, yLabel: String) -> String {
        let w = 560, h = 420, pad = 40
        let groups = Array(Set(points.map(\.group))).sorted()
        let xs = points.map(\.x), ys = points.map(\.y)
        let (x0, x1) = (xs.min() ?? 0, xs.max() ?? 1), (y0, y1) = (ys.min() ?? 0, ys.max() ?? 1)
        func px(_ x: Double) -> Double { Double(pad) + (x - x0) / max(x1 - x0, 1e-12) * Double(w - 2 * pad) }
        func py(_ y: Double) -> Double { Double(h - pad) - (y - y0) / max(y1 - y0, 1e-12) * Double(h - 2 * pad) }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(w + 220)\" height=\"\(h)\" role=\"img\"><title>\(escape(title))</title>"
        s += "<rect x=\"\(pad)\" y=\"\(pad)\" width=\"\(w - 2 * pad)\" height=\"\(h - 2 * pad)\" fill=\"none\" stroke=\"#999\"/>"
        s += "<text x=\"\(w / 2)\" y=\"\(h - 10)\" font-size=\"12\" text-anchor=\"middle\">\(escape(xLabel))</text>"
        s += "<text x=\"12\" y=\"\(h / 2)\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 12 \(h / 2))\">\(escape(yLabel))</text>"
        for p in points {
            let c = palette[(groups.firstIndex(of: p.group) ?? 0) % palette.count]
            s += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%@\" fill-opacity=\"0.85\"><title>%@ (%@)</title></circle>", px(p.x), py(p.y), c, escape(p.label), escape(p.group))
        }
        for (i, g) in groups.enumerated() {
            s += "<circle cx=\"\(w + 10)\" cy=\"\(pad + i * 18)\" r=\"5\" fill=\"\(palette[i % palette.count])\"/><text x=\"\(w + 20)\" y=\"\(pad + i * 18 + 4)\" font-size=\"11\">\(escape(g))</text>"
        }
        return s + "</svg>"
    }

    /// A float image as a false-colour PNG (viridis between its min and max), shrunk to at most `maxSide`.
    static func falseColour(_ pixels: [Float], width: Int, height: Int, maxSide: Int = 256) -> Data {
        let step = max(1, (max(width, height) + maxSide - 1) / maxSide)
        let w = width / step, h = height / step
        let lo = Double(pixels.min() ?? 0), hi = Double(pixels.max() ?? 1)
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                let c = viridis((Double(pixels[y * step * width + x * step]) - lo) / max(hi - lo, 1e-12))
                out[(y * w + x) * 3] = c.0; out[(y * w + x) * 3 + 1] = c.1; out[(y * w + x) * 3 + 2] = c.2
            }
        }
        return PNG.encode(width: w, height: h, channels: 3, pixels: out)
    }

    /// A grey image (stretched between its 1st and 99.5th percentiles) with the outlines of `labels`
    /// (pixels whose right or lower neighbour has another label) in red, or crosses at `centres`.
    static func outlines(_ pixels: [Float], width: Int, height: Int, labels: [Float]?, centres: [(Double, Double)]) -> Data {
        let sorted = pixels.sorted()
        let lo = Double(sorted[Int(Double(sorted.count - 1) * 0.01)]), hi = Double(sorted[Int(Double(sorted.count - 1) * 0.995)])
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            let g = UInt8(max(0, min(255, (Double(pixels[i]) - lo) / max(hi - lo, 1e-12) * 255)))
            out[3 * i] = g; out[3 * i + 1] = g; out[3 * i + 2] = g
        }
        func red(_ x: Int, _ y: Int) {
            guard x >= 0, y >= 0, x < width, y < height else { return }
            let i = y * width + x
            out[3 * i] = 255; out[3 * i + 1] = 40; out[3 * i + 2] = 40
        }
        if let labels {
            for y in 0..<height {
                for x in 0..<width {
                    let l = labels[y * width + x]
                    let right = x + 1 < width ? labels[y * width + x + 1] : l, down = y + 1 < height ? labels[(y + 1) * width + x] : l
                    if l != right || l != down { red(x, y) }
                }
            }
        } else {
            for (cx, cy) in centres {
                for d in -3...3 { red(Int(cx) + d, Int(cy)); red(Int(cx), Int(cy) + d) }
            }
        }
        return PNG.encode(width: width, height: height, channels: 3, pixels: out)
    }
}
