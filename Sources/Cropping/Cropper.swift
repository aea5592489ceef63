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
        batch.pixels.reserveCapacity(nuclei.count * c * s * s)
        var crop = [Float](repeating: 0, count: s * s)
        for n in nuclei {
            let x0 = Int(n.centerX.rounded()) - s / 2, y0 = Int(n.centerY.rounded()) - s / 2
            let inside = x0 >= 0 && y0 >= 0 && x0 + s <= w && y0 + s <= h
            if !inside && config.edge == .skip { batch.skipped += 1; continue }
            for (ci, image) in channels.enumerated() {
                for i in crop.indices { crop[i] = 0 }
                image.pixels.withUnsafeBufferPointer { p in
                    for yy in max(0, -y0)..<min(s, h - y0) {
                        let row = (y0 + yy) * w
                        for xx in max(0, -x0)..<min(s, w - x0) {
                            let i = row + x0 + xx
                            if config.maskOtherNuclei, let l = labels?.labels[i], l != 0, l != n.label { continue }
                            crop[yy * s + xx] = p[i]
                        }
                    }
                }
                normalize(&crop, channel: ci, statistics: statistics)
                batch.pixels.append(contentsOf: crop)
            }
            batch.labels.append(n.label)
            batch.centers.append((n.centerX, n.centerY))
            batch.padded.append(!inside)
        }
        return batch
    }

    func normalize(_ crop: inout [Float], channel: Int, statistics: ChannelStatistics?) {
        switch config.normalization {
        case .none:
            return
        case .cropMax:
            let hi = crop.max() ?? 0
            if hi > 0 { for i in crop.indices { crop[i] /= hi } } else { for i in crop.indices { crop[i] = 0 } }
        case .minMax:
            let lo = crop.min() ?? 0, hi = crop.max() ?? 0
            if hi > lo { for i in crop.indices { crop[i] = (crop[i] - lo) / (hi - lo) } } else { for i in crop.indices { crop[i] = 0 } }
        case .plateControls:
            guard let statistics else { return }
            let mean = Float(statistics.mean[channel]), std = Float(statistics.std[channel])
            let scale: Float = std > 0 ? 1 / std : 0
            for i in crop.indices { crop[i] = (crop[i] - mean) * scale }
        }
    }
}
