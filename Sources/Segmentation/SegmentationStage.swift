import Foundation
import Illumination
import ImageProcessing
import MorphoCore
import MorphoIO

/// Per-nucleus columns of a locations file (DeepProfiler's names for the centre).
public enum LocationColumns {
    public static let header = [
        "Metadata_Plate", "Metadata_Well", "Metadata_Site", "Nuclei_Number_Object_Number",
        "Nuclei_Location_Center_X", "Nuclei_Location_Center_Y", "Nuclei_AreaShape_Area",
        "Nuclei_AreaShape_BoundingBoxMinimum_X", "Nuclei_AreaShape_BoundingBoxMinimum_Y",
        "Nuclei_AreaShape_BoundingBoxMaximum_X", "Nuclei_AreaShape_BoundingBoxMaximum_Y",
        "Nuclei_Intensity_MeanIntensity_DNA",
    ]

    /// A nucleus's values for the columns after the three metadata columns.
    public static func values(_ n: Nucleus) -> [String] {
        ["\(n.label)", formatCoordinate(n.centerX), formatCoordinate(n.centerY), "\(n.area)",
         "\(n.minX)", "\(n.minY)", "\(n.maxX)", "\(n.maxY)", formatCoordinate(n.meanIntensity)]
    }
}

/// Per-field columns of a fields table: nucleus count, threshold, the estimated diameter and QC.
public enum FieldColumns {
    public static let header = [
        "Metadata_Plate", "Metadata_Well", "Metadata_Site", "Count_Nuclei", "Threshold", "QC_Flag",
        "Segmentation_Diameter", "QC_ForegroundFraction", "QC_Separability", "QC_Contrast", "QC_RelativeContrast", "QC_Noise",
        "QC_SaturatedFraction", "QC_Focus", "QC_Flags", "QC_Dropped",
    ]

    /// The values after the three metadata columns.
    static func values(_ qc: FieldQC, count: Int, threshold: Float?, flag: String?, dropped: Bool) -> [String] {
        func number(_ v: Double?) -> String { v.map { formatNumber(Double(String(format: "%.4g", $0)) ?? $0) } ?? "" }
        return ["\(count)", threshold.map { formatCoordinate(Double($0)) } ?? "", flag ?? "", number(qc.diameter),
                number(qc.foregroundFraction), number(qc.separability), number(qc.contrast), number(qc.relativeContrast), number(qc.noise),
                number(qc.saturatedFraction), number(qc.focus), qc.flags.map(\.rawValue).joined(separator: ";"), dropped ? "1" : "0"]
    }
}

/// One field's nuclei as read back from a locations file.
public struct FieldNuclei: Sendable {
    public var well: String
    public var site: Int
    public var nuclei: [Nucleus]
}

/// `morpho segment` as code: per plate, segments the DNA channel of every field (illumination-corrected
/// when functions are given) and writes `<output>/<plate>.csv` (one row per nucleus),
/// `<plate>_fields.csv` (per field: nucleus count, threshold, estimated diameter, QC measurements and
/// flags; the nuclei of fields flagged by `dropFlagged` are left out of the locations) and, optionally, label images
/// `labels/<plate>/<well>_s<site>.tif`. Plates whose record is current are skipped.
public struct SegmentationStage: Sendable {
    public let config: SegmentationConfig
    public let output: URL
    /// Folder of illumination functions (`morpho illum` output); nil: segment the raw images.
    public let illumination: URL?
    public let saveLabels: Bool

    public init(config: SegmentationConfig, output: URL, illumination: URL? = nil, saveLabels: Bool = false) throws {
        try config.validate()
        self.config = config
        self.output = output
        self.illumination = illumination
        self.saveLabels = saveLabels
    }

    public struct PlateResult: Sendable {
        public var plate: String
        public var reused: Bool
        public var fields: Int
        public var nuclei: Int
        public var emptyFields: Int
        /// Fields whose nuclei were left out by `dropFlagged`, by flag.
        public var dropped: [FieldFlag: Int] = [:]

        /// The counts of the plate's record.
        public var counts: [String: Int] {
            var c = ["fields": fields, "nuclei": nuclei, "empty_fields": emptyFields]
            for (flag, n) in dropped { c["dropped_\(flag.rawValue)"] = n }
            return c
        }

        /// "2 fields dropped by QC (1 empty, 1 saturated)", or nil when none was.
        public var droppedSummary: String? {
            let total = dropped.values.reduce(0, +)
            guard total > 0 else { return nil }
            let parts = FieldFlag.allCases.compactMap { f in dropped[f].map { "\($0) \(f.rawValue)" } }
            return "\(total) field\(total == 1 ? "" : "s") dropped by QC (\(parts.joined(separator: ", ")))"
        }
    }

    public static func locationsURL(folder: URL, plate: String) -> URL { folder.appendingPathComponent("\(plate).csv") }
    public static func fieldsURL(folder: URL, plate: String) -> URL { folder.appendingPathComponent("\(plate)_fields.csv") }
    public static func labelsURL(folder: URL, plate: String, well: String, site: Int) -> URL {
        folder.appendingPathComponent("labels/\(plate)/\(well)_s\(site).tif")
    }

    public func run(_ experiment: Experiment, progress: Bool = true) throws -> [PlateResult] {
        let dna = try Self.dnaChannel(config.dnaChannel, among: experiment.channels)
        AtomicFile.removeStaleTemporaries(under: output)
        var results = [PlateResult]()
        for plate in experiment.plates {
            let out = Self.locationsURL(folder: output, plate: plate.name)
            var inputs = plate.wells.flatMap { $0.sites.compactMap { $0.files[dna] } }
            if let illumination { inputs.append(IlluminationStore.url(folder: illumination, plate: plate.name)) }
            let key = try UnitKey(config: config, inputs: inputs, extra: "\(dna)|labels=\(saveLabels)" + plate.planeSignature([dna]), output: out)
            if let record = key.current {
                var dropped = [FieldFlag: Int]()
                for flag in FieldFlag.allCases { if let n = record.counts["dropped_\(flag.rawValue)"], n > 0 { dropped[flag] = n } }
                results.append(PlateResult(plate: plate.name, reused: true, fields: record.counts["fields"] ?? 0,
                                           nuclei: record.counts["nuclei"] ?? 0, emptyFields: record.counts["empty_fields"] ?? 0, dropped: dropped))
                continue
            }
            let start = Date()
            let result = try segment(plate: plate, dna: dna, progress: progress)
            try key.finish(stage: "segmentation", unit: plate.name,
                           outputs: [out, Self.fieldsURL(folder: output, plate: plate.name)],
                           counts: result.counts,
                           seconds: Date().timeIntervalSince(start))
            results.append(result)
        }
        return results
    }

    /// Segments every field of one plate (in parallel) and writes its files.
    func segment(plate: Plate, dna: String, progress: Bool) throws -> PlateResult {
        let function = try illumination.map { folder -> IlluminationFunction in
            guard let f = try IlluminationStore.read(folder: folder, plate: plate.name)[dna] else {
                throw MorphoError.data(context: "plate \(plate.name)", problem: "the illumination file has no function for channel '\(dna)'")
            }
            return f
        }
        let segmenter = try NucleusSegmenter(config)
        let sites = plate.wells.flatMap { w in w.sites.map { (well: w.id, site: $0) } }
        @Sendable func load(_ k: Int) throws -> (raw: Image, corrected: Image, context: String) {
            let (well, site) = sites[k]
            let context = "plate \(plate.name) well \(well) site \(site.index)"
            guard let file = site.files[dna] else {
                throw MorphoError.mismatchedImages(context: context, problem: "no file for DNA channel '\(dna)'")
            }
            let raw = try ImageFile.readImage(file, plane: site.planes[dna])
            return (raw, try function?.apply(to: raw, context: context) ?? raw, context)
        }
        // One diameter for the plate from a sample of its fields, which are then segmented as read.
        let sample = config.configuredDiameter == nil && config.diameterScope == .plate ? NucleusSegmenter.plateSample(count: sites.count) : []
        let sampled = Dictionary(uniqueKeysWithValues: zip(sample, try concurrentMap(sample.count) { try load(sample[$0]) }))
        let plateDiameter = sample.isEmpty ? nil : try segmenter.plateDiameter(sample.map { sampled[$0]!.corrected })
        if !sample.isEmpty && progress {
            let what = plateDiameter.map { String(format: "nucleus diameter %.1f px", $0) } ?? "no separable foreground; diameter estimated per field"
            FileHandle.standardError.write(Data("segmentation \(plate.name): \(what) (from \(sample.count) sampled fields)\n".utf8))
        }
        let reporter = ProgressReporter("segmentation \(plate.name)", total: sites.count, enabled: progress)
        let fields = try concurrentMap(sites.count) { k -> (nuclei: [Nucleus], threshold: Float?, flag: String?, qc: FieldQC) in
            let (well, site) = sites[k]
            let (raw, image, context) = try sampled[k] ?? load(k)
            let result = try segmenter.segment(image, raw: raw, context: context, plateDiameter: plateDiameter)
            if saveLabels {
                try TIFF.write(result.labels.image, to: Self.labelsURL(folder: output, plate: plate.name, well: "\(well)", site: site.index))
            }
            reporter.advance()
            return (result.nuclei, result.threshold, result.flag, result.qc)
        }
        reporter.finish()
        var qcs = fields.map(\.qc)
        FieldQC.flagOutOfFocus(&qcs)
        // The flag that drops each field (its first one that `dropFlagged` lists), or nil.
        let dropping = qcs.map { $0.flags.first(where: config.dropFlagged.contains) }
        var dropped = [FieldFlag: Int]()
        for flag in dropping.compactMap({ $0 }) { dropped[flag, default: 0] += 1 }
        var rows = [[String]]()
        for (k, field) in fields.enumerated() where dropping[k] == nil {
            for n in field.nuclei {
                rows.append([plate.name, "\(sites[k].well)", "\(sites[k].site.index)"] + LocationColumns.values(n))
            }
        }
        try CSV.writeData(CSV.render(header: LocationColumns.header, rowCount: rows.count) { r, out in out = rows[r] },
                          to: Self.locationsURL(folder: output, plate: plate.name))
        try CSV.writeData(CSV.render(header: FieldColumns.header, rowCount: fields.count) { k, out in
            let f = fields[k]
            out = [plate.name, "\(sites[k].well)", "\(sites[k].site.index)"]
                + FieldColumns.values(qcs[k], count: f.nuclei.count, threshold: f.threshold, flag: f.flag, dropped: dropping[k] != nil)
        }, to: Self.fieldsURL(folder: output, plate: plate.name))
        return PlateResult(plate: plate.name, reused: false, fields: fields.count, nuclei: rows.count,
                           emptyFields: fields.filter { $0.nuclei.isEmpty }.count, dropped: dropped)
    }

    /// The DNA channel: `configured` when given (it must exist), else the one channel whose name says
    /// DNA (DNA, OrigDNA, Hoechst, DAPI, Nuclei, ... in any case, with or without an Orig prefix or a
    /// number). Never the first channel by default: a JUMP plate's first channel is AGP.
    public static func dnaChannel(_ configured: String?, among channels: [String]) throws -> String {
        let list = channels.joined(separator: ", ")
        if let configured {
            guard channels.contains(configured) else {
                throw MorphoError.config(key: "segmentation.dnaChannel", problem: "channel '\(configured)' is not in the experiment (\(list))")
            }
            return configured
        }
        let names = ["dna", "hoechst", "dapi", "nuclei", "nucleus", "nuclear", "draq5", "h33342", "hoechst33342"]
        let matches = channels.filter { channel in
            var n = channel.lowercased().filter { $0.isLetter || $0.isNumber }
            if n.hasPrefix("orig") { n.removeFirst(4) }
            while let last = n.last, last.isNumber, !names.contains(n) { n.removeLast() }
            return names.contains(n) || n.hasPrefix("hoechst") || n.hasPrefix("dapi")
        }
        guard matches.count == 1 else {
            throw MorphoError.config(key: "segmentation.dnaChannel", problem: matches.isEmpty
                ? "no channel is named like a DNA stain (DNA, OrigDNA, Hoechst, DAPI, Nuclei) among \(list); name it: dna_channel: <channel> in the segmentation stage, or --dna <channel>"
                : "several channels look like DNA (\(matches.joined(separator: ", "))); name one: dna_channel: <channel>, or --dna <channel>")
        }
        return matches[0]
    }

    /// Reads a plate's locations file back, grouped by field.
    public static func readLocations(_ url: URL) throws -> [FieldNuclei] {
        let table = try CSV.read(url)
        func numbers(_ name: String) throws -> [Double] {
            try table.column(name).enumerated().map { i, text in
                guard let v = Double(text), v.isFinite else {
                    throw MorphoError.table(file: url.path, line: table.lineNumber(ofRow: i), column: name, problem: "'\(text)' is not a finite number")
                }
                return v
            }
        }
        let wells = try table.column("Metadata_Well"), sites = try numbers("Metadata_Site")
        let labels = try numbers("Nuclei_Number_Object_Number")
        let xs = try numbers("Nuclei_Location_Center_X"), ys = try numbers("Nuclei_Location_Center_Y")
        let areas = try numbers("Nuclei_AreaShape_Area"), intensities = try numbers("Nuclei_Intensity_MeanIntensity_DNA")
        let x0 = try numbers("Nuclei_AreaShape_BoundingBoxMinimum_X"), y0 = try numbers("Nuclei_AreaShape_BoundingBoxMinimum_Y")
        let x1 = try numbers("Nuclei_AreaShape_BoundingBoxMaximum_X"), y1 = try numbers("Nuclei_AreaShape_BoundingBoxMaximum_Y")
        var out = [FieldNuclei]()
        for i in wells.indices {
            let n = Nucleus(label: Int32(labels[i]), centerX: xs[i], centerY: ys[i], area: Int(areas[i]),
                            minX: Int(x0[i]), minY: Int(y0[i]), maxX: Int(x1[i]), maxY: Int(y1[i]), meanIntensity: intensities[i])
            if let last = out.last, last.well == wells[i], last.site == Int(sites[i]) {
                out[out.count - 1].nuclei.append(n)
            } else {
                out.append(FieldNuclei(well: wells[i], site: Int(sites[i]), nuclei: [n]))
            }
        }
        return out
    }
}

/// Coordinates and intensities with 3 decimals (enough for sub-pixel centres), no trailing zeros.
func formatCoordinate(_ v: Double) -> String {
    formatNumber((v * 1000).rounded() / 1000)
}
