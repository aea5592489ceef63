import Foundation
import ImageProcessing
import MorphoCore
import MorphoIO
import MorphoTestSupport
@testable import Segmentation
import Testing

/// The real-image goals of the segmentation stage (numbers in the README and the closing note).
@Suite struct RealImageSegmentationTests {
    /// A ground-truth mask (label ids need not be contiguous) as labels 1...count.
    static func labels(_ image: Image) -> LabelImage { LabelImage(image).relabeled() }

    /// DSB2018 (125 nuclei, many touching, dim ones beside bright ones). Measured F1 at IoU 0.5: plain
    /// Otsu 0.53; CellProfiler-style intensity declumping 0.73; shape seeds + shape lines + per-object
    /// refinement 0.82; the same with CellProfiler's adaptive threshold (default 50 px window) 0.86
    /// (0.85 without the refinement, 0.85-0.87 with 32-50 px windows): the global Otsu threshold (47)
    /// sits above the dim nuclei (mean 38-47), which the local thresholds keep whole.
    @Test func dsb2018Declumping() throws {
        let dir = TestPaths.realData.appendingPathComponent("dsb2018_nuclei")
        let image = try TIFF.readImage(dir.appendingPathComponent("img2d.tif"))
        let truth = Self.labels(try TIFF.readImage(dir.appendingPathComponent("mask2d.tif")))
        #expect(truth.count == 125)
        var config = SegmentationConfig()
        config.minDiameter = 10
        config.maxDiameter = 60
        func f1(_ c: SegmentationConfig) throws -> Double {
            let result = try NucleusSegmenter(c).segment(image)
            let m = ObjectMatch.byOverlap(result.labels, truth)
            print("DSB2018 \(c.declump)/\(c.dividingLines) refine \(c.refineFraction ?? 0) adaptive \(c.adaptiveWindow ?? 0): \(result.nuclei.count) nuclei of 125, TP \(m.truePositives), F1 \(m.f1)")
            return m.f1
        }
        config.declump = .none
        let plain = try f1(config)
        config.declump = .intensity
        let intensity = try f1(config)
        config.declump = .shape; config.dividingLines = .shape; config.refineFraction = 0.4
        let global = try f1(config)
        config.adaptiveWindow = 50
        let adaptive = try f1(config)
        #expect(plain < 0.6)
        #expect(intensity > plain + 0.15)
        #expect(global >= 0.80)
        #expect(adaptive >= 0.85)
    }

    /// JUMP cpg0000 field, DNA channel: CellProfiler found 109 nuclei, none touching the border (its
    /// pipeline discards those; its smallest nucleus is 22 px across). With border objects removed,
    /// the adaptive threshold (50 px) and hybrid seeds (distance x intensity), min diameter 12:
    /// 108 nuclei (-0.9%), 105 of CellProfiler's centres (96.3%) within 5 px. Keeping border objects
    /// gives 116 nuclei; a global threshold with the same settings 109 nuclei, 104 centres.
    @Test func jumpMatchesCellProfiler() throws {
        let dir = TestPaths.realData.appendingPathComponent("jump_cpg0000_A01_1")
        let dna = try TIFF.readImage(dir.appendingPathComponent("r01c01f01p01-ch5sk1fk1fl1.tiff"))
        let reference = try CSV.read(dir.appendingPathComponent("cellprofiler_nuclei.csv"))
        let xs = try reference.column("Location_Center_X").map { Double($0)! }
        let ys = try reference.column("Location_Center_Y").map { Double($0)! }
        #expect(xs.count == 109)
        var config = SegmentationConfig()
        config.minDiameter = 12
        config.maxDiameter = 60
        config.declump = .hybrid
        config.dividingLines = .shape
        config.removeBorderObjects = true
        config.adaptiveWindow = 50
        let result = try NucleusSegmenter(config).segment(dna)
        let m = ObjectMatch.byCentroid(result.nuclei.map { ($0.centerX, $0.centerY) }, Array(zip(xs, ys)), distance: 5)
        print("JUMP: \(result.nuclei.count) nuclei (CellProfiler 109), \(m.truePositives) of CellProfiler's centres within 5 px")
        #expect(Double(abs(result.nuclei.count - 109)) <= 0.05 * 109)
        #expect(Double(m.truePositives) / 109 >= 0.95)
    }
}

@Suite struct SyntheticSegmentationTests {
    /// Every field of the tiny synthetic screen against its ground-truth label image: F1 >= 0.95.
    @Test func matchesGroundTruth() throws {
        let experiment = try TinyScreen.read()
        let segmenter = try NucleusSegmenter(SegmentationConfig())
        var total = ObjectMatch(truePositives: 0, falsePositives: 0, falseNegatives: 0)
        for plate in experiment.plates {
            for well in plate.wells {
                for site in well.sites {
                    let result = try segmenter.segment(try TIFF.readImage(site.files["DAPI"]!))
                    let truth = RealImageSegmentationTests.labels(try TIFF.readImage(
                        TinyScreen.folder.appendingPathComponent("truth/nuclei/\(plate.name)/\(well.id)_s\(site.index).tif")))
                    let m = ObjectMatch.byOverlap(result.labels, truth)
                    total.truePositives += m.truePositives; total.falsePositives += m.falsePositives; total.falseNegatives += m.falseNegatives
                }
            }
        }
        print("synthetic: TP \(total.truePositives) FP \(total.falsePositives) FN \(total.falseNegatives) F1 \(total.f1)")
        #expect(total.f1 >= 0.95)
    }
}

@Suite struct SegmenterUnitTests {
    func disk(_ image: inout Image, _ cx: Double, _ cy: Double, _ r: Double, _ value: Float) {
        for y in 0..<image.height { for x in 0..<image.width where (Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy) <= r * r {
            image[x, y] = value
        } }
    }

    @Test func splitsTwoTouchingDisksAndMeasuresThem() throws {
        var image = Image(width: 80, height: 50, value: 100, bitDepth: .uint16)
        disk(&image, 25, 25, 12, 1000)
        disk(&image, 47, 25, 12, 1000)
        var config = SegmentationConfig()
        config.minDiameter = 10
        config.declump = .none
        #expect(try NucleusSegmenter(config).segment(image).nuclei.count == 1)
        for method in [SegmentationConfig.Declump.shape, .hybrid] {
            config.declump = method
            config.dividingLines = .shape
            let result = try NucleusSegmenter(config).segment(image)
            #expect(result.nuclei.count == 2, "\(method)")
            let xs = result.nuclei.map(\.centerX).sorted()
            #expect(abs(xs[0] - 25) < 1.5 && abs(xs[1] - 47) < 1.5)
        }
        let one = try NucleusSegmenter(SegmentationConfig()).measure(
            LabelImage(width: 4, height: 2, labels: [0, 1, 1, 0, 0, 1, 1, 0], count: 1),
            Image(width: 4, height: 2, pixels: [0, 2, 4, 0, 0, 6, 8, 0], bitDepth: .float32))
        #expect(one == [Nucleus(label: 1, centerX: 1.5, centerY: 0.5, area: 4, minX: 1, minY: 0, maxX: 3, maxY: 2, meanIntensity: 5)])
    }

    /// Left half: background 60 and a bright nucleus (600); right half: background 10 and a dim one
    /// (160). The global Otsu threshold lies above the dim nucleus but within 1/0.7 of it; the
    /// adaptive threshold finds both, interpolates between block centres and stays within
    /// 0.7...1.5x the global threshold.
    @Test func adaptiveThresholdFindsDimNucleusBesideBrightOnes() throws {
        var image = Image(width: 200, height: 100, value: 10, bitDepth: .uint16)
        for y in 0..<100 { for x in 0..<100 { image[x, y] = 60 } }
        disk(&image, 50, 50, 12, 600)
        disk(&image, 150, 50, 12, 160)
        var config = SegmentationConfig()
        config.smoothingSigma = 0
        config.declump = .none
        let global = try NucleusSegmenter(config).segment(image)
        #expect(global.nuclei.count == 1)
        config.adaptiveWindow = 50
        let segmenter = try NucleusSegmenter(config)
        let adaptive = try segmenter.segment(image)
        #expect(adaptive.nuclei.count == 2)
        #expect(adaptive.nuclei.map { abs($0.diameter - 24) < 2 } == [true, true])
        let g = try #require(global.threshold)
        let local = try #require(segmenter.adaptiveThreshold(image, window: 50, global: g))
        #expect(local.allSatisfy { $0 >= 0.7 * g - 1e-3 && $0 <= 1.5 * g + 1e-3 })
        // A constant block pattern along x interpolates linearly between the centres (x = 25, 75, ...).
        let ramp = Image(width: 200, height: 100, pixels: (0..<20_000).map { Float(($0 % 200) / 50 * 100) }, bitDepth: .float32)
        let steps = try #require(segmenter.adaptiveThreshold(ramp, window: 50, global: 150))
        #expect(steps[10] == 105 && steps[40] == 105)       // clamped to 0.7 x 150 below the first centres
        #expect(abs(steps[100] - 150) < 2.5)                  // halfway between the centres at 75 and 125
        #expect(steps[199] == 225)                            // clamped to 1.5 x 150 beyond the last centre
        #expect(segmenter.adaptiveThreshold(ramp, window: 60, global: 150) == nil)  // one block vertically
    }

    @Test func holesFilledBorderAndSizeFilters() throws {
        var image = Image(width: 60, height: 60, value: 10, bitDepth: .uint16)
        disk(&image, 20, 20, 8, 500)
        disk(&image, 20, 20, 2, 10)   // a hole
        disk(&image, 2, 45, 6, 500)   // touches the border
        disk(&image, 45, 45, 1.5, 500) // too small
        var config = SegmentationConfig()
        config.minDiameter = 6
        config.declump = .none
        config.removeBorderObjects = true
        let result = try NucleusSegmenter(config).segment(image)
        #expect(result.nuclei.count == 1)
        #expect(result.nuclei.first.map { abs($0.diameter - 16) < 1.5 } == true)
    }

    @Test func emptyConstantAndBadImages() throws {
        let segmenter = try NucleusSegmenter(SegmentationConfig())
        let constant = try segmenter.segment(Image(width: 32, height: 32, value: 7))
        #expect(constant.nuclei.isEmpty && constant.flag == "constant image")
        var rng = SeededGenerator(seed: 1)
        let noise = Image(width: 64, height: 64, pixels: (0..<4096).map { _ in Float(100 + rng.normal()) }, bitDepth: .uint16)
        let empty = try segmenter.segment(noise)
        #expect(empty.nuclei.allSatisfy { $0.meanIntensity.isFinite })
        var saturated = Image(width: 64, height: 64, value: 65535, bitDepth: .uint16)
        saturated[3, 3] = 0
        #expect(try segmenter.segment(saturated).nuclei.allSatisfy { $0.centerX.isFinite })
        var nan = Image(width: 16, height: 16, value: 1)
        nan[4, 5] = .nan
        #expect(throws: MorphoError.data(context: "plate P well A01", problem: "non-finite pixel at x=4, y=5")) {
            try segmenter.segment(nan, context: "plate P well A01")
        }
        var bad = SegmentationConfig()
        bad.maxDiameter = 2
        #expect(throws: MorphoError.self) { try NucleusSegmenter(bad) }
    }
}
