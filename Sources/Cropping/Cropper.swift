import Foundation
import ImageProcessing
import MorphoCore
import Segmentation

/// How single-cell crops are cut and scaled.
public struct CropConfig: Codable, Sendable, Hashable {
    /// What happens to a cell whose box leaves the image.
    public enum EdgePolicy: String, Codable, Sendable, CaseIterable {
        /// The cell gets no crop.
        case skip
        /// Outside pixels are 0 and the crop is flagged `padded`.
        case pad
    }

    /// Per-crop, per-channel intensity scaling.
    public enum Normalization: String, Codable, Sendable, CaseIterable {
        /// Divide by the crop's maximum (Caicedo et al. 2018); an all-zero channel stays 0.
        case cropMax = "crop-max"
        /// (v - min) / (max - min); a constant channel becomes 0.
        case minMax = "min-max"
        /// (v - mean) / std of the plate's control-well pixels.
        case plateControls = "plate-controls"
        case none
    }

    /// Side of the square box in pixels, centred on the nucleus centre (rounded to a pixel).
    public var boxSize = 96
    public var edge = EdgePolicy.skip
    /// Sets pixels of other nuclei inside the box to 0 (needs label images).
    public var maskOtherNuclei = false
    public var normalization = Normalization.cropMax
    /// Channels to crop, in order; nil: every channel of the experiment.
    public var channels: [String]?

    public init() {}

    public func validate() throws {
        guard (8...1024).contains(boxSize) else {
            throw MorphoError.config(key: "crop.boxSize", problem: "must be in 8...1024, got \(boxSize)")
        }
        if let channels, channels.isEmpty { throw MorphoError.config(key: "crop.channels", problem: "must name at least one channel") }
    }
}

/// Mean and standard deviation per channel of a plate's control pixels (for `plate-controls`).
public struct ChannelStatistics: Sendable, Codable, Equatable {
    public var mean: [Double]
    public var std: [Double]

    public init(mean: [Double], std: [Double]) {
        self.mean = mean
        self.std = std
    }
}

/// Crops of one field: `pixels` holds `count` crops of `channels x size x size` (crop, channel, row,
/// column order), with where each came from.
public struct CropBatch: Sendable {
    public var channelCount: Int
    public var size: Int
    public var pixels: [Float] = []
    public var labels: [Int32] = []
    public var centers: [(x: Double, y: Double)] = []
    public var padded: [Bool] = []
    /// Cells left out by the `skip` edge policy.
    public var skipped = 0

    public var count: Int { labels.count }
}

/// Cuts fixed-size crops around nuclei. Never produces NaN: padding is 0 and every normalization
/// leaves a flat channel at 0.
public struct Cropper: Sendable {
    public let config: CropConfig

    public init(_ config: CropConfig) throws {
        try config.validate()
        self.config = config
    }

    /// Crops every nucleus of a field. `channels` are the (illumination-corrected) images in crop
    /// order; `labels` is needed for `maskOtherNuclei`; `statistics` for `plate-controls`.
    public func crop(channels: [Image], nuclei: [Nucleus], labels: LabelImage? = nil,
                     statistics: ChannelStatistics? = nil, context: String) throws -> CropBatch {
        guard let first = channels.first else { throw MorphoError.data(context: context, problem: "no channel to crop") }
        let w = first.width, h = first.height, s = config.boxSize, c = channels.count
        if config.maskOtherNuclei {
            guard let labels, labels.width == w, labels.height == h else {
                throw MorphoError.data(context: context, problem: "masking other nuclei needs the field's label image (segment with labels saved)")
            }
        }
        if config.normalization == .plateControls {
            guard let statistics, statistics.mean.count == c else {
                throw MorphoError.data(context: context, problem: "plate-controls normalization needs control statistics for \(c) channel(s)")
            }
        }
        var batch = CropBatch(channelCount: c, size: s)
        let plane = s * s
        let mask = config.maskOtherNuclei ? labels?.labels : nil
        // Box corners, and the nuclei that get a crop.
        let corners = nuclei.map { (x: Int($0.centerX.rounded()) - s / 2, y: Int($0.centerY.rounded()) - s / 2) }
        let inside = corners.map { $0.x >= 0 && $0.y >= 0 && $0.x + s <= w && $0.y + s <= h }
        let cropped = nuclei.indices.filter { inside[$0] || config.edge == .pad }
        batch.skipped = nuclei.count - cropped.count
        batch.pixels = [Float](unsafeUninitializedCapacity: cropped.count * c * plane) { out, initialized in
            for (k, index) in cropped.enumerated() {
                let n = nuclei[index], (x0, y0) = corners[index]
                // Rows and columns of the box that lie in the image; the rest of the box is 0.
                let rows = max(0, -y0)..<min(s, h - y0), columns = max(0, -x0)..<min(s, w - x0)
                for (ci, image) in channels.enumerated() {
                    let crop = UnsafeMutableBufferPointer(rebasing: out[((k * c + ci) * plane)..<((k * c + ci + 1) * plane)])
                    if !inside[index] || mask != nil { crop.initialize(repeating: 0) }
                    image.pixels.withUnsafeBufferPointer { p in
                        guard !columns.isEmpty else { return }
                        for yy in rows {
                            let source = (y0 + yy) * w + x0, target = yy * s
                            if let mask {
                                for xx in columns {
                                    let l = mask[source + xx]
                                    if l == 0 || l == n.label { crop[target + xx] = p[source + xx] }
                                }
                            } else {
                                (crop.baseAddress! + target + columns.lowerBound)
                                    .initialize(from: p.baseAddress! + source + columns.lowerBound, count: columns.count)
                            }
                        }
                    }
                    normalize(crop, channel: ci, statistics: statistics)
                }
            }
            initialized = cropped.count * c * plane
        }
        batch.labels = cropped.map { nuclei[$0].label }
        batch.centers = cropped.map { (nuclei[$0].centerX, nuclei[$0].centerY) }
        batch.padded = cropped.map { !inside[$0] }
        return batch
    }

    func normalize(_ crop: UnsafeMutableBufferPointer<Float>, channel: Int, statistics: ChannelStatistics?) {
        switch config.normalization {
        case .none:
            return
        case .cropMax:
            let hi = extremes(UnsafeBufferPointer(crop)).hi
            if hi > 0 { for i in crop.indices { crop[i] /= hi } } else { crop.update(repeating: 0) }
        case .minMax:
            let (lo, hi) = extremes(UnsafeBufferPointer(crop))
            let range = hi - lo
            if hi > lo { for i in crop.indices { crop[i] = (crop[i] - lo) / range } } else { crop.update(repeating: 0) }
        case .plateControls:
            guard let statistics else { return }
            let mean = Float(statistics.mean[channel]), std = Float(statistics.std[channel])
            let scale: Float = std > 0 ? 1 / std : 0
            for i in crop.indices { crop[i] = (crop[i] - mean) * scale }
        }
    }
}
