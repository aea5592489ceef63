import ArgumentParser
import Cropping
import Foundation
import Illumination
import ImageProcessing
import MorphoCore
import MorphoIO
import Segmentation
import Synchronization
import Synthetic

/// `morpho bench image-stages`: illumination apply + segmentation + 96 px crops on realistic synthetic
/// fields (1280x1024, 3 channels, 16-bit TIFF), Morpho against the same algorithm in scikit-image on
/// the same files, at 1 and 2 threads.
struct BenchImageStages: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image-stages",
        abstract: "Time illumination apply + segmentation + cropping against scikit-image (same files, same run).",
        discussion: """
        Needs scikit-image, tifffile and numpy in a Python (`make test-venv` makes .venv-test). Example:
          morpho bench image-stages --fields 24
        """
    )

    @Option(help: "Fields to render (1280x1024, 3 channels).") var fields = 24
    @Option(help: "Folder for the generated fields (default: a temporary folder, removed after).") var data: String?
    @Option(help: "Python with scikit-image (default: .venv-test/bin/python).") var python = ".venv-test/bin/python"
    @Option(help: "Comma-separated thread counts.") var threads = "1,2"
    @Option(help: "Times each side runs all fields; the best run counts (timings vary between runs).") var repeats = 3
    @Flag(help: "Skip scikit-image.") var noPeer = false

    func run() throws {
        try Morpho.reportingErrors {
            let dir = data.map { URL(fileURLWithPath: $0) } ?? FileManager.default.temporaryDirectory.appendingPathComponent("morpho-bench-img-\(getpid())")
            defer { if data == nil { try? FileManager.default.removeItem(at: dir) } }
            try generate(dir)
            say("data: \(fields) fields of 1280x1024, 3 channels, uint16 TIFF, illumination functions as float TIFF, \(dir.path)")
            say("pipeline: divide by illumination; DNA: Morpho's default segmentation (nucleus diameter estimated per plate from 8 fields, adaptive")
            say("Otsu, fill holes, h-maxima shape declumping, per-object refinement, size filter, QC); scikit-image: Gaussian(1), Otsu,")
            say("fill holes, intensity declumping (maxima of Gaussian(12 / 3.5) 2r+1 apart), size filter 12-60 px; then per-nucleus")
            say("centre/area/box/mean intensity; 96 px crops of all channels (skip at edges, divide by crop max)")
            let config = SegmentationConfig()
            let repeats = max(1, self.repeats)
            for t in threads.split(separator: ",").compactMap({ Int($0) }) {
                let runs = try (0..<repeats).map { _ in try timeMorpho(dir, config: config, threads: t) }
                let (seconds, cells) = runs.min { $0.0 < $1.0 }!
                say(String(format: "Morpho       %d thread(s): %6.2f s (best of \(runs.count)), %5.2f fields/s, %7.0f cells/s (%d cells)", t, seconds,
                           Double(fields) / seconds, Double(cells) / seconds, cells))
                guard !noPeer else { continue }
                let output: String
                do {
                    output = try runForStdout(python, [ScriptLocator.script("bench_skimage.py"), dir.path, "--threads", "\(t)", "--repeats", "\(repeats)",
                                            "--min-diameter", "12", "--max-diameter", "60"])
                } catch let error as MorphoError {
                    say("scikit-image: \(error.description)")
                    continue
                }
                let parts = output.split(separator: " ")
                guard parts.count >= 2, let peerSeconds = Double(parts[0]), let peerCells = Int(parts[1]) else {
                    say("scikit-image: unexpected output: \(output)")
                    continue
                }
                say(String(format: "scikit-image %d thread(s): %6.2f s (best of \(repeats)), %5.2f fields/s, %7.0f cells/s (%d cells)", t, peerSeconds,
                           Double(fields) / peerSeconds, Double(peerCells) / peerSeconds, peerCells))
                say(String(format: "ratio at %d thread(s): Morpho is %.1fx faster", t, peerSeconds / seconds))
            }
        }
    }

    func generate(_ dir: URL) throws {
        let marker = dir.appendingPathComponent("fields-\(fields).done")
        if FileManager.default.fileExists(atPath: marker.path) { return }
        let config = try SyntheticConfig.preset("realistic")
        let renderer = FieldRenderer(config: config)
        let illumination = (0..<3).map { renderer.illumination(plate: "bench", channel: $0) }
        let batch = BatchShift(batch: "B", seed: 1, strength: 0)
        let phenotypes = Phenotype.byMoA.keys.sorted().map { Phenotype.byMoA[$0]! }
        let progress = ProgressReporter("rendering fields", total: fields)
        let sums = Mutex([PlateMeanAccumulator](repeating: PlateMeanAccumulator(downscale: 4), count: 3))
        _ = try concurrentMap(fields) { k in
            var rng = SeededGenerator(seed: 11, stream: "bench/\(k)")
            let field = renderer.render(phenotype: phenotypes[k % phenotypes.count], batch: batch, illumination: illumination, rng: &rng)
            for (c, image) in field.channels.enumerated() {
                try TIFF.write(image, to: dir.appendingPathComponent(String(format: "f%03d_c%d.tif", k, c)), bitDepth: .uint16, compression: .none)
                try sums.withLock { try $0[c].add(image, context: "field \(k)") }
            }
            progress.advance()
        }
        progress.finish()
        for c in 0..<3 {
            let fn = try IlluminationFunction.compute(plate: "bench", channel: "\(c)", from: sums.withLock { $0[c] }, config: .init())
            try TIFF.write(fn.image, to: dir.appendingPathComponent("illum_c\(c).tif"), bitDepth: .float32)
        }
        try AtomicFile.write(Data(), to: marker)
    }

    /// Reads, corrects, segments and crops every field with `threads` workers; returns (seconds, cells).
    func timeMorpho(_ dir: URL, config: SegmentationConfig, threads: Int) throws -> (Double, Int) {
        let functions = try (0..<3).map { c in
            IlluminationFunction(plate: "bench", channel: "\(c)", image: try TIFF.readImage(dir.appendingPathComponent("illum_c\(c).tif")),
                                 robustMinimum: 1, fieldCount: fields)
        }
        let segmenter = try NucleusSegmenter(config)
        let cropper = try Cropper(CropConfig())
        let start = Date()
        // As the segmentation stage does: one diameter for the plate, from a sample of its fields.
        let sample = try NucleusSegmenter.plateSample(count: fields).map { k in
            try functions[0].read(dir.appendingPathComponent(String(format: "f%03d_c0.tif", k)), context: "field \(k)")
        }
        let diameter = config.diameterScope == .plate ? try segmenter.plateDiameter(sample, threads: threads) : nil
        let counts = try concurrentMap(threads) { worker -> Int in
            var cells = 0
            for k in stride(from: worker, to: fields, by: threads) {
                let channels = try (0..<3).map { c in
                    try functions[c].read(dir.appendingPathComponent(String(format: "f%03d_c%d.tif", k, c)), context: "field \(k)")
                }
                let nuclei = try segmenter.segment(channels[0], context: "field \(k)", plateDiameter: diameter).nuclei
                cells += try cropper.crop(channels: channels, nuclei: nuclei, context: "field \(k)").count
            }
            return cells
        }
        return (Date().timeIntervalSince(start), counts.reduce(0, +))
    }
}
