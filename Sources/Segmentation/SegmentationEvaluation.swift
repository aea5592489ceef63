import Foundation
import ImageProcessing
import MorphoCore
import MorphoIO

/// One image of the multi-scale segmentation benchmark, with a full ground-truth mask or reference
/// centres (CellProfiler's, which discard nuclei touching the border: the predicted nuclei touching
/// it are then left out of the comparison).
public struct SegmentationCase: Sendable {
    public var name: String
    public var scale: Double
    public var image: Image
    public var truth: LabelImage?
    public var centres: [(x: Double, y: Double)]
    /// Largest centre distance of a match (pixels, at this scale).
    public var centreDistance: Double

    public init(name: String, scale: Double, image: Image, truth: LabelImage?, centres: [(x: Double, y: Double)] = [],
                centreDistance: Double = 0) {
        self.name = name; self.scale = scale; self.image = image; self.truth = truth
        self.centres = centres; self.centreDistance = centreDistance
    }

    /// This case resampled by `factor`: the image by area averaging (shrinking) or bilinear
    /// interpolation (enlarging), the mask by nearest neighbour, centres and distance scaled.
    public func resampled(by factor: Double) throws -> SegmentationCase {
        let w = max(1, Int((Double(image.width) * factor).rounded())), h = max(1, Int((Double(image.height) * factor).rounded()))
        let fx = Double(image.width) / Double(w), fy = Double(image.height) / Double(h)
        let truth = self.truth.map { t in
            var labels = [Int32](repeating: 0, count: w * h)
            for y in 0..<h {
                let sy = min(t.height - 1, Int((Double(y) + 0.5) * fy))
                for x in 0..<w { labels[y * w + x] = t.labels[sy * t.width + min(t.width - 1, Int((Double(x) + 0.5) * fx))] }
            }
            return LabelImage(width: w, height: h, labels: labels, count: t.count).relabeled()
        }
        // Pixel centres: x' + 0.5 = (x + 0.5) * factor.
        let centres = self.centres.map { (x: ($0.x + 0.5) / fx - 0.5, y: ($0.y + 0.5) / fy - 0.5) }
        return SegmentationCase(name: name, scale: scale * factor, image: try OpenCV.resize(image, width: w, height: h), truth: truth,
                                centres: centres, centreDistance: centreDistance * factor)
    }

    /// The score of one segmentation of this image.
    public struct Score: Sendable {
        public var match: ObjectMatch
        /// Predicted objects (those compared) over reference objects.
        public var countRatio: Double
        public var found: Int
        public var reference: Int
    }

    /// F1 at IoU 0.5 against the mask, or centre matching against the reference centres.
    public func score(_ labels: LabelImage) -> Score {
        if let truth {
            let found = Set(labels.labels.filter { $0 != 0 }).count
            return Score(match: ObjectMatch.byOverlap(labels, truth, iou: 0.5), countRatio: Double(found) / Double(max(truth.count, 1)),
                         found: found, reference: truth.count)
        }
        let w = labels.width, h = labels.height
        var sx = [Double](repeating: 0, count: labels.count + 1), sy = sx, n = sx
        var border = [Bool](repeating: false, count: labels.count + 1)
        for y in 0..<h {
            for x in 0..<w {
                let l = Int(labels.labels[y * w + x])
                guard l > 0 else { continue }
                sx[l] += Double(x); sy[l] += Double(y); n[l] += 1
                if x == 0 || y == 0 || x == w - 1 || y == h - 1 { border[l] = true }
            }
        }
        let predicted = (1..<(labels.count + 1)).compactMap { l in n[l] > 0 && !border[l] ? (x: sx[l] / n[l], y: sy[l] / n[l]) : nil }
        return Score(match: ObjectMatch.byCentroid(predicted, centres, distance: centreDistance),
                     countRatio: Double(predicted.count) / Double(max(centres.count, 1)), found: predicted.count, reference: centres.count)
    }
}

extension SegmentationCase {
    /// The shared real images under `folder` (`../shared/data/real`): DSB2018 against its mask, and
    /// the JUMP cpg0000 DNA field against CellProfiler's nuclei (centres matched within 8 px).
    public static func sharedRealImages(_ folder: URL) throws -> [SegmentationCase] {
        let dsb = folder.appendingPathComponent("dsb2018_nuclei"), jump = folder.appendingPathComponent("jump_cpg0000_A01_1")
        let referenceURL = jump.appendingPathComponent("cellprofiler_nuclei.csv")
        let reference = try CSV.read(referenceURL)
        func numbers(_ column: String) throws -> [Double] {
            try reference.column(column).enumerated().map { i, text in
                guard let v = Double(text) else {
                    throw MorphoError.table(file: referenceURL.path, line: reference.lineNumber(ofRow: i), column: column,
                                            problem: "'\(text)' is not a number")
                }
                return v
            }
        }
        let xs = try numbers("Location_Center_X"), ys = try numbers("Location_Center_Y")
        return [
            SegmentationCase(name: "dsb2018", scale: 1, image: try TIFF.readImage(dsb.appendingPathComponent("img2d.tif")),
                             truth: LabelImage(try TIFF.readImage(dsb.appendingPathComponent("mask2d.tif"))).relabeled()),
            SegmentationCase(name: "jump-cellprofiler", scale: 1, image: try TIFF.readImage(jump.appendingPathComponent("r01c01f01p01-ch5sk1fk1fl1.tiff")),
                             truth: nil, centres: zip(xs, ys).map { (x: $0, y: $1) }, centreDistance: 8),
        ]
    }
}
