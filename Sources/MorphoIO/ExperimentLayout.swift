import Foundation
import MorphoCore

/// Everything found wrong with a layout: `errors` make it unusable, `warnings` are worth knowing
/// (treatments without a MoA annotation, for instance). Readers collect all problems, not the first.
public struct LayoutReport: Sendable {
    public var errors: [String] = []
    public var warnings: [String] = []

    public init() {}

    /// Throws `MorphoError.layout` listing every error, if any.
    public func throwIfErrors() throws {
        if !errors.isEmpty { throw MorphoError.layout(problems: errors) }
    }

    /// Errors and warnings, one per line.
    public var text: String {
        (errors.map { "error: \($0)" } + warnings.map { "warning: \($0)" }).joined(separator: "\n")
    }
}

/// One row of an image table: one site of one well with its channel files.
public struct LayoutRow: Sendable {
    public var plate: String
    public var well: String
    public var site: Int
    public var files: [String: URL]
    /// Planes of multi-plane files, by channel (see `Site.planes`).
    public var planes: [String: Int] = [:]
    public var treatment: Treatment?
    public var replicate: Int?
    public var batch: String?
    /// Where the row came from ("image.csv:17"), for messages.
    public var origin: String

    public init(plate: String, well: String, site: Int, files: [String: URL], treatment: Treatment?,
                replicate: Int?, batch: String?, origin: String) {
        self.plate = plate
        self.well = well
        self.site = site
        self.files = files
        self.treatment = treatment
        self.replicate = replicate
        self.batch = batch
        self.origin = origin
    }
}

/// Groups rows into plates -> wells -> sites and checks them: bad well names, duplicate sites, wells
/// whose sites disagree on the treatment, missing channel files on disk (when `checkFiles`).
public enum ExperimentAssembler {
    /// The batch of a plate when the table gives none: BBBC021's `WeekN` prefix ("Week4_27481" ->
    /// "Week4"), else the plate itself (each plate its own batch, the cautious choice for NSCB).
    public static func defaultBatch(ofPlate plate: String) -> String {
        if plate.hasPrefix("Week"), let underscore = plate.firstIndex(of: "_") {
            let digits = plate[plate.index(plate.startIndex, offsetBy: 4)..<underscore]
            if !digits.isEmpty && digits.allSatisfy(\.isNumber) { return String(plate[..<underscore]) }
        }
        return plate
    }

    public static func assemble(_ rows: [LayoutRow], channels: [String], controlCompound: String?,
                                checkFiles: Bool, report: inout LayoutReport) -> Experiment {
        struct WellKey: Hashable { var plate: String; var well: WellID }
        var wells = [WellKey: Well]()
        var wellOrigins = [WellKey: String]()
        var batches = [String: String]()
        var seenSites = [String: String]()
        var missing = [String: [String]]()  // per plate
        var filesPerPlate = [String: Int]()

        for row in rows {
            guard let id = WellID(row.well) else {
                report.errors.append("\(row.origin): well '\(row.well)' on plate \(row.plate) is not a well name like A01")
                continue
            }
            let siteKey = "\(row.plate)/\(id)/\(row.site)"
            if let first = seenSites[siteKey] {
                report.errors.append("\(row.origin): duplicate row for plate \(row.plate) well \(id) site \(row.site) (first at \(first))")
                continue
            }
            seenSites[siteKey] = row.origin
            if checkFiles {
                for channel in channels {
                    guard let url = row.files[channel] else { continue }
                    filesPerPlate[row.plate, default: 0] += 1
                    if !FileManager.default.fileExists(atPath: url.path) {
                        missing[row.plate, default: []].append("\(row.origin): plate \(row.plate) well \(id) site \(row.site) channel \(channel): file not found: \(url.path)")
                    }
                }
            }
            let batch = row.batch ?? defaultBatch(ofPlate: row.plate)
            if let b = batches[row.plate], b != batch {
                report.errors.append("\(row.origin): plate \(row.plate) is in batch '\(batch)' here but '\(b)' in an earlier row")
            }
            batches[row.plate] = batch
            let key = WellKey(plate: row.plate, well: id)
            let site = Site(index: row.site, files: row.files, planes: row.planes)
            if var well = wells[key] {
                if well.treatment != row.treatment {
                    report.errors.append("\(row.origin): plate \(row.plate) well \(id) has treatment \(row.treatment?.key ?? "none") but \(well.treatment?.key ?? "none") at \(wellOrigins[key]!)")
                }
                well.sites.append(site)
                wells[key] = well
            } else {
                wells[key] = Well(id: id, treatment: row.treatment, replicate: row.replicate, sites: [site])
                wellOrigins[key] = row.origin
            }
        }
        // A few missing files are listed one by one; a plate missing many (not downloaded) is one line.
        for plate in missing.keys.sorted(by: naturalLess) {
            let lines = missing[plate]!
            if lines.count <= 3 {
                report.errors += lines
            } else {
                report.errors.append("plate \(plate): \(lines.count) of its \(filesPerPlate[plate]!) image files are not found (first: \(lines[0]))")
            }
        }

        var byPlate = [String: [Well]]()
        for (key, var well) in wells {
            well.sites.sort { $0.index < $1.index }
            byPlate[key.plate, default: []].append(well)
        }
        let plates = byPlate.keys.sorted(by: naturalLess).map { name in
            Plate(name: name, batch: batches[name]!, wells: byPlate[name]!.sorted { $0.id < $1.id })
        }
        if let control = controlCompound {
            for plate in plates where !plate.wells.contains(where: { $0.treatment?.compound == control }) {
                report.warnings.append("plate \(plate.name) has no \(control) control wells")
            }
        }
        return Experiment(channels: channels, plates: plates, controlCompound: controlCompound)
    }
}

/// MoA annotations: (compound, concentration) -> mechanism, as in BBBC021_v1_moa.csv
/// (`compound,concentration,moa`). Concentrations match within a relative 1e-6.
public struct MoAAnnotations: Sendable {
    public private(set) var entries: [Treatment]
    private var byCompound: [String: [(Double, String)]] = [:]

    public init(_ entries: [Treatment]) {
        self.entries = entries
        for t in entries { if let moa = t.moa { byCompound[t.compound, default: []].append((t.concentration, moa)) } }
    }

    /// Reads `compound,concentration,moa` (quoted or not).
    public static func read(_ url: URL) throws -> MoAAnnotations {
        let csv = try CSV.read(url)
        let compounds = try csv.column("compound"), concs = try csv.column("concentration"), moas = try csv.column("moa")
        var entries = [Treatment]()
        var problems = [String]()
        var seen = [String: Int]()
        for r in 0..<csv.rowCount {
            guard let c = Double(concs[r]) else {
                problems.append("\(url.lastPathComponent):\(csv.lineNumber(ofRow: r)): concentration '\(concs[r])' is not a number")
                continue
            }
            let t = Treatment(compound: compounds[r], concentration: c, moa: moas[r])
            if let previous = seen[t.key] {
                problems.append("\(url.lastPathComponent):\(csv.lineNumber(ofRow: r)): duplicate annotation of \(t.key) (first at line \(previous))")
                continue
            }
            seen[t.key] = csv.lineNumber(ofRow: r)
            entries.append(t)
        }
        if !problems.isEmpty { throw MorphoError.layout(problems: problems) }
        return MoAAnnotations(entries)
    }

    /// The mechanism of `compound` at `concentration`, if annotated.
    public func moa(compound: String, concentration: Double) -> String? {
        guard let list = byCompound[compound] else { return nil }
        for (c, moa) in list where abs(c - concentration) <= 1e-6 * max(abs(c), abs(concentration), 1e-12) || c == concentration {
            return moa
        }
        return nil
    }
}
