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
///
/// Checksums: the SHA-256 of every file fetched is recorded in `DEST/SHA256SUMS` (metadata tables, and
/// archives while they are kept) and of every unpacked image in the plate folder's own `SHA256SUMS`,
/// both in `sha256sum -c` format. A rerun checks the metadata tables and any kept archive against the
/// record (a changed table is an error; a changed archive is fetched again); `verify` also re-hashes
/// the images of complete plates and fetches a plate again when one differs.
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
    /// Re-hash the images of plates already complete against their recorded SHA-256.
    public var verify = false
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

    /// Downloads the metadata tables (when missing; a table already there must match its recorded
    /// SHA-256) and returns the plates the table lists.
    public func catalogue() throws -> [Plate] {
        var sums = try SHA256Sums(folder: destination)
        for name in BBBC021Download.metadataFiles {
            let file = destination.appendingPathComponent(name)
            if try http.fetch(baseURL.appendingPathComponent(name), to: file) == 0, sums.recorded(file) != nil {
                if let problem = try sums.mismatch(file) {
                    throw MorphoError.file(path: file.path, problem: "changed since it was downloaded: \(problem); delete it to download it again")
                }
            } else {
                try sums.record(file)
            }
        }
        try sums.save()
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
            var sums = try SHA256Sums(folder: destination)
            var kept = FileManager.default.fileExists(atPath: zip.path)
            if kept, let problem = try sums.mismatch(zip) {
                log("\(zip.lastPathComponent): \(problem); downloading it again")
                try FileManager.default.removeItem(at: zip)
                kept = false
            }
            summary.bytesDownloaded += try http.fetch(baseURL.appendingPathComponent(zip.lastPathComponent), to: zip, label: plate.name)
            let archiveDigest = try kept ? sums.recorded(zip) ?? sums.record(zip) : sums.record(zip)
            if keepZips { try sums.save() }
            summary.files += try unpack(zip, plate: plate, archiveDigest: archiveDigest)
            summary.plates.append(plate.name)
            if !keepZips { try? FileManager.default.removeItem(at: zip) }
        }
        return summary
    }

    /// True when the plate's folder holds its completion record and every file the table lists (and,
    /// with `verify`, every file matches the SHA-256 recorded when it was unpacked).
    public func isComplete(_ plate: Plate) -> Bool {
        let folder = imagesFolder.appendingPathComponent(plate.folder)
        let fm = FileManager.default
        guard fm.fileExists(atPath: folder.appendingPathComponent(BBBC021Download.completeRecord).path),
              plate.files.allSatisfy({ fm.fileExists(atPath: folder.appendingPathComponent($0).path) }) else { return false }
        guard verify else { return true }
        do {
            let sums = try SHA256Sums(folder: folder)
            for name in plate.files.sorted() {
                let file = folder.appendingPathComponent(name)
                guard sums.recorded(file) != nil else { log("plate \(plate.name): \(name) has no recorded SHA-256; downloading the plate again"); return false }
                if let problem = try sums.mismatch(file) { log("plate \(plate.name): \(name): \(problem); downloading the plate again"); return false }
            }
            return true
        } catch {
            log("plate \(plate.name): \(error); downloading the plate again")
            return false
        }
    }

    /// Unpacks a plate's ZIP (entries by file name; folders inside the ZIP do not matter) into a hidden
    /// folder, checks that every file the table lists is there, and renames it into place. A ZIP that
    /// fails its checks is deleted so the next run downloads it again. Returns the number of files.
    public func unpack(_ zip: URL, plate: Plate, archiveDigest: String? = nil) throws -> Int {
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
            let digests = try concurrentMap(entries.count) { k -> (String, String) in
                let name = (entries[k].name as NSString).lastPathComponent
                try archive.extract(entries[k], to: staging.appendingPathComponent(name))
                defer { reporter.advance() }
                return (name, try SHA256.hex(of: staging.appendingPathComponent(name)))
            }
            reporter.finish()
            var sums = try SHA256Sums(folder: staging)
            for (name, digest) in digests { sums.record(name, digest: digest) }
            try sums.save()
            var record = ["plate": plate.name, "archive": zip.lastPathComponent, "files": String(entries.count), "version": MorphoVersion.current]
            record["archive_sha256"] = archiveDigest
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
