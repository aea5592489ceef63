import Foundation
import MorphoCore

/// BBBC021's own metadata (Caie et al. 2010; Ljosa et al. 2012) as published: `BBBC021_v1_image.csv`
/// (one row per field: DAPI/Tubulin/Actin file and path names, plate, well, replicate, compound,
/// concentration) and `BBBC021_v1_moa.csv`. The batch is the plate name's `WeekN` prefix; the site
/// is the `_sN_` part of the file name.
public enum BBBC021Layout {
    public static let channels = ["DAPI", "Tubulin", "Actin"]
    public static let control = "DMSO"

    public struct Options: Sendable {
        /// Folder holding the `WeekN/WeekN_PPPPP/` image folders; nil leaves paths relative.
        public var imageRoot: URL?
        /// Check that every image file exists (needs `imageRoot`).
        public var checkFiles = false
        /// Keep only wells whose treatment is annotated with a MoA (the 103 treatments + DMSO).
        public var annotatedOnly = false
        /// Keep only these plates (all when nil).
        public var plates: Set<String>?
        /// Leave out plate controls: wells whose treatment sits at the same position on more than
        /// `maxReplicates` plates of the whole table (BBBC021's taxol 0.3 uM positive controls at B11, C11, D11,
        /// E02, F02, G02 of every plate; Ljosa et al. 2013's 103-treatment set keeps only its 3 treatment wells).
        public var excludePlateControls = false
        public static let maxReplicates = 3

        public init(imageRoot: URL? = nil, checkFiles: Bool = false, annotatedOnly: Bool = false, plates: Set<String>? = nil,
                    excludePlateControls: Bool = false) {
            self.imageRoot = imageRoot
            self.checkFiles = checkFiles
            self.annotatedOnly = annotatedOnly
            self.plates = plates
            self.excludePlateControls = excludePlateControls
        }
    }

    /// Reads the layout; structural problems throw (all listed), treatments without MoA come back as
    /// warnings in the report.
    public static func read(imageCSV: URL, moaCSV: URL, options: Options = Options()) throws -> (Experiment, LayoutReport) {
        let csv = try CSV.read(imageCSV)
        let annotations = try MoAAnnotations.read(moaCSV)
        let name = imageCSV.lastPathComponent
        let plates = try csv.column("Image_Metadata_Plate_DAPI"), wells = try csv.column("Image_Metadata_Well_DAPI")
        let compounds = try csv.column("Image_Metadata_Compound"), concs = try csv.column("Image_Metadata_Concentration")
        let replicates = try csv.column("Replicate")
        var fileNames = [[String]](), pathNames = [[String]]()
        for ch in channels {
            fileNames.append(try csv.column("Image_FileName_\(ch)"))
            pathNames.append(try csv.column("Image_PathName_\(ch)"))
        }
        var report = LayoutReport()
        var rows = [LayoutRow]()
        var unannotated = [String: Int]()
        // Plates on which each (compound, concentration, well position) occurs, over the whole table.
        var platesAt = [String: Set<String>]()
        if options.excludePlateControls {
            for r in 0..<csv.rowCount where compounds[r] != control { platesAt["\(compounds[r])|\(concs[r])|\(wells[r])", default: []].insert(plates[r]) }
        }
        var plateControls = Set<String>()
        for r in 0..<csv.rowCount {
            let origin = "\(name):\(csv.lineNumber(ofRow: r))"
            if let keep = options.plates, !keep.contains(plates[r]) { continue }
            let position = "\(compounds[r])|\(concs[r])|\(wells[r])"
            if let n = platesAt[position]?.count, n > Options.maxReplicates { plateControls.insert(position); continue }
            guard let conc = Double(concs[r]) else {
                report.errors.append("\(origin): concentration '\(concs[r])' is not a number"); continue
            }
            guard let site = siteNumber(fileNames[0][r]) else {
                report.errors.append("\(origin): cannot find the site (_sN_) in file name '\(fileNames[0][r])'"); continue
            }
            let moa = annotations.moa(compound: compounds[r], concentration: conc)
            let treatment = Treatment(compound: compounds[r], concentration: conc, moa: moa)
            if moa == nil {
                unannotated[treatment.key, default: 0] += 1
                if options.annotatedOnly { continue }
            }
            var files = [String: URL]()
            for (k, ch) in channels.enumerated() {
                let relative = pathNames[k][r] + "/" + fileNames[k][r]
                files[ch] = options.imageRoot.map { $0.appendingPathComponent(relative) } ?? URL(fileURLWithPath: relative)
            }
            rows.append(LayoutRow(plate: plates[r], well: wells[r], site: site, files: files, treatment: treatment,
                                  replicate: Int(replicates[r]), batch: nil, origin: origin))
        }
        if !plateControls.isEmpty {
            let list = Set(plateControls.map { $0.split(separator: "|").prefix(2).joined(separator: " @ ") }).sorted()
            report.warnings.append("left out plate-control wells (same treatment and position on more than \(Options.maxReplicates) plates): \(list.joined(separator: ", "))")
        }
        if !unannotated.isEmpty {
            let list = unannotated.keys.sorted(by: naturalLess)
            report.warnings.append("\(list.count) treatment(s) have no MoA annotation in \(moaCSV.lastPathComponent)\(options.annotatedOnly ? " and were left out" : ""): \(list.joined(separator: ", "))")
        }
        let experiment = ExperimentAssembler.assemble(rows, channels: channels, controlCompound: control,
                                                      checkFiles: options.checkFiles && options.imageRoot != nil, report: &report)
        try report.throwIfErrors()
        return (experiment, report)
    }

    /// The site number in a BBBC021 file name: "G10_s3_w1....tif" -> 3.
    public static func siteNumber(_ fileName: String) -> Int? {
        guard let range = fileName.range(of: "_s") else { return nil }
        let digits = fileName[range.upperBound...].prefix { $0.isNumber }
        return Int(digits)
    }
}

/// A CellProfiler LoadData CSV as CellProfiler reads it: per channel `FileName_<Channel>` and
/// `PathName_<Channel>`, or `URL_<Channel>` (a path or a file:// URL), each with or without the
/// `Image_` prefix (JUMP's load_data.csv has none); `Metadata_Plate`, `Metadata_Well`, `Metadata_Site`
/// (or `Metadata_Field`), and optionally `Metadata_Compound`, `Metadata_Concentration`, `Metadata_MoA`,
/// `Metadata_Batch` (else JUMP's `Metadata_Source`), `Metadata_Replicate`. `Frame_<Channel>` selects a
/// page (0-based) of a multi-page TIFF; `Series_<Channel>` other than 0 (another series of a
/// multi-series file) is refused. Treatment columns may also come from a plate map (`Options.metadata`).
public enum LoadDataLayout {
    public struct Options: Sendable {
        /// Relative `Image_PathName_*` values are resolved against this folder (default: the CSV's folder).
        public var imageRoot: URL?
        /// Channels the pipeline expects; others in the file are reported as unknown. Nil: take all.
        public var channels: [String]?
        public var checkFiles = true
        /// The negative-control compound, checked for on every plate.
        public var controlCompound: String? = "DMSO"
        /// MoA annotations to join where the CSV has no `Metadata_MoA` column.
        public var annotations: MoAAnnotations?
        /// A per-well metadata table (a plate map) whose `Metadata_*` columns are joined on plate + well,
        /// or on well alone when it has no `Metadata_Plate` column (one map for every plate).
        public var metadata: URL?

        public init(imageRoot: URL? = nil, channels: [String]? = nil, checkFiles: Bool = true,
                    controlCompound: String? = "DMSO", annotations: MoAAnnotations? = nil, metadata: URL? = nil) {
            self.imageRoot = imageRoot
            self.channels = channels
            self.checkFiles = checkFiles
            self.controlCompound = controlCompound
            self.annotations = annotations
            self.metadata = metadata
        }
    }

    /// The `Metadata_*` columns of a plate map, one value per row of `csv` (the LoadData table), joined
    /// on plate + well (wells compared as wells: A1 = A01) or on well alone. The well column may be
    /// `Metadata_Well` or JUMP's `well_position`. Every LoadData well must have exactly one row; a value
    /// that contradicts the LoadData CSV's own column is an error naming both files and lines.
    static func joinMetadata(_ url: URL, onto csv: CSVTable, plates: [String], wells: [String], report: inout LayoutReport) throws -> [String: [String]] {
        let meta = try CSV.read(url)
        let name = url.lastPathComponent, loadName = (csv.source as NSString).lastPathComponent
        guard let wellColumn = ["Metadata_Well", "Metadata_well_position", "well_position"].first(where: meta.hasColumn) else {
            throw MorphoError.table(file: url.path, line: 1, column: "Metadata_Well", problem: "a plate map needs a Metadata_Well (or well_position) column")
        }
        let byPlate = meta.hasColumn("Metadata_Plate")
        func well(_ text: String) -> String { WellID(text).map(String.init(describing:)) ?? text }
        let metaWells = try meta.column(wellColumn), metaPlates = byPlate ? try meta.column("Metadata_Plate") : nil
        var index = [String: Int]()
        for r in 0..<meta.rowCount {
            let key = (metaPlates.map { $0[r] + "\t" } ?? "") + well(metaWells[r])
            if let first = index[key] {
                report.errors.append("\(name):\(meta.lineNumber(ofRow: r)): \(byPlate ? "plate \(metaPlates![r]) " : "")well \(metaWells[r]) is also on line \(meta.lineNumber(ofRow: first))")
            } else {
                index[key] = r
            }
        }
        let columns = meta.header.filter { $0.hasPrefix("Metadata_") && $0 != "Metadata_Plate" && $0 != wellColumn }
        var joined = [String: [String]]()
        var missing = [String]()
        for c in columns {
            let values = try meta.column(c), own = csv.hasColumn(c) ? try csv.column(c) : nil
            joined[c] = (0..<csv.rowCount).map { r in
                guard let m = index[(byPlate ? plates[r] + "\t" : "") + well(wells[r])] else { return own?[r] ?? "" }
                if let own, !own[r].isEmpty, !values[m].isEmpty, own[r] != values[m] {
                    report.errors.append("\(loadName):\(csv.lineNumber(ofRow: r)): \(c) is '\(own[r])' but \(name):\(meta.lineNumber(ofRow: m)) says '\(values[m])'")
                }
                return own.map { $0[r].isEmpty ? values[m] : $0[r] } ?? values[m]
            }
        }
        for r in 0..<csv.rowCount where index[(byPlate ? plates[r] + "\t" : "") + well(wells[r])] == nil {
            let what = (byPlate ? "plate \(plates[r]) " : "") + "well \(wells[r])"
            if !missing.contains(what) { missing.append(what) }
        }
        if !missing.isEmpty {
            report.errors.append("\(name): no row for \(missing.count) well(s) of \(loadName) (first: \(missing.prefix(5).joined(separator: ", ")))")
        }
        return joined
    }

    public static func read(_ url: URL, options: Options = Options()) throws -> (Experiment, LayoutReport) {
        let csv = try CSV.read(url)
        let name = url.lastPathComponent
        var report = LayoutReport()
        // Channel columns with or without CellProfiler's "Image_" prefix.
        func column(_ kind: String, _ channel: String) -> String? {
            ["Image_\(kind)_\(channel)", "\(kind)_\(channel)"].first(where: csv.hasColumn)
        }
        var found = [String]()
        for h in csv.header {
            let bare = h.hasPrefix("Image_") ? String(h.dropFirst(6)) : h
            for kind in ["FileName_", "URL_"] where bare.hasPrefix(kind) {
                let ch = String(bare.dropFirst(kind.count))
                if !ch.isEmpty && !found.contains(ch) { found.append(ch) }
            }
        }
        guard !found.isEmpty else {
            throw MorphoError.table(file: url.path, line: 1, column: nil,
                                    problem: "no FileName_<Channel> or URL_<Channel> columns (with or without the Image_ prefix): not a LoadData CSV")
        }
        let channels = options.channels ?? found
        for ch in found where !channels.contains(ch) {
            report.errors.append("\(name): unknown channel '\(ch)' (expected \(channels.joined(separator: ", ")))")
        }
        for ch in channels where !found.contains(ch) {
            report.errors.append("\(name): channel '\(ch)' has no FileName_\(ch) or URL_\(ch) column")
        }
        for ch in found where column("FileName", ch) != nil && column("PathName", ch) == nil {
            report.errors.append("\(name): channel '\(ch)' has no PathName_\(ch) column")
        }
        for ch in found {
            // Series (of a multi-series file, e.g. OME-TIFF) other than the first are not read.
            guard let c = column("Series", ch) else { continue }
            if let r = try csv.column(c).firstIndex(where: { !$0.isEmpty && $0 != "0" }) {
                report.errors.append("\(name):\(csv.lineNumber(ofRow: r)): column \(c) selects series \(try csv.column(c)[r]) of a multi-series file; Morpho reads the first series only (export each series to its own file)")
            }
        }
        for required in ["Metadata_Plate", "Metadata_Well"] where !csv.hasColumn(required) {
            report.errors.append("\(name): required column \(required) is missing")
        }
        try report.throwIfErrors()

        let root = options.imageRoot ?? url.deletingLastPathComponent()
        let plates = try csv.column("Metadata_Plate"), wells = try csv.column("Metadata_Well")
        let sites = ["Metadata_Site", "Metadata_Field", "Metadata_FieldID"].first(where: csv.hasColumn).map { try! csv.column($0) }
        let joined = try options.metadata.map { try joinMetadata($0, onto: csv, plates: plates, wells: wells, report: &report) } ?? [:]
        try report.throwIfErrors()
        func optional(_ c: String) -> [String]? { joined[c] ?? (csv.hasColumn(c) ? try! csv.column(c) : nil) }
        let compounds = optional("Metadata_Compound"), concs = optional("Metadata_Concentration")
        let moas = optional("Metadata_MoA"), replicates = optional("Metadata_Replicate")
        let batches = optional("Metadata_Batch") ?? optional("Metadata_Source")
        // Per channel: (file names, folders) or URLs.
        let fileColumns = try channels.map { ch in try column("FileName", ch).map { try csv.column($0) } }
        let pathColumns = try channels.map { ch in try column("PathName", ch).map { try csv.column($0) } }
        let urlColumns = try channels.map { ch in try column("URL", ch).map { try csv.column($0) } }
        // CellProfiler's Frame_<Channel>: the page (0-based) of a multi-page file.
        let frameColumns = try channels.map { ch in try column("Frame", ch).map { try csv.column($0) } }

        var rows = [LayoutRow]()
        var unannotated = Set<String>()
        for r in 0..<csv.rowCount {
            let origin = "\(name):\(csv.lineNumber(ofRow: r))"
            var site = 1
            if let sites {
                guard let s = Int(sites[r]) else { report.errors.append("\(origin): site '\(sites[r])' is not a whole number"); continue }
                site = s
            }
            var treatment: Treatment?
            if let compounds {
                let concText = concs?[r] ?? "0"
                guard let conc = Double(concText.isEmpty ? "0" : concText) else {
                    report.errors.append("\(origin): concentration '\(concText)' is not a number"); continue
                }
                var moa = moas?[r]
                if moa?.isEmpty ?? true { moa = options.annotations?.moa(compound: compounds[r], concentration: conc) }
                treatment = Treatment(compound: compounds[r], concentration: conc, moa: moa)
                if moa == nil, moas != nil || options.annotations != nil { unannotated.insert(treatment!.key) }
            }
            var files = [String: URL]()
            for k in channels.indices {
                if let names = fileColumns[k], let dirs = pathColumns[k] {
                    let dir = dirs[r]
                    let base = dir.hasPrefix("/") ? URL(fileURLWithPath: dir) : root.appendingPathComponent(dir)
                    files[channels[k]] = base.appendingPathComponent(names[r])
                } else if let urls = urlColumns[k] {
                    let text = urls[r]
                    if text.hasPrefix("file://"), let u = URL(string: text), u.isFileURL {
                        files[channels[k]] = u
                    } else if text.contains("://") {
                        report.errors.append("\(origin): URL_\(channels[k]) '\(text)' is not a local file (download the images and give file paths)")
                    } else {
                        files[channels[k]] = text.hasPrefix("/") ? URL(fileURLWithPath: text) : root.appendingPathComponent(text)
                    }
                }
            }
            var planes = [String: Int]()
            for k in channels.indices {
                guard let text = frameColumns[k]?[r], !text.isEmpty else { continue }
                guard let frame = Int(text), frame >= 0 else {
                    report.errors.append("\(origin): Frame_\(channels[k]) '\(text)' is not a page number (0, 1, ...)"); continue
                }
                planes[channels[k]] = frame
            }
            if files.count < channels.count { continue }
            var row = LayoutRow(plate: plates[r], well: wells[r], site: site, files: files, treatment: treatment,
                                replicate: replicates.flatMap { Int($0[r]) }, batch: batches?[r], origin: origin)
            row.planes = planes
            rows.append(row)
        }
        if !unannotated.isEmpty {
            report.warnings.append("\(unannotated.count) treatment(s) have no MoA annotation: \(unannotated.sorted(by: naturalLess).joined(separator: ", "))")
        }
        let experiment = ExperimentAssembler.assemble(rows, channels: channels, controlCompound: compounds == nil ? nil : options.controlCompound,
                                                      checkFiles: options.checkFiles, report: &report)
        try report.throwIfErrors()
        return (experiment, report)
    }
}

extension BBBC021Layout {
    /// Loads per-well profiles (e.g. Ljosa et al. 2013's `ljosa2013_per_well_mean.csv.gz`, whose
    /// metadata columns are `Image_Metadata_Plate` / `Image_Metadata_Well`) and joins each well with its
    /// BBBC021 annotations, giving pycytominer metadata columns `Metadata_Plate`, `Metadata_Well`,
    /// `Metadata_Batch`, `Metadata_Compound`, `Metadata_Concentration`, `Metadata_MoA` (empty when the
    /// treatment is not annotated) and `Metadata_Replicate`. A well missing from the layout, or given
    /// twice, is an error (all such wells are listed).
    public static func readProfiles(_ profilesCSV: URL, experiment: Experiment) throws -> FeatureTable {
        var table = try FeatureTableCSV.read(profilesCSV, rename: [
            "Image_Metadata_Plate": "Metadata_Plate", "Image_Metadata_Well": "Metadata_Well",
        ])
        guard let plates = table.metadataColumn("Metadata_Plate")?.texts,
              let wells = table.metadataColumn("Metadata_Well")?.texts else {
            throw MorphoError.table(file: profilesCSV.path, line: 1, column: "Metadata_Plate",
                                    problem: "profiles need plate and well columns (Metadata_Plate/Metadata_Well or Image_Metadata_Plate/Image_Metadata_Well)")
        }
        var lookup = [String: (Plate, Well)]()
        for p in experiment.plates { for w in p.wells { lookup["\(p.name)/\(w.id)"] = (p, w) } }
        var batch = [String](), compound = [String](), conc = [Double](), moa = [String](), replicate = [Double]()
        var problems = [String]()
        var firstRow = [String: Int]()
        for r in 0..<table.rowCount {
            if let id = WellID(wells[r]) {
                if let first = firstRow["\(plates[r])/\(id)"] {
                    problems.append("\(profilesCSV.lastPathComponent):\(r + 2): plate \(plates[r]) well \(id) appears again (first at line \(first + 2))")
                } else {
                    firstRow["\(plates[r])/\(id)"] = r
                }
            }
            guard let id = WellID(wells[r]), let (plate, well) = lookup["\(plates[r])/\(id)"] else {
                problems.append("\(profilesCSV.lastPathComponent):\(r + 2): plate \(plates[r]) well \(wells[r]) is not in the layout")
                continue
            }
            batch.append(plate.batch)
            compound.append(well.treatment?.compound ?? "")
            conc.append(well.treatment?.concentration ?? .nan)
            moa.append(well.treatment?.moa ?? "")
            replicate.append(well.replicate.map(Double.init) ?? .nan)
        }
        if !problems.isEmpty { throw MorphoError.layout(problems: problems) }
        try table.setMetadata("Metadata_Batch", .strings(batch))
        try table.setMetadata("Metadata_Compound", .strings(compound))
        try table.setMetadata("Metadata_Concentration", .numbers(conc))
        try table.setMetadata("Metadata_MoA", .strings(moa))
        try table.setMetadata("Metadata_Replicate", .numbers(replicate))
        return table
    }
}
