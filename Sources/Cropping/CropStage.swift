import Foundation
import Illumination
import ImageProcessing
import MorphoCore
import MorphoIO
import Segmentation

/// `morpho crop` as code. Reads the nuclei of each plate from the segmentation stage's locations file,
/// loads every field's channels (illumination-corrected when functions are given) and either streams
/// the crops to a consumer (`forEachBatch`) or stores them as `<output>/<plate>.h5`:
/// `/crops` float32 [N, C, box, box] and per crop `/Metadata_Plate`, `/Metadata_Well` (strings),
/// `/Metadata_Site`, `/Nuclei_Number_Object_Number`, `/Nuclei_Location_Center_X`,
/// `/Nuclei_Location_Center_Y`, `/Padded` (float64); attributes `channels`, `box_size`, `normalization`.
public struct CropStage: Sendable {
    public let config: CropConfig
    public let locations: URL
    public let illumination: URL?

    public init(config: CropConfig, locations: URL, illumination: URL? = nil) throws {
        try config.validate()
        self.config = config
        self.locations = locations
        self.illumination = illumination
    }

    /// Where one field's crops came from.
    public struct FieldKey: Sendable {
        public var plate: String
        public var well: String
        public var site: Int
    }

    public struct PlateResult: Sendable {
        public var plate: String
        public var reused: Bool
        public var crops: Int
        public var skipped: Int
    }

    /// Streams the crops of one plate, field by field in layout order (fields are cropped in parallel,
    /// `body` is called on the calling thread). Returns the number of cells skipped at the edges.
    @discardableResult
    public func forEachBatch(plate: Plate, experiment: Experiment, progress: Bool = true,
                             _ body: (FieldKey, CropBatch) throws -> Void) throws -> Int {
        let names = try experiment.channels(selecting: config.channels, key: "crop.channels")
        let fields = try SegmentationStage.readLocations(SegmentationStage.locationsURL(folder: locations, plate: plate.name))
        let sites = Dictionary(plate.wells.flatMap { w in w.sites.map { ("\(w.id)|\($0.index)", $0) } }, uniquingKeysWith: { a, _ in a })
        let functions = try illumination.map { try IlluminationStore.read(folder: $0, plate: plate.name) } ?? [:]
        let statistics = config.normalization == .plateControls ? try controlStatistics(plate: plate, experiment: experiment, channels: names, functions: functions) : nil
        let cropper = try Cropper(config)
        let reporter = ProgressReporter("crops \(plate.name)", total: fields.count, enabled: progress)
        let chunk = 4 * ProcessInfo.processInfo.activeProcessorCount
        var skipped = 0
        for start in stride(from: 0, to: fields.count, by: chunk) {
            let part = Array(fields[start..<min(fields.count, start + chunk)])
            let batches = try concurrentMap(part.count) { k -> CropBatch in
                let f = part[k]
                let context = "plate \(plate.name) well \(f.well) site \(f.site)"
                guard let site = sites["\(f.well)|\(f.site)"] else {
                    throw MorphoError.data(context: context, problem: "the locations file names a field that is not in the experiment")
                }
                let field = try loadCorrected(site, channels: names, plate: plate.name, well: f.well, functions: functions)
                let labels = config.maskOtherNuclei ? try loadLabels(plate: plate.name, well: f.well, site: f.site) : nil
                let batch = try cropper.crop(channels: field, nuclei: f.nuclei, labels: labels, statistics: statistics, context: context)
                reporter.advance()
                return batch
            }
            for (f, batch) in zip(part, batches) {
                skipped += batch.skipped
                try body(FieldKey(plate: plate.name, well: f.well, site: f.site), batch)
            }
        }
        reporter.finish()
        return skipped
    }

    /// The files one plate's crops depend on: its locations, its channel images, its illumination functions.
    public func inputs(plate: Plate, experiment: Experiment) throws -> [URL] {
        let names = try experiment.channels(selecting: config.channels, key: "crop.channels")
        var inputs = [SegmentationStage.locationsURL(folder: locations, plate: plate.name)]
        inputs += plate.wells.flatMap { $0.sites.flatMap { s in names.compactMap { s.files[$0] } } }
        if let illumination { inputs.append(IlluminationStore.url(folder: illumination, plate: plate.name)) }
        return inputs
    }

    /// Writes every plate's crops to `<output>/<plate>.h5`, skipping plates whose record is current.
    public func run(_ experiment: Experiment, output: URL, progress: Bool = true) throws -> [PlateResult] {
        AtomicFile.removeStaleTemporaries(under: output)
        let names = try experiment.channels(selecting: config.channels, key: "crop.channels")
        var results = [PlateResult]()
        for plate in experiment.plates {
            let out = output.appendingPathComponent("\(plate.name).h5")
            let key = try UnitKey(config: config, inputs: try inputs(plate: plate, experiment: experiment),
                                  extra: plate.planeSignature(experiment.channels), output: out)
            if let record = key.current {
                results.append(PlateResult(plate: plate.name, reused: true, crops: record.counts["crops"] ?? 0, skipped: record.counts["skipped"] ?? 0))
                continue
            }
            let start = Date()
            var wells = [String](), sites = [Double](), labels = [Double](), xs = [Double](), ys = [Double](), padded = [Double]()
            let skipped = try HDF5File.writeAtomically(to: out) { file -> Int in
                try file.createExtendable("/crops", itemShape: [names.count, config.boxSize, config.boxSize], chunkItems: 16)
                let skipped = try forEachBatch(plate: plate, experiment: experiment, progress: progress) { key, batch in
                    try file.append("/crops", batch.pixels)
                    for i in 0..<batch.count {
                        wells.append(key.well); sites.append(Double(key.site)); labels.append(Double(batch.labels[i]))
                        xs.append(batch.centers[i].x); ys.append(batch.centers[i].y); padded.append(batch.padded[i] ? 1 : 0)
                    }
                }
                try file.writeStrings("/Metadata_Plate", [String](repeating: plate.name, count: wells.count))
                try file.writeStrings("/Metadata_Well", wells)
                try file.writeDoubles("/Metadata_Site", sites)
                try file.writeDoubles("/Nuclei_Number_Object_Number", labels)
                try file.writeDoubles("/Nuclei_Location_Center_X", xs)
                try file.writeDoubles("/Nuclei_Location_Center_Y", ys)
                try file.writeDoubles("/Padded", padded)
                try file.setAttribute("channels", names.joined(separator: ","))
                try file.setAttribute("box_size", Double(config.boxSize))
                try file.setAttribute("normalization", config.normalization.rawValue)
                return skipped
            }
            try key.finish(stage: "crop", unit: plate.name, outputs: [out],
                           counts: ["crops": wells.count, "skipped": skipped], seconds: Date().timeIntervalSince(start))
            results.append(PlateResult(plate: plate.name, reused: false, crops: wells.count, skipped: skipped))
        }
        return results
    }

    func loadCorrected(_ site: Site, channels: [String], plate: String, well: String,
                       functions: [String: IlluminationFunction]) throws -> [Image] {
        let context = "plate \(plate) well \(well) site \(site.index)"
        guard let wellID = WellID(well) else { throw MorphoError.data(context: context, problem: "bad well name") }
        return try FieldOfView.load(site, channels: channels, plate: plate, well: wellID) { name, url, plane in
            guard let fn = functions[name] else {
                if illumination != nil {
                    throw MorphoError.data(context: "plate \(plate)", problem: "no illumination function for channel '\(name)'")
                }
                return try ImageFile.readImage(url, plane: plane)
            }
            return try fn.read(url, plane: plane, context: "\(context) channel \(name)")
        }.channels
    }

    func loadLabels(plate: String, well: String, site: Int) throws -> LabelImage {
        LabelImage(try TIFF.readImage(SegmentationStage.labelsURL(folder: locations, plate: plate, well: well, site: site)))
    }

    /// Pixel mean and standard deviation per channel over the plate's control wells.
    func controlStatistics(plate: Plate, experiment: Experiment, channels: [String],
                           functions: [String: IlluminationFunction]) throws -> ChannelStatistics {
        guard let control = experiment.controlCompound else {
            throw MorphoError.config(key: "crop.normalization", problem: "plate-controls needs an experiment with a control compound")
        }
        let wells = plate.wells.filter { $0.treatment?.compound == control }
        guard !wells.isEmpty else {
            throw MorphoError.data(context: "plate \(plate.name)", problem: "no \(control) control wells for plate-controls normalization")
        }
        var sum = [Double](repeating: 0, count: channels.count), sq = sum, n = 0.0
        for w in wells {
            for s in w.sites {
                let images = try loadCorrected(s, channels: channels, plate: plate.name, well: "\(w.id)", functions: functions)
                for (c, image) in images.enumerated() {
                    for p in image.pixels { sum[c] += Double(p); sq[c] += Double(p) * Double(p) }
                }
                n += Double(images[0].pixels.count)
            }
        }
        let mean = sum.map { $0 / n }
        let std = zip(sq, mean).map { max(0, $0 / n - $1 * $1).squareRoot() }
        return ChannelStatistics(mean: mean, std: std)
    }
}
