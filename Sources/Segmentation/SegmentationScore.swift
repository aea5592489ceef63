import ImageProcessing

/// Object-level agreement of a segmentation with a reference.
public struct ObjectMatch: Sendable, Equatable {
    public var truePositives: Int
    public var falsePositives: Int
    public var falseNegatives: Int

    public var precision: Double { truePositives == 0 ? 0 : Double(truePositives) / Double(truePositives + falsePositives) }
    public var recall: Double { truePositives == 0 ? 0 : Double(truePositives) / Double(truePositives + falseNegatives) }
    /// F1 = 2 TP / (2 TP + FP + FN).
    public var f1: Double {
        let d = 2 * truePositives + falsePositives + falseNegatives
        return d == 0 ? 1 : Double(2 * truePositives) / Double(d)
    }

    /// Matches objects of two label images (any label ids, 0 = background) one to one when their
    /// intersection over union exceeds `iou` (>= 0.5 makes the matching unique), as in the Data
    /// Science Bowl 2018 and CellProfiler's object-level scoring.
    public static func byOverlap(_ predicted: LabelImage, _ truth: LabelImage, iou: Double = 0.5) -> ObjectMatch {
        precondition(predicted.labels.count == truth.labels.count)
        var areaP = [Int32: Int](), areaT = [Int32: Int](), overlap = [Int64: Int]()
        for i in predicted.labels.indices {
            let p = predicted.labels[i], t = truth.labels[i]
            if p != 0 { areaP[p, default: 0] += 1 }
            if t != 0 { areaT[t, default: 0] += 1 }
            if p != 0 && t != 0 { overlap[Int64(p) << 32 | Int64(t), default: 0] += 1 }
        }
        var matchedP = Set<Int32>(), matchedT = Set<Int32>()
        for (pair, inter) in overlap {
            let p = Int32(pair >> 32), t = Int32(truncatingIfNeeded: pair)
            let union = areaP[p]! + areaT[t]! - inter
            if Double(inter) / Double(union) > iou, !matchedP.contains(p), !matchedT.contains(t) {
                matchedP.insert(p); matchedT.insert(t)
            }
        }
        let tp = matchedP.count
        return ObjectMatch(truePositives: tp, falsePositives: areaP.count - tp, falseNegatives: areaT.count - tp)
    }

    /// Matches two point sets one to one, nearest pairs first, when closer than `distance` pixels.
    public static func byCentroid(_ predicted: [(x: Double, y: Double)], _ reference: [(x: Double, y: Double)],
                                  distance: Double) -> ObjectMatch {
        var pairs = [(d: Double, p: Int, r: Int)]()
        for (i, p) in predicted.enumerated() {
            for (j, r) in reference.enumerated() {
                let d = ((p.x - r.x) * (p.x - r.x) + (p.y - r.y) * (p.y - r.y)).squareRoot()
                if d <= distance { pairs.append((d, i, j)) }
            }
        }
        pairs.sort { $0.d < $1.d }
        var usedP = Set<Int>(), usedR = Set<Int>()
        for pair in pairs where !usedP.contains(pair.p) && !usedR.contains(pair.r) {
            usedP.insert(pair.p); usedR.insert(pair.r)
        }
        let tp = usedP.count
        return ObjectMatch(truePositives: tp, falsePositives: predicted.count - tp, falseNegatives: reference.count - tp)
    }
}
