import Foundation
import ImageProcessing
import MorphoCore
import MorphoIO

/// How whole fields become network inputs (Kensert et al. 2019): per plate, the Anscombe transform
/// `2 sqrt(x + 3/8)` (variance-stabilizing for Poisson counts), z-scoring by the mean and standard deviation of
/// the plate's control (DMSO) pixels per channel, a linear map of z in `zRange` to 0...255, then each field cut
/// into a grid of tiles, each tile resized to `inputSize` square, near-empty tiles dropped.
public struct WholeImagePreprocessing: Codable, Sendable, Equatable {
    /// Channels in network order (nil: the experiment's); the first one decides whether a tile is empty.
    public var channels: [String]?
    /// Tiles per field: a square number (4 for BBBC021: a 2 x 2 grid).
    public var tiles = 4
    /// Side of the square network input, in pixels (224 for ImageNet networks).
    public var inputSize = 224
    /// The z-scores mapped to 0 and 255.
    public var zRange = [-2.0, 8.0]
    /// A tile is dropped when fewer than this fraction of its first-channel pixels exceed `foregroundZ`.
    public var minForeground = 0.01
    public var foregroundZ = 1.0
    /// Whose pixels give each channel's mean and standard deviation.
    public var normalizeBy = Normalization.controls

    public enum Normalization: String, Codable, Sendable {
        /// The plate's control (DMSO) wells, as Kensert et al. on BBBC021.
        case controls
        /// Every treated field of the plate: for layouts without a negative control, such as BBBC014, where
        /// Kensert et al. normalize each cell line on its own.
        case plate
    }

    public init() {}

    public var grid: Int { Int(Double(tiles).squareRoot().rounded()) }

    public func validate() throws {
        guard tiles >= 1, grid * grid == tiles else { throw MorphoError.config(key: "tiles", problem: "\(tiles) is not a square number (1, 4, 9, ...)") }
        guard inputSize >= 16 else { throw MorphoError.config(key: "input_size", problem: "must be at least 16") }
        guard zRange.count == 2, zRange[0] < zRange[1] else { throw MorphoError.config(key: "z_range", problem: "give [low, high] with low < high") }
        guard (0..<1).contains(minForeground) else { throw MorphoError.config(key: "min_foreground", problem: "must be in 0..<1") }
    }

    /// The Anscombe transform of a photon count.
    @inline(__always) public static func anscombe(_ x: Float) -> Float { 2 * (max(0, x) + 0.375).squareRoot() }

    /// Per channel: mean and standard deviation of the Anscombe-transformed pixels of `fields` (a plate's controls).
    public static func controlStatistics(_ fields: [FieldOfView], context: String) throws -> [(mean: Double, std: Double)] {
        guard let first = fields.first else { throw MorphoError.data(context: context, problem: "no control fields to normalize by") }
        return try (0..<first.channels.count).map { c in
            var sum = 0.0, squares = 0.0, n = 0.0
            for f in fields {
                for v in f.channels[c].pixels { let a = Double(anscombe(v)); sum += a; squares += a * a }
                n += Double(f.channels[c].pixels.count)
            }
            let mean = sum / n, std = max(0, squares / n - mean * mean).squareRoot()
            guard std > 1e-6, std.isFinite else {
                throw MorphoError.data(context: context, problem: "channel \(first.channelNames[c]) of the control fields is constant: cannot normalize")
            }
            return (mean, std)
        }
    }

    /// The kept tiles of one field: (tile index in row-major grid order, [channels, inputSize, inputSize] bytes).
    public func tiles(of field: FieldOfView, statistics: [(mean: Double, std: Double)]) throws -> [(index: Int, pixels: [UInt8])] {
        let g = grid, w = field.width / g, h = field.height / g
        let lo = Float(zRange[0]), scale = Float(255 / (zRange[1] - zRange[0]))
        let s = inputSize, plane = s * s
        var kept = [(index: Int, pixels: [UInt8])]()
        for ty in 0..<g {
            for tx in 0..<g {
                var bytes = [UInt8](repeating: 0, count: field.channels.count * plane)
                var foreground = 0
                for (c, image) in field.channels.enumerated() {
                    let m = Float(statistics[c].mean), sd = Float(statistics[c].std)
                    var z = Image(width: w, height: h, bitDepth: .float32)
                    z.pixels.withUnsafeMutableBufferPointer { out in
                        image.pixels.withUnsafeBufferPointer { src in
                            for y in 0..<h {
                                let row = (ty * h + y) * image.width + tx * w
                                for x in 0..<w { out[y * w + x] = (Self.anscombe(src[row + x]) - m) / sd }
                            }
                        }
                    }
                    if c == 0 { foreground = z.pixels.reduce(0) { $0 + ($1 > Float(foregroundZ) ? 1 : 0) } }
                    let resized = try OpenCV.resize(z, width: s, height: s)
                    for p in 0..<plane { bytes[c * plane + p] = UInt8(max(0, min(255, ((resized.pixels[p] - lo) * scale).rounded()))) }
                }
                if Double(foreground) >= minForeground * Double(w * h) { kept.append((ty * g + tx, bytes)) }
            }
        }
        return kept
    }
}

/// One tile: where it comes from and what was on the well.
public struct TileRecord: Sendable, Equatable {
    public var plate: String
    public var batch: String
    public var well: WellID
    public var site: Int
    public var tile: Int
    public var treatment: Treatment

    public init(plate: String, batch: String, well: WellID, site: Int, tile: Int, treatment: Treatment) {
        self.plate = plate; self.batch = batch; self.well = well; self.site = site; self.tile = tile; self.treatment = treatment
    }
}

/// The tiles of an experiment's treated (non-control) fields in memory, 8-bit, [channels, size, size] each.
public struct WholeImageTiles: Sendable {
    public var channels: Int
    public var size: Int
    public var pixels: [UInt8]
    public var records: [TileRecord]

    public var count: Int { records.count }

    /// Preprocesses one plate: channel statistics from its control wells (or all its treated wells, by
    /// `settings.normalizeBy`), then the kept tiles of every field of its other wells with a treatment.
    /// Throws when the plate has no control wells to normalize by.
    public static func make(plate: Plate, channels: [String], control: String, settings: WholeImagePreprocessing,
                            progress: ProgressReporter? = nil) throws -> WholeImageTiles {
        let byPlate = settings.normalizeBy == .plate
        let controlWells = plate.wells.filter { byPlate ? $0.treatment != nil : $0.treatment?.compound == control }
        guard !controlWells.isEmpty else {
            throw MorphoError.data(context: "plate \(plate.name)", problem: byPlate ? "no wells with a treatment"
                : "no \(control) wells: whole-image normalization needs the plate's controls (or normalize_by: plate)")
        }
        let controlFields = controlWells.flatMap { w in w.sites.map { (w.id, $0) } }
        let controls = try concurrentMap(controlFields.count) { i in
            try FieldOfView.load(controlFields[i].1, channels: channels, plate: plate.name, well: controlFields[i].0)
        }
        let statistics = try WholeImagePreprocessing.controlStatistics(controls, context: "plate \(plate.name) \(byPlate ? "treated" : control) wells")
        let fields = plate.wells.filter { $0.treatment != nil && $0.treatment!.compound != control }.flatMap { w in w.sites.map { (w, $0) } }
        let perField = try concurrentMap(fields.count) { i -> [(TileRecord, [UInt8])] in
            let (well, site) = fields[i]
            let field = try FieldOfView.load(site, channels: channels, plate: plate.name, well: well.id)
            let cut = try settings.tiles(of: field, statistics: statistics)
            progress?.advance()
            return cut.map { (TileRecord(plate: plate.name, batch: plate.batch, well: well.id, site: site.index, tile: $0.index, treatment: well.treatment!), $0.pixels) }
        }
        let flat = perField.flatMap { $0 }
        return WholeImageTiles(channels: channels.count, size: settings.inputSize, pixels: flat.flatMap(\.1), records: flat.map(\.0))
    }

    /// Concatenates tile sets of the same shape.
    public static func joined(_ parts: [WholeImageTiles]) throws -> WholeImageTiles {
        guard let first = parts.first else { throw MorphoError.data(context: "whole-image tiles", problem: "no tiles") }
        for p in parts where p.channels != first.channels || p.size != first.size {
            throw MorphoError.data(context: "whole-image tiles", problem: "tile sets of different shapes: \(p.channels)x\(p.size) and \(first.channels)x\(first.size)")
        }
        return WholeImageTiles(channels: first.channels, size: first.size, pixels: parts.flatMap(\.pixels), records: parts.flatMap(\.records))
    }

    /// Writes the tiles to HDF5 (`/pixels` [N, C, S, S] as floats 0...255, metadata columns), atomically.
    public func write(to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try HDF5File.writeAtomically(to: url) { file in
            if count > 0 { try file.writeArray("/pixels", pixels.map(Float.init), shape: [count, channels, size, size]) }
            try file.writeStrings("/plate", records.map(\.plate))
            try file.writeStrings("/batch", records.map(\.batch))
            try file.writeStrings("/well", records.map(\.well.description))
            try file.writeDoubles("/site", records.map { Double($0.site) })
            try file.writeDoubles("/tile", records.map { Double($0.tile) })
            try file.writeStrings("/compound", records.map(\.treatment.compound))
            try file.writeDoubles("/concentration", records.map(\.treatment.concentration))
            try file.writeStrings("/moa", records.map { $0.treatment.moa ?? "" })
            try file.setAttribute("channels", Double(channels))
            try file.setAttribute("size", Double(size))
        }
    }

    public static func read(_ url: URL) throws -> WholeImageTiles {
        let file = try HDF5File(opening: url)
        defer { file.close() }
        guard let c = try file.numberAttribute("channels"), let s = try file.numberAttribute("size") else {
            throw MorphoError.hdf5(path: url.path, object: "/", problem: "not a whole-image tile file (no channels/size attributes)")
        }
        let plates = try file.readStrings("/plate")
        var pixels = [UInt8]()
        if !plates.isEmpty { pixels = try file.readItems("/pixels").values.map { UInt8(max(0, min(255, $0))) } }
        let (batch, well, site, tile) = (try file.readStrings("/batch"), try file.readStrings("/well"), try file.readDoubles("/site"), try file.readDoubles("/tile"))
        let (compound, concentration, moa) = (try file.readStrings("/compound"), try file.readDoubles("/concentration"), try file.readStrings("/moa"))
        let records = try plates.indices.map { i in
            guard let w = WellID(well[i]) else { throw MorphoError.hdf5(path: url.path, object: "/well", problem: "'\(well[i])' is not a well") }
            return TileRecord(plate: plates[i], batch: batch[i], well: w, site: Int(site[i]), tile: Int(tile[i]),
                              treatment: Treatment(compound: compound[i], concentration: concentration[i], moa: moa[i].isEmpty ? nil : moa[i]))
        }
        guard pixels.count == records.count * Int(c) * Int(s) * Int(s) else {
            throw MorphoError.hdf5(path: url.path, object: "/pixels", problem: "\(pixels.count) values for \(records.count) tiles of \(Int(c))x\(Int(s))x\(Int(s))")
        }
        return WholeImageTiles(channels: Int(c), size: Int(s), pixels: pixels, records: records)
    }
}
