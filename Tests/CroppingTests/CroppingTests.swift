import Foundation
@testable import Cropping
import ImageProcessing
import MorphoCore
import MorphoIO
import MorphoTestSupport
import Segmentation
import Testing

@Suite struct CropperTests {
    func nucleus(_ label: Int32, _ x: Double, _ y: Double) -> Nucleus {
        Nucleus(label: label, centerX: x, centerY: y, area: 1, minX: 0, minY: 0, maxX: 1, maxY: 1, meanIntensity: 1)
    }

    let ramp = Image(width: 40, height: 30, pixels: (0..<1200).map { Float($0) }, bitDepth: .uint16)

    @Test func edgePolicies() throws {
        var config = CropConfig()
        config.boxSize = 10
        config.normalization = .none
        let nuclei = [nucleus(1, 20, 15), nucleus(2, 2, 2)]
        let skipped = try Cropper(config).crop(channels: [ramp], nuclei: nuclei, context: "f")
        #expect(skipped.count == 1 && skipped.skipped == 1 && skipped.padded == [false])
        // The box of the centre (20, 15) is x 15..<25, y 10..<20.
        #expect(skipped.pixels[0] == ramp[15, 10] && skipped.pixels[99] == ramp[24, 19])
        config.edge = .pad
        let padded = try Cropper(config).crop(channels: [ramp, ramp], nuclei: nuclei, context: "f")
        #expect(padded.count == 2 && padded.padded == [false, true])
        let second = Array(padded.pixels[200..<300])
        #expect(second[0] == 0 && second[3 * 10 + 3] == ramp[0, 0])
        #expect(padded.pixels.allSatisfy { $0.isFinite })
    }

    @Test func normalizationsNeverMakeNaN() throws {
        var config = CropConfig()
        config.boxSize = 8
        config.edge = .pad
        let flat = Image(width: 20, height: 20, value: 0)
        for n in CropConfig.Normalization.allCases {
            config.normalization = n
            let stats = ChannelStatistics(mean: [100, 0], std: [10, 0])
            let batch = try Cropper(config).crop(channels: [ramp, Image(width: 40, height: 30, value: 0)],
                                                 nuclei: [nucleus(1, 20, 15), nucleus(2, 39, 29)], statistics: stats, context: "f")
            #expect(batch.pixels.allSatisfy { $0.isFinite }, "\(n)")
            if n == .cropMax { #expect(batch.pixels[0..<64].max() == 1) }
            if n == .minMax { #expect(batch.pixels[0..<64].min() == 0 && batch.pixels[0..<64].max() == 1) }
        }
        config.normalization = .cropMax
        let zero = try Cropper(config).crop(channels: [flat], nuclei: [nucleus(1, 10, 10)], context: "f")
        #expect(zero.pixels.allSatisfy { $0 == 0 })
        config.normalization = .plateControls
        #expect(throws: MorphoError.self) { try Cropper(config).crop(channels: [flat], nuclei: [nucleus(1, 10, 10)], context: "f") }
    }

    @Test func masksOtherNuclei() throws {
        var config = CropConfig()
        config.boxSize = 8
        config.normalization = .none
        config.maskOtherNuclei = true
        var labels = LabelImage(width: 40, height: 30, labels: [Int32](repeating: 0, count: 1200), count: 2)
        labels.labels[15 * 40 + 20] = 1
        labels.labels[15 * 40 + 21] = 2
        let batch = try Cropper(config).crop(channels: [ramp], nuclei: [nucleus(1, 20, 15)], labels: labels, context: "f")
        #expect(batch.pixels[4 * 8 + 4] == ramp[20, 15])
        #expect(batch.pixels[4 * 8 + 5] == 0)
        #expect(throws: MorphoError.self) { try Cropper(config).crop(channels: [ramp], nuclei: [nucleus(1, 20, 15)], context: "f") }
    }
}

@Suite struct CropStageTests {
    /// Segment then crop the tiny screen into HDF5; crops agree with the streamed batches and the
    /// locations, a rerun reuses the store, and plate-controls statistics come from DMSO wells.
    @Test func storesCropsAndResumes() throws {
        let experiment = try TinyScreen.read()
        let dir = TestPaths.temporaryDirectory("crops")
        let locations = dir.appendingPathComponent("locations")
        let segmented = try SegmentationStage(config: .init(), output: locations).run(experiment, progress: false)
        var config = CropConfig()
        config.boxSize = 32
        let stage = try CropStage(config: config, locations: locations)
        let results = try stage.run(experiment, output: dir.appendingPathComponent("crops"), progress: false)
        for (s, r) in zip(segmented, results) { #expect(r.crops + r.skipped == s.nuclei) }
        let plate = experiment.plates[0]
        let file = try HDF5File(opening: dir.appendingPathComponent("crops/\(plate.name).h5"))
        let (values, shape) = try file.readItems("/crops")
        #expect(shape == [results[0].crops, 3, 32, 32])
        #expect(values.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 })
        #expect(try file.readStrings("/Metadata_Well").count == results[0].crops)
        var streamed = [Float]()
        try stage.forEachBatch(plate: plate, experiment: experiment, progress: false) { _, batch in streamed += batch.pixels }
        #expect(streamed == values)
        let (firstTwo, _) = try file.readItems("/crops", 1..<3)
        #expect(Array(values[(3 * 32 * 32)..<(9 * 32 * 32)]) == firstTwo)
        file.close()
        #expect(try stage.run(experiment, output: dir.appendingPathComponent("crops"), progress: false).allSatisfy { $0.reused })
        let stats = try stage.controlStatistics(plate: plate, experiment: experiment, channels: experiment.channels, functions: [:])
        #expect(stats.mean.allSatisfy { $0 > 0 } && stats.std.allSatisfy { $0 > 0 })
    }
}
