import ArgumentParser
import Foundation
import ImageProcessing
import MorphoCore
import MorphoIO
import Segmentation
import Synthetic

/// `morpho bench segmentation`: nucleus segmentation across magnifications with default settings.
/// The shared real images resampled by 0.5x, 1x, 2x and 4x (DSB2018 against its full mask, the JUMP
/// field against CellProfiler's centres) and synthetic fields of 8 to 120 px nuclei, each against
/// scikit-image's Otsu + distance-transform watershed on the same image.
struct BenchSegmentation: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segmentation",
        abstract: "Object F1 at IoU 0.5 (and count ratio) across scales, Morpho's defaults against scikit-image Otsu + watershed.",
        discussion: """
        Needs the shared real images (--real) and, for the peer, scikit-image in a Python (`make test-venv`). Example:
          morpho bench segmentation --real ../shared/data/real
        """
    )

    @Option(help: "Folder of the shared real images (dsb2018_nuclei, jump_cpg0000_A01_1).") var real = "../shared/data/real"
    @Option(help: "Comma-separated resampling factors of the real images.") var scales = "0.5,1,2,4"
    @Option(help: "Comma-separated nucleus diameters (pixels) of the synthetic fields.") var diameters = "8,12,20,32,50,80,120"
    @Option(help: "Python with scikit-image (default: .venv-test/bin/python).") var python = ".venv-test/bin/python"
    @Flag(help: "Skip scikit-image.") var noPeer = false

    func run() throws {
        try Morpho.reportingErrors {
            let factors = scales.split(separator: ",").compactMap { Double($0) }
            var cases = [SegmentationCase]()
            for base in try SegmentationCase.sharedRealImages(URL(fileURLWithPath: real)) {
                for f in factors { cases.append(f == 1 ? base : try base.resampled(by: f)) }
            }
            cases += diameters.split(separator: ",").compactMap { Double($0) }.map(SegmentationBenchCases.synthetic)
            let segmenter = try NucleusSegmenter()
            let peer = noPeer ? nil : try? peerLabels(cases)
            if !noPeer && peer == nil { say("scikit-image: not run (no \(python) with scikit-image)") }
            say("image                 TP   FP   FN  scale  size       est.d  found/ref  Morpho F1 (ratio)   scikit-image F1 (ratio)   ms")
            for (k, c) in cases.enumerated() {
                let start = Date()
                let result = try segmenter.segment(c.image, context: c.name)
                let ms = Date().timeIntervalSince(start) * 1000
                let s = c.score(result.labels)
                let p = peer.map { c.score($0[k]) }
                let d = result.settings.map { String(format: "%5.1f", $0.diameter) } ?? "    -"
                say(String(format: "%@  %3d  %3d  %3d  %5.2f  %-9@  %@  %4d/%-4d  %.3f (%.2f)        %@   %5.0f",
                           c.name.padding(toLength: 20, withPad: " ", startingAt: 0), s.match.truePositives, s.match.falsePositives, s.match.falseNegatives, c.scale, "\(c.image.width)x\(c.image.height)", d, s.found, s.reference, s.match.f1, s.countRatio,
                           p.map { String(format: "%.3f (%.2f)", $0.match.f1, $0.countRatio) } ?? "    -       ", ms))
            }
        }
    }

    /// Labels from scripts/segment_skimage.py for every case (float TIFFs in, label TIFFs out).
    func peerLabels(_ cases: [SegmentationCase]) throws -> [LabelImage] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("morpho-bench-seg-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (k, c) in cases.enumerated() {
            try TIFF.write(c.image, to: dir.appendingPathComponent("case\(k).tif"), bitDepth: .float32)
        }
        _ = try runForStdout(python, [ScriptLocator.script("segment_skimage.py"), dir.path, "\(cases.count)"])
        return try cases.indices.map { LabelImage(try TIFF.readImage(dir.appendingPathComponent("case\($0)_labels.tif"))) }
    }
}

/// The benchmark's images (also used by the tests).
enum SegmentationBenchCases {
    static func synthetic(_ diameter: Double) -> SegmentationCase {
        let field = FieldRenderer.nucleusField(diameter: diameter)
        return SegmentationCase(name: "synthetic-d\(Int(diameter))", scale: 1, image: field.dna, truth: LabelImage(field.labels).relabeled())
    }
}
