import ArgumentParser
import Datasets
import Foundation
import MorphoCore

/// `morpho data`: public datasets, downloaded and unpacked where the shipped pipelines expect them.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Download public datasets (BBBC021) where the shipped pipelines read them.",
        subcommands: [BBBC021Command.self]
    )
}

struct BBBC021Command: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bbbc021",
        abstract: "Download, check and unpack BBBC021 (metadata + one image ZIP per plate, ~40 GB for all 55 plates).",
        discussion: """
        Each plate's ZIP is fetched with HTTP range requests (a broken or killed download resumes from the
        bytes it has), every entry is checked against its CRC-32, the plate is checked against the files
        BBBC021_v1_image.csv lists, and only then moved to DEST/images/WeekN/WeekN_PLATE. Plates already
        complete are skipped, so the same command resumes or adds plates. The SHA-256 of every file is
        recorded in SHA256SUMS files (`sha256sum -c` reads them); a rerun checks the metadata tables against
        them, and --verify also the images. A transfer slower than 64 KiB/s is given up and retried.
        Examples:
          morpho data bbbc021 --dest Data/bbbc021                       (all 55 plates; then: morpho run Pipelines/bbbc021.yaml)
          morpho data bbbc021 --dest Data/bbbc021 --plates Week1,Week2_24121
          morpho data bbbc021 --dest Data/bbbc021 --list
        """
    )

    @Option(help: "Destination folder (Pipelines/bbbc021.yaml reads Data/bbbc021).") var dest = "Data/bbbc021"
    @Option(help: "Plates or batches, comma-separated (Week1_22123, Week4); default all.") var plates: String?
    @Option(help: "Where the files are served.") var baseURL = BBBC021Download.defaultBaseURL.absoluteString
    @Flag(help: "Keep each plate's ZIP under DEST/zips after unpacking.") var keepZips = false
    @Flag(help: "Download the metadata only and list the plates (name, fields, state).") var list = false
    @Flag(help: "Re-hash the images of complete plates against DEST/images/.../SHA256SUMS; fetch a plate again where one differs.") var verify = false
    @Option(help: "Attempts per request before giving up.") var attempts = 6
    @Flag(help: "No progress lines on stderr.") var quiet = false

    func run() throws {
        try Morpho.reportingErrors {
            guard let base = URL(string: baseURL.hasSuffix("/") ? baseURL : baseURL + "/"), base.scheme != nil else {
                throw MorphoError.config(key: "--base-url", problem: "'\(baseURL)' is not a URL")
            }
            var download = BBBC021Download(destination: URL(fileURLWithPath: dest))
            download.baseURL = base
            download.plates = plates.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            download.keepZips = keepZips
            download.verify = verify
            download.http.attempts = attempts
            download.http.progress = !quiet
            if quiet { download.log = { _ in } }
            if list {
                let all = try BBBC021Download.select(try download.catalogue(), names: download.plates)
                for plate in all {
                    say("\(plate.name)\t\(plate.fields) fields\t\(download.isComplete(plate) ? "complete" : "missing")")
                }
                return
            }
            let summary = try download.run()
            say("BBBC021 in \(download.destination.path): \(summary.plates.count) plate(s) unpacked (\(summary.files) files, "
                + "\(summary.bytesDownloaded >> 20) MiB downloaded), \(summary.skipped.count) already complete")
            let yamlPath = URL(fileURLWithPath: "Data/bbbc021").standardizedFileURL.path
            var next = "morpho run Pipelines/bbbc021.yaml"
            if download.destination.standardizedFileURL.path != yamlPath {
                let d = download.destination.path
                next += " --set experiment.bbbc021.image_csv=\(d)/BBBC021_v1_image.csv --set experiment.bbbc021.moa_csv=\(d)/BBBC021_v1_moa.csv --set experiment.bbbc021.images=\(d)/images"
            }
            if download.plates != nil {
                next += " --set 'experiment.plates=[\(summary.selected.joined(separator: ","))]'"
            }
            say("next: \(next)")
        }
    }
}
