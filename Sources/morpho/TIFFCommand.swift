import ArgumentParser
import Foundation
import MorphoCore
import MorphoIO

/// `morpho tiff`: show the pages of TIFF files and basic pixel statistics.
struct TIFFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tiff",
        abstract: "Show the layout and pixel range of TIFF files.",
        discussion: "Example: morpho tiff ../shared/data/real/jump_cpg0000_A01_1/*.tiff"
    )

    @Argument(help: "TIFF files.") var files: [String]

    func run() throws {
        try Morpho.reportingErrors {
            for path in files {
                let url = URL(fileURLWithPath: path)
                let pages = try TIFF.info(url)
                let images = try TIFF.read(url)
                for (k, page) in pages.enumerated() {
                    say("\(path) page \(k + 1): \(page.width)x\(page.height) x\(page.samplesPerPixel) \(page.bitDepth) compression=\(page.compression)\(page.tiled ? " tiled" : "")")
                }
                for (k, image) in images.enumerated() {
                    let r = image.range
                    say("  plane \(k + 1): min \(formatNumber(Double(r.min))) max \(formatNumber(Double(r.max))) mean \(String(format: "%.3f", image.mean))")
                }
            }
        }
    }
}
