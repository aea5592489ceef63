import Foundation
import MorphoCore
import MorphoIO

/// BBBC021 (Caie et al. 2010; Ljosa et al. 2012) from the Broad Bioimage Benchmark Collection: the three
/// metadata tables and one image ZIP per plate (`BBBC021_v1_images_<plate>.zip`, about 0.7 GB each, 55
/// plates). Each plate is downloaded (resumably), its ZIP checked entry by entry (CRC-32), unpacked into
/// a hidden folder, checked against the file names `BBBC021_v1_image.csv` lists for that plate and only
/// then renamed to `images/<Image_PathName_DAPI>` (`images/Week1/Week1_22123`), which is where
/// `Pipelines/bbbc021.yaml` reads it. A plate whose folder is there and complete is skipped, so a rerun
/// after a crash or with more plates does only the missing work.
public struct BBBC021Download {
    public static let defaultBaseURL = URL(string: "https://data.broadinstitute.org/bbbc/BBBC021/")!
    public static let imageCSV = "BBBC021_v1_image.csv"
    public static let metadataFiles = [imageCSV, "BBBC021_v1_compound.csv", "BBBC021_v1_moa.csv"]
    /// Written into a plate's folder once it is complete.
    public static let completeRecord = ".morpho-download.json"

    public var baseURL = defaultBaseURL
    public var destination: URL
    /// Plate names (`Week1_22123`) or batch names (`Week1`); nil for all 55 plates.
    public var plates: [String]?
    /// Keep each plate's ZIP under `zips/` after unpacking (it is deleted by default: 40 GB).
    public var keepZips = false
    public var http = HTTPDownload()
    public var log: @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }

    public init(destination: URL) { self.destination = destination }

    /// One plate as `BBBC021_v1_image.csv` describes it.
    public struct Plate: Sendable, Equatable {
        public var name: String
        /// `Week1/Week1_22123`: the folder under `images/`.
        public var folder: String
        /// Every TIFF the table lists for the plate (all channels).
        public var files: Set<String>
        public var fields: Int
    }

    public struct Summary: Sendable {
        /// The plates asked for; of them, `plates` were unpacked now and `skipped` were complete.
        public var selected: [String] = []
        public var plates: [String] = []
        public var skipped: [String] = []
        public var files = 0
        public var bytesDownloaded: Int64 = 0
    }

    public var imagesFolder: URL { destination.appendingPathComponent("images") }
    public var zipsFolder: URL { destination.appendingPathComponent("zips") }

    /// Downloads the metadata tables (when missing) and returns the plates the table lists.
    public func catalogue() throws -> [Plate] {
        for name in BBBC021Download.metadataFiles {
            try http.fetch(baseURL.appendingPathComponent(name), to: destination.appendingPathComponent(name))
        }
        let table = destination.appendingPathComponent(BBBC021Download.imageCSV)
        do {
            return try BBBC021Download.plates(in: table)
        } catch {
            // A table that fails its checks is not kept: the next run fetches it again.
            try? FileManager.default.removeItem(at: table)
            throw error
        }
    }

    /// The plates of an image table, in table order.
    public static func plates(in imageCSV: URL) throws -> [Plate] {
        let csv = try CSV.read(imageCSV)
        let names = try csv.column("Image_Metadata_Plate_DAPI")
        let paths = try BBBC021Layout.channels.map { try csv.column("Image_PathName_\($0)") }
        let files = try BBBC021Layout.channels.map { try csv.column("Image_FileName_\($0)") }
        var order = [String](), byName = [String: Plate]()
        for r in 0..<csv.rowCount {
            let name = names[r]
            // Paths from a served table name places under the destination, never outside it (the
            // plate's name becomes the archive's file name).
            if let problem = ConfinedPath.problem(name, allowFolders: false) {
                throw MorphoError.table(file: imageCSV.path, line: csv.lineNumber(ofRow: r), column: "Image_Metadata_Plate_DAPI", problem: problem)
            }
            for (c, channel) in BBBC021Layout.channels.enumerated() {
                if let problem = ConfinedPath.problem(paths[c][r]) {
                    throw MorphoError.table(file: imageCSV.path, line: csv.lineNumber(ofRow: r), column: "Image_PathName_\(channel)", problem: problem)
                }
                if let problem = ConfinedPath.problem(files[c][r], allowFolders: false) {
                    throw MorphoError.table(file: imageCSV.path, line: csv.lineNumber(ofRow: r), column: "Image_FileName_\(channel)", problem: problem)
                }
            }
            for c in paths.indices where paths[c][r] != paths[0][r] {
                throw MorphoError.table(file: imageCSV.path, line: csv.lineNumber(ofRow: r), column: "Image_PathName_\(BBBC021Layout.channels[c])",
                                        problem: "plate \(name): channels in different folders ('\(paths[0][r])', '\(paths[c][r])')")
            }
            if var plate = byName[name] {
                guard plate.folder == paths[0][r] else {
                    throw MorphoError.table(file: imageCSV.path, line: csv.lineNumber(ofRow: r), column: "Image_PathName_DAPI",
                                            problem: "plate \(name) is in folder '\(paths[0][r])' here but '\(plate.folder)' in an earlier row")
                }
                plate.fields += 1
                for c in files.indices { plate.files.insert(files[c][r]) }
                byName[name] = plate
            } else {
                order.append(name)
                byName[name] = Plate(name: name, folder: paths[0][r], files: Set(files.map { $0[r] }), fields: 1)
            }
        }
        return order.map { byName[$0]! }
    }

    /// The plates `plates` selects (plate or batch names), or all; an unknown name is an error listing the known ones.
    public static func select(_ plates: [Plate], names: [String]?) throws -> [Plate] {
        guard let names else { return plates }
        var chosen = Set<String>()
        for name in names {
            let matching = plates.filter { $0.name == name || ExperimentAssembler.defaultBatch(ofPlate: $0.name) == name }
            guard !matching.isEmpty else {
                let batches = Set(plates.map { ExperimentAssembler.defaultBatch(ofPlate: $0.name) }).sorted(by: naturalLess)
                throw MorphoError.config(key: "plates", problem: "'\(name)' is neither a plate nor a batch of BBBC021 (batches: \(batches.joined(separator: ", ")); plates: \(plates.map(\.name).joined(separator: ", ")))")
            }
            chosen.formUnion(matching.map(\.name))
        }
        return plates.filter { chosen.contains($0.name) }
    }

    /// Metadata, then every selected plate: download, check, unpack.
    public func run() throws -> Summary {
        let selected = try BBBC021Download.select(try catalogue(), names: plates)
        var summary = Summary(selected: selected.map(\.name))
        for (i, plate) in selected.enumerated() {
            if isComplete(plate) {
                summary.skipped.append(plate.name)
                continue
            }
            log("plate \(i + 1) of \(selected.count): \(plate.name)")
            let zip = zipsFolder.appendingPathComponent("BBBC021_v1_images_\(plate.name).zip")
            summary.bytesDownloaded += try http.fetch(baseURL.appendingPathComponent(zip.lastPathComponent), to: zip, label: plate.name)
            summary.files += try unpack(zip, plate: plate)
            summary.plates.append(plate.name)
            if !keepZips { try? FileManager.default.removeItem(at: zip) }
        }
        return summary
    }

    /// True when the plate's folder holds its completion record and every file the table lists.
    public func isComplete(_ plate: Plate) -> Bool {
        let folder = imagesFolder.appendingPathComponent(plate.folder)
        let fm = FileManager.default
        guard fm.fileExists(atPath: folder.appendingPathComponent(BBBC021Download.completeRecord).path) else { return false }
        return plate.files.allSatisfy { fm.fileExists(atPath: folder.appendingPathComponent($0).path) }
    }

    /// Unpacks a plate's ZIP (entries by file name; folders inside the ZIP do not matter) into a hidden
    /// folder, checks that every file the table lists is there, and renames it into place. A ZIP that
    /// fails its checks is deleted so the next run downloads it again. Returns the number of files.
    public func unpack(_ zip: URL, plate: Plate) throws -> Int {
        let fm = FileManager.default
        let final = try ConfinedPath.resolve(plate.folder, under: imagesFolder, context: "plate \(plate.name)")
        let parent = final.deletingLastPathComponent()
        let staging = parent.appendingPathComponent(".\(final.lastPathComponent).unpacking")
        try? fm.removeItem(at: staging)
        try fm.createDirectory(at: staging, withIntermediateDirectories: true)
        do {
            let archive = try ZipArchive(url: zip)
            // Only the files the table lists are unpacked; anything else in the archive is skipped.
            let entries = archive.entries.filter { e in
                let name = (e.name as NSString).lastPathComponent
                return !e.isDirectory && !e.name.hasPrefix("__MACOSX/") && !name.hasPrefix(".") && plate.files.contains(name)
            }
            var seen = [String: String]()
            for e in entries {
                let name = (e.name as NSString).lastPathComponent
                if let first = seen[name] {
                    throw MorphoError.file(path: zip.path, problem: "entries '\(first)' and '\(e.name)' have the same file name")
                }
                seen[name] = e.name
            }
            let missing = plate.files.subtracting(seen.keys).sorted()
            guard missing.isEmpty else {
                throw MorphoError.file(path: zip.path, problem: "plate \(plate.name): \(missing.count) of the \(plate.files.count) images that \(BBBC021Download.imageCSV) lists are not in the archive (first: \(missing.prefix(3).joined(separator: ", ")))")
            }
            let reporter = ProgressReporter("unpack \(plate.name)", total: entries.count, unit: "files", enabled: http.progress)
            _ = try concurrentMap(entries.count) { k in
                try archive.extract(entries[k], to: staging.appendingPathComponent((entries[k].name as NSString).lastPathComponent))
                reporter.advance()
            }
            reporter.finish()
            let record = ["plate": plate.name, "archive": zip.lastPathComponent, "files": String(entries.count), "version": MorphoVersion.current]
            try AtomicFile.write(try JSONEncoder.sorted.encode(record), to: staging.appendingPathComponent(BBBC021Download.completeRecord))
            try? fm.removeItem(at: final)
            guard rename(staging.path, final.path) == 0 else {
                throw MorphoError.file(path: final.path, problem: "cannot move the unpacked plate into place: \(String(cString: strerror(errno)))")
            }
            log("\(plate.name): \(entries.count) files checked (CRC-32) and unpacked into \(final.path)")
            return entries.count
        } catch let error as MorphoError {
            try? fm.removeItem(at: staging)
            if case .file(let path, _) = error, path == zip.path {
                try? fm.removeItem(at: zip)  // damaged or not the plate's archive: fetch it again next run
                throw MorphoError.file(path: zip.path, problem: "\(error.problemText); the archive was deleted, run the command again to download it anew")
            }
            throw error
        }
    }
}

private extension MorphoError {
    /// The problem part of a `.file` error (the message without the path).
    var problemText: String {
        if case .file(_, let problem) = self { return problem }
        return description
    }
}
