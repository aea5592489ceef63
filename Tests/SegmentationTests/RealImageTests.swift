import Foundation
import ImageProcessing
import MorphoCore
import MorphoIO
import MorphoTestSupport
@testable import Segmentation
import Testing

/// The real-image goals of the segmentation stage (numbers in the README and the closing note).
@Suite struct RealImageSegmentationTests {
    static func labels(_ image: Image) -> LabelImage {
        LabelImage(width: image.width, height: image.height, labels: image.pixels.map { Int32($0) },
                   count: Set(image.pixels.filter { $0 != 0 }).count)
    }

    @Test func dsb2018DeclumpingReachesF1Goal() throws {
        let dir = TestPaths.realData.appendingPathComponent("dsb2018_nuclei")
        let image = try TIFF.readImage(dir.appendingPathComponent("img2d.tif"))
        let truth = Self.labels(try TIFF.readImage(dir.appendingPathComponent("mask2d.tif")))
        var config = SegmentationConfig()
        config.minDiameter = 6
        config.maxDiameter = 60
        for declump in SegmentationConfig.Declump.allCases {
            config.declump = declump
            let result = try NucleusSegmenter(config).segment(image)
            let m = ObjectMatch.byOverlap(result.labels, truth)
            print("DSB2018 declump=\(declump): \(result.nuclei.count) nuclei of 125, TP \(m.truePositives), F1 \(m.f1)")
            if declump == .intensity { #expect(m.f1 >= 0.85) }
        }
    }

    @Test func jumpMatchesCellProfiler() throws {
        let dir = TestPaths.realData.appendingPathComponent("jump_cpg0000_A01_1")
        let dna = try TIFF.readImage(dir.appendingPathComponent("r01c01f01p01-ch5sk1fk1fl1.tiff"))
        let reference = try CSV.read(dir.appendingPathComponent("cellprofiler_nuclei.csv"))
        let xs = try reference.column("Location_Center_X").map { Double($0)! }
        let ys = try reference.column("Location_Center_Y").map { Double($0)! }
        var config = SegmentationConfig()
        config.minDiameter = 8
        config.maxDiameter = 100
        for declump in SegmentationConfig.Declump.allCases {
            config.declump = declump
            let result = try NucleusSegmenter(config).segment(dna)
            let m = ObjectMatch.byCentroid(result.nuclei.map { ($0.centerX, $0.centerY) }, Array(zip(xs, ys)), distance: 5)
            print("JUMP declump=\(declump): \(result.nuclei.count) nuclei (CellProfiler 109), matched \(m.truePositives) within 5 px")
            if declump == .intensity {
                #expect(abs(result.nuclei.count - 109) <= 5)
                #expect(Double(m.truePositives) / 109 >= 0.95)
            }
        }
    }
}
