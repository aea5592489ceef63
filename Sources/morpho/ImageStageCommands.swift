import ArgumentParser
import Cropping
import Foundation
import Illumination
import MorphoCore
import MorphoIO
import Segmentation

/// The experiment an image stage runs on: a BBBC021-style image.csv (+ moa.csv) or a LoadData CSV.
struct ExperimentOptions: ParsableArguments {
    @Option(help: "BBBC021_v1_image.csv(.gz) or a file in its format (a synthetic screen's image.csv).") var bbbc021: String?
    @Option(help: "BBBC021_v1_moa.csv or a file in its format.") var moa: String?
    @Option(help: "A CellProfiler LoadData CSV.") var loaddata: String?
    @Option(help: "With --loaddata: a plate map whose Metadata_* columns are joined on Metadata_Plate + Metadata_Well (or on the well alone).") var metadata: String?
    @Option(help: "Folder the image paths are relative to.") var images: String?
    @Option(help: "Comma-separated plates to process (default all).") var plates: String?

    /// Reads the layout with its report of warnings, keeping only `--plates` when given.
    func read(checkFiles: Bool = true, annotatedOnly: Bool = false) throws -> (Experiment, LayoutReport) {
        let root = images.map { URL(fileURLWithPath: $0) }
        var (experiment, report): (Experiment, LayoutReport)
        if let bbbc021 {
            guard let moa else { throw MorphoError.config(key: "moa", problem: "--bbbc021 needs --moa") }
            (experiment, report) = try BBBC021Layout.read(
                imageCSV: URL(fileURLWithPath: bbbc021), moaCSV: URL(fileURLWithPath: moa),
                options: .init(imageRoot: root, checkFiles: checkFiles, annotatedOnly: annotatedOnly))
        } else if let loaddata {
            let annotations = try moa.map { try MoAAnnotations.read(URL(fileURLWithPath: $0)) }
            (experiment, report) = try LoadDataLayout.read(URL(fileURLWithPath: loaddata),
                                                           options: .init(imageRoot: root, checkFiles: checkFiles, annotations: annotations,
                                                                          metadata: metadata.map { URL(fileURLWithPath: $0) }))
        } else {
            throw MorphoError.config(key: "bbbc021", problem: "give --bbbc021 (with --moa) or --loaddata")
        }
        if let plates {
            let wanted = plates.split(separator: ",").map(String.init)
            for p in wanted where !experiment.plates.contains(where: { $0.name == p }) {
                throw MorphoError.config(key: "plates", problem: "plate '\(p)' is not in the experiment")
            }
            experiment.plates = experiment.plates.filter { wanted.contains($0.name) }
        }
        return (experiment, report)
    }

    /// The experiment, every image file checked.
    func load() throws -> Experiment { try read().0 }
}

/// Parses a named choice of a config enum; the error names the config key and lists the choices.
func choice<E: RawRepresentable & CaseIterable>(_ text: String, key: String, what: String) throws -> E where E.RawValue == String {
    guard let value = E(rawValue: text) else {
        throw MorphoError.config(key: key, problem: "unknown \(what) '\(text)' (\(E.allCases.map(\.rawValue).joined(separator: ", ")))")
    }
    return value
}

/// `morpho illum`: illumination functions per plate and channel.
struct IllumCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "illum",
        abstract: "Compute illumination-correction functions per plate and channel (Singh et al. 2014).",
        discussion: """
        Writes <out>/<plate>.h5 (/functions/<channel>) and <out>/<plate>_<channel>.tif. A rerun skips plates
        whose inputs and settings are unchanged.
        Example:
          morpho illum --bbbc021 screen/image.csv --moa screen/moa.csv --images screen/images --out run/illum
        """
    )
    @OptionGroup var experiment: ExperimentOptions
    @Option(help: "Output folder.") var out: String
    @Option(help: "Average fields shrunk by this factor.") var downscale = IlluminationConfig().downscale
    @Option(name: [.customLong("median-filter-size"), .customLong("median-size")],
            help: "Median filter size in full-resolution pixels.") var medianSize = IlluminationConfig().medianFilterSize
    @Option(name: [.customLong("robust-minimum-percentile"), .customLong("robust-percentile")],
            help: "Percentile of the smoothed mean used as the robust minimum.") var robustPercentile = IlluminationConfig().robustMinimumPercentile
    @Option(help: "Comma-separated channels (default all).") var channels: String?
    @Flag(help: "No progress on stderr.") var quiet = false

    func run() throws {
        try Morpho.reportingErrors {
            var config = IlluminationConfig()
            config.downscale = downscale; config.medianFilterSize = medianSize; config.robustMinimumPercentile = robustPercentile
            config.channels = channels.map { $0.split(separator: ",").map(String.init) }
            let results = try IlluminationStage(config: config, output: URL(fileURLWithPath: out)).run(try experiment.load(), progress: !quiet)
            for r in results {
                say("\(r.plate): \(r.reused ? "up to date" : "computed from \(r.fields) fields in \(String(format: "%.1f", r.seconds)) s")")
            }
        }
    }
}

/// Segmentation options shared by `morpho segment` and the benchmark.
struct SegmentationOptions: ParsableArguments {
    @Option(name: [.customLong("dna-channel"), .customLong("dna")],
            help: "DNA channel name (default: the channel named DNA, OrigDNA, Hoechst, DAPI or Nuclei).") var dna: String?
    @Option(help: "Typical nucleus diameter in pixels (default: estimated per plate, or per field with --diameter-scope field).") var diameter: Double?
    @Option(help: "An estimated diameter holds per plate (from 8 sampled fields) or per field.") var diameterScope = "plate"
    @Option(help: "Gaussian sigma before thresholding, pixels (default: diameter / 24, at least 0.5).") var sigma: Double?
    @Option(help: "otsu, otsu3-foreground or otsu3-background.") var threshold = SegmentationConfig().threshold.rawValue
    @Option(help: "adaptive (default) or global.") var thresholdScope = SegmentationConfig().thresholdScope.rawValue
    @Option(help: "Multiply the automatic threshold by this.") var thresholdScale = SegmentationConfig().thresholdScale
    @Flag(help: "Threshold log intensities.") var logTransform = false
    @Option(help: "Adaptive threshold block size, pixels (default: 1.75 x diameter).") var adaptiveWindow: Int?
    @Option(help: "Smallest nucleus diameter kept, pixels (default: diameter / 3).") var minDiameter: Double?
    @Option(help: "Largest nucleus diameter kept, pixels (default: 3 x diameter).") var maxDiameter: Double?
    @Option(help: "Declumping seeds: none, intensity, shape or hybrid.") var declump = SegmentationConfig().declump.rawValue
    @Option(help: "Dividing lines: intensity, shape or propagate.") var dividingLines = SegmentationConfig().dividingLines.rawValue
    @Option(help: "Smallest seed dynamic, pixels (default: diameter / 80).") var seedDynamic: Double?
    @Option(help: "Per-object threshold fraction (0...1) that trims halos.") var refine = SegmentationConfig().refineFraction ?? 0
    @Flag(help: "Drop nuclei touching the image border.") var removeBorder = false
    @Flag(help: "Keep the nuclei of fields flagged by QC (empty, saturated, out of focus).") var keepFlagged = false

    func config() throws -> SegmentationConfig {
        var c = SegmentationConfig()
        c.dnaChannel = dna
        c.diameter = diameter
        c.diameterScope = try choice(diameterScope, key: "segmentation.diameterScope", what: "scope")
        c.smoothingSigma = sigma
        c.threshold = try choice(threshold, key: "segmentation.threshold", what: "method")
        c.thresholdScope = try choice(thresholdScope, key: "segmentation.thresholdScope", what: "scope")
        c.declump = try choice(declump, key: "segmentation.declump", what: "method")
        c.dividingLines = try choice(dividingLines, key: "segmentation.dividingLines", what: "method")
        c.thresholdScale = thresholdScale; c.logTransform = logTransform
        c.minDiameter = minDiameter; c.maxDiameter = maxDiameter; c.seedDynamic = seedDynamic
        c.refineFraction = refine; c.removeBorderObjects = removeBorder; c.adaptiveWindow = adaptiveWindow
        if keepFlagged { c.dropFlagged = [] }
        try c.validate()
        return c
    }
}

/// `morpho segment`: nuclei of every field of an experiment, or of single image files.
struct SegmentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segment",
        abstract: "Segment nuclei on the DNA channel (Otsu threshold, hole filling, declumping by watershed).",
        discussion: """
        With an experiment, writes <out>/<plate>.csv (one row per nucleus, DeepProfiler's
        Nuclei_Location_Center_X/Y), <out>/<plate>_fields.csv (count, threshold, QC flag per field) and, with
        --save-labels, <out>/labels/<plate>/<well>_s<site>.tif. With --image, segments single files.
        Examples:
          morpho segment --bbbc021 screen/image.csv --moa screen/moa.csv --images screen/images --illum run/illum --out run/locations
          morpho segment --image nuclei.tif --min-diameter 10 --max-diameter 60 --out nuclei
        """
    )
    @OptionGroup var experiment: ExperimentOptions
    @OptionGroup var segmentation: SegmentationOptions
    @Option(help: "Segment these TIFF files instead of an experiment (repeatable).") var image: [String] = []
    @Option(help: "With --image: the plane (page x sample, from 0) of a multi-page or multi-channel TIFF.") var plane: Int?
    @Option(help: "Folder of illumination functions from `morpho illum`.") var illum: String?
    @Option(help: "Output folder.") var out: String
    @Flag(help: "Also write label images.") var saveLabels = false
    @Flag(help: "No progress on stderr.") var quiet = false

    func run() throws {
        try Morpho.reportingErrors {
            let config = try segmentation.config()
            let output = URL(fileURLWithPath: out)
            if !image.isEmpty {
                let segmenter = try NucleusSegmenter(config)
                for path in image {
                    let url = URL(fileURLWithPath: path)
                    let result = try segmenter.segment(try Self.readPlane(url, plane: plane), context: path)
                    let name = url.deletingPathExtension().lastPathComponent
                    try CSV.writeData(CSV.render(header: Array(LocationColumns.header.dropFirst(3)), rowCount: result.nuclei.count) { i, row in
                        row = LocationColumns.values(result.nuclei[i])
                    }, to: output.appendingPathComponent("\(name).csv"))
                    if saveLabels { try TIFF.write(result.labels.image, to: output.appendingPathComponent("\(name)_labels.tif")) }
                    let d = result.settings.map { String(format: ", nucleus diameter %.1f px%@", $0.diameter, config.configuredDiameter == nil ? " (estimated)" : "") } ?? ""
                    let flags = String(format: ", contrast %.1f noise units (%.1fx the background)", result.qc.contrast, result.qc.relativeContrast)
                        + (result.qc.flags.isEmpty ? "" : ", QC: " + result.qc.flags.map(\.rawValue).joined(separator: ", "))
                    say("\(path): \(result.nuclei.count) nuclei\(d), threshold \(result.threshold.map { String(format: "%.4g", $0) } ?? "none")\(result.flag.map { " (\($0))" } ?? "")\(flags)")
                }
                return
            }
            let stage = try SegmentationStage(config: config, output: output, illumination: illum.map { URL(fileURLWithPath: $0) },
                                              saveLabels: saveLabels)
            for r in try stage.run(try experiment.load(), progress: !quiet) {
                say("\(r.plate): \(r.nuclei) nuclei in \(r.fields) fields\(r.emptyFields > 0 ? ", \(r.emptyFields) field(s) without nuclei" : "")\(r.droppedSummary.map { ", \($0)" } ?? "")\(r.reused ? " (up to date)" : "")")
            }
        }
    }
}

extension SegmentCommand {
    /// One grey plane of a file: the only one, or plane `plane` (pages x samples, from 0) of a
    /// multi-page or multi-channel TIFF; an error lists how many there are when it is ambiguous.
    static func readPlane(_ url: URL, plane: Int?) throws -> Image {
        guard !ImageFile.decodesWithOpenCV(url) else { return try ImageFile.readImage(url) }
        let planes = try TIFF.read(url)
        if let plane {
            guard planes.indices.contains(plane) else {
                throw MorphoError.data(context: url.path, problem: "--plane \(plane) is out of range: the file has \(planes.count) plane(s) (0...\(planes.count - 1))")
            }
            return planes[plane]
        }
        guard planes.count == 1 else {
            throw MorphoError.data(context: url.path, problem: "the file has \(planes.count) planes (pages x channels); choose the DNA one with --plane 0...\(planes.count - 1)")
        }
        return planes[0]
    }
}

/// `morpho crop`: fixed-size single-cell crops into HDF5.
struct CropCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crop",
        abstract: "Cut fixed-size single-cell crops around each nucleus into <out>/<plate>.h5.",
        discussion: """
        Example:
          morpho crop --bbbc021 screen/image.csv --moa screen/moa.csv --images screen/images --locations run/locations --illum run/illum --out run/crops
        """
    )
    @OptionGroup var experiment: ExperimentOptions
    @Option(help: "Folder of locations from `morpho segment`.") var locations: String
    @Option(help: "Folder of illumination functions from `morpho illum`.") var illum: String?
    @Option(help: "Output folder.") var out: String
    @Option(name: [.customLong("box-size"), .customLong("box")], help: "Box side in pixels.") var box = CropConfig().boxSize
    @Option(help: "Cells whose box leaves the image: skip or pad.") var edge = CropConfig().edge.rawValue
    @Option(help: "crop-max, min-max, plate-controls or none.") var normalization = CropConfig().normalization.rawValue
    @Flag(help: "Zero the pixels of other nuclei (needs segment --save-labels).") var maskOthers = false
    @Option(help: "Comma-separated channels (default all).") var channels: String?
    @Flag(help: "No progress on stderr.") var quiet = false

    func run() throws {
        try Morpho.reportingErrors {
            var config = CropConfig()
            config.boxSize = box
            config.edge = try choice(edge, key: "crop.edge", what: "policy")
            config.normalization = try choice(normalization, key: "crop.normalization", what: "normalization")
            config.maskOtherNuclei = maskOthers
            config.channels = channels.map { $0.split(separator: ",").map(String.init) }
            let stage = try CropStage(config: config, locations: URL(fileURLWithPath: locations), illumination: illum.map { URL(fileURLWithPath: $0) })
            for r in try stage.run(try experiment.load(), output: URL(fileURLWithPath: out), progress: !quiet) {
                say("\(r.plate): \(r.crops) crops\(r.skipped > 0 ? ", \(r.skipped) cell(s) at the edge skipped" : "")\(r.reused ? " (up to date)" : "")")
            }
        }
    }
}
