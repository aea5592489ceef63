import Foundation
import MorphoCore
import MorphoIO

/// Illumination functions on disk: `<folder>/<plate>.h5` holds `/functions/<channel>` (a height x width
/// Float32 matrix) with attributes `robust_minimum` and `field_count`; `<plate>_<channel>.tif` is the
/// same function as a float TIFF to look at.
public enum IlluminationStore {
    public static func url(folder: URL, plate: String) -> URL { folder.appendingPathComponent("\(plate).h5") }
    public static func tiffURL(folder: URL, plate: String, channel: String) -> URL {
        folder.appendingPathComponent("\(plate)_\(channel).tif")
    }

    public static func write(_ functions: [IlluminationFunction], plate: String, folder: URL) throws {
        try HDF5File.writeAtomically(to: url(folder: folder, plate: plate)) { f in
            try f.setAttribute("plate", plate)
            for fn in functions {
                let path = "/functions/\(fn.channel)"
                try f.writeMatrix(path, fn.image.pixels, rows: fn.image.height, cols: fn.image.width)
                try f.setAttribute("robust_minimum", fn.robustMinimum, on: path)
                try f.setAttribute("field_count", Double(fn.fieldCount), on: path)
            }
        }
        for fn in functions {
            try TIFF.write(fn.image, to: tiffURL(folder: folder, plate: plate, channel: fn.channel), bitDepth: .float32)
        }
    }

    /// The functions of one plate by channel.
    public static func read(folder: URL, plate: String) throws -> [String: IlluminationFunction] {
        let f = try HDF5File(opening: url(folder: folder, plate: plate))
        defer { f.close() }
        var out = [String: IlluminationFunction]()
        for channel in try f.members(of: "/functions") {
            let path = "/functions/\(channel)"
            let (values, rows, cols) = try f.readMatrix(path)
            out[channel] = IlluminationFunction(
                plate: plate, channel: channel, image: Image(width: cols, height: rows, pixels: values, bitDepth: .float32),
                robustMinimum: try f.numberAttribute("robust_minimum", on: path) ?? 1,
                fieldCount: Int(try f.numberAttribute("field_count", on: path) ?? 0))
        }
        return out
    }
}

/// `morpho illum` as code: computes every plate's functions, skipping plates whose record is current.
public struct IlluminationStage: Sendable {
    public let config: IlluminationConfig
    public let output: URL

    public init(config: IlluminationConfig, output: URL) throws {
        try config.validate()
        self.config = config
        self.output = output
    }

    public struct PlateResult: Sendable {
        public var plate: String
        public var reused: Bool
        public var fields: Int
        public var seconds: Double
    }

    /// Runs every plate of `experiment` in turn (fields of a plate in parallel).
    public func run(_ experiment: Experiment, progress: Bool = true) throws -> [PlateResult] {
        let channels = try experiment.channels(selecting: config.channels, key: "illumination.channels")
        AtomicFile.removeStaleTemporaries(under: output)
        var results = [PlateResult]()
        for plate in experiment.plates {
            let out = IlluminationStore.url(folder: output, plate: plate.name)
            let inputs = plate.wells.flatMap { $0.sites.flatMap { s in channels.compactMap { s.files[$0] } } }
            let key = try UnitKey(config: config, inputs: inputs, extra: channels.joined(separator: ",") + plate.planeSignature(channels), output: out)
            if let record = key.current {
                results.append(PlateResult(plate: plate.name, reused: true, fields: record.counts["fields"] ?? 0, seconds: 0))
                continue
            }
            let start = Date()
            let functions = try compute(plate: plate, channels: channels, progress: progress)
            try IlluminationStore.write(functions, plate: plate.name, folder: output)
            let seconds = Date().timeIntervalSince(start)
            let tiffs = channels.map { IlluminationStore.tiffURL(folder: output, plate: plate.name, channel: $0) }
            try key.finish(stage: "illumination", unit: plate.name, outputs: [out] + tiffs,
                           counts: ["fields": plate.siteCount], seconds: seconds)
            results.append(PlateResult(plate: plate.name, reused: false, fields: plate.siteCount, seconds: seconds))
        }
        return results
    }

    /// The functions of one plate: every site's channel images averaged (in parallel over sites).
    public func compute(plate: Plate, channels: [String], progress: Bool = true) throws -> [IlluminationFunction] {
        let sites = plate.wells.flatMap { w in w.sites.map { (well: w.id, site: $0) } }
        guard !sites.isEmpty else {
            throw MorphoError.data(context: "plate \(plate.name)", problem: "no fields to compute illumination from")
        }
        let reporter = ProgressReporter("illumination \(plate.name)", total: sites.count, enabled: progress)
        let workers = min(sites.count, ProcessInfo.processInfo.activeProcessorCount)
        let partials = try concurrentMap(workers) { worker in
            var sums = channels.map { _ in PlateMeanAccumulator(downscale: config.downscale) }
            for k in stride(from: worker, to: sites.count, by: workers) {
                let (well, site) = sites[k]
                let field = try FieldOfView.load(site, channels: channels, plate: plate.name, well: well)
                for (c, image) in field.channels.enumerated() {
                    try sums[c].add(image, context: "plate \(plate.name) well \(well) site \(site.index) channel \(channels[c])")
                }
                reporter.advance()
            }
            return sums
        }
        reporter.finish()
        return try channels.indices.map { c in
            var total = PlateMeanAccumulator(downscale: config.downscale)
            for p in partials { try total.merge(p[c], context: "plate \(plate.name) channel \(channels[c])") }
            return try IlluminationFunction.compute(plate: plate.name, channel: channels[c], from: total, config: config)
        }
    }
}

/// Flatness of a plate's mean image: the max / min ratio of its means over a grid of tiles (an
/// illumination-independent smoother; 1 is perfectly flat).
public func tileRatio(_ image: Image, tiles: Int = 8) -> Double {
    let tw = max(1, image.width / tiles), th = max(1, image.height / tiles)
    var means = [Double]()
    for ty in 0..<(image.height / th) {
        for tx in 0..<(image.width / tw) {
            var s = 0.0
            for y in (ty * th)..<((ty + 1) * th) { for x in (tx * tw)..<((tx + 1) * tw) { s += Double(image[x, y]) } }
            means.append(s / Double(tw * th))
        }
    }
    guard let lo = means.min(), let hi = means.max(), lo > 0 else { return .infinity }
    return hi / lo
}
