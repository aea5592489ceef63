import Cropping
import Foundation
import MorphoCore
import MorphoIO
import NeuralNetwork

/// `morpho embed` as code: crops -> embeddings per plate, `<output>/<plate>.h5` with
/// `/embeddings/<tap>` float32 [N, D] and the crop metadata per cell (`/Metadata_Plate`, `/Metadata_Well`,
/// `/Metadata_Site`, `/Nuclei_Number_Object_Number`, `/Nuclei_Location_Center_X/Y`); attributes `model`
/// (the card's identity), `model_card` (JSON) and `taps`. Crops come from the crop stage's stores or are
/// streamed from the crop stage itself (nothing stored in between). A rerun skips current plates.
public struct EmbeddingStage {
    public enum CropSource {
        /// `<folder>/<plate>.h5` written by `morpho crop`.
        case store(URL)
        /// Crops made on the fly.
        case stream(CropStage)
    }

    public let embedder: Embedder
    public let source: CropSource

    /// Files besides the crops whose content the embeddings depend on (the model file).
    public var extraInputs: [URL] = []

    public init(embedder: Embedder, source: CropSource) {
        self.embedder = embedder
        self.source = source
    }

    public struct PlateResult: Sendable {
        public var plate: String
        public var reused: Bool
        public var cells: Int
        public var seconds: Double
    }

    public static func url(folder: URL, plate: String) -> URL { folder.appendingPathComponent("\(plate).h5") }

    /// Cell metadata collected alongside the embeddings.
    struct Cells {
        var wells: [String] = [], sites: [Double] = [], objects: [Double] = [], xs: [Double] = [], ys: [Double] = []
    }

    public func run(_ experiment: Experiment, output: URL, progress: Bool = true) throws -> [PlateResult] {
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        AtomicFile.removeStaleTemporaries(under: output)
        var results: [PlateResult] = []
        for plate in experiment.plates {
            let out = EmbeddingStage.url(folder: output, plate: plate.name)
            var extra = embedder.card.identity
            if case .stream(let stage) = source { extra += String(decoding: try JSONEncoder.sorted.encode(stage.config), as: UTF8.self) }
            let key = try UnitKey(config: embedder.config.keyed, inputs: try inputs(plate: plate, experiment: experiment) + extraInputs, extra: extra, output: out)
            if let record = key.current {
                results.append(PlateResult(plate: plate.name, reused: true, cells: record.counts["cells"] ?? 0, seconds: 0))
                continue
            }
            let start = Date()
            let cells = try HDF5File.writeAtomically(to: out) { file in try embed(plate: plate, experiment: experiment, into: file, progress: progress) }
            let seconds = Date().timeIntervalSince(start)
            try key.finish(stage: "embed", unit: plate.name, outputs: [out], counts: ["cells": cells], seconds: seconds)
            results.append(PlateResult(plate: plate.name, reused: false, cells: cells, seconds: seconds))
        }
        return results
    }

    private func inputs(plate: Plate, experiment: Experiment) throws -> [URL] {
        switch source {
        case .store(let folder):
            return [CropStore.url(folder: folder, plate: plate.name)]
        case .stream(let stage):
            return try stage.inputs(plate: plate, experiment: experiment)
        }
    }

    private func embed(plate: Plate, experiment: Experiment, into file: HDF5File, progress: Bool) throws -> Int {
        let taps = embedder.config.taps
        for tap in taps { try file.createExtendable("/embeddings/\(tap)", itemShape: [embedder.dimension(of: tap)], chunkItems: 1024) }
        var cells = Cells()
        func write(_ pixels: [Float], count: Int, channels: Int, size: Int) throws {
            let embedded = try embedder.embed(pixels, count: count, channels: channels, size: size)
            for tap in taps { try file.append("/embeddings/\(tap)", embedded[tap] ?? []) }   // in a fixed order: same bytes
        }
        switch source {
        case .store(let folder):
            let store = try CropStore(url: CropStore.url(folder: folder, plate: plate.name))
            try embedder.check(channels: store.channels, size: store.boxSize, source: store.url.path)
            let reporter = ProgressReporter("embed \(plate.name)", total: store.count, unit: "cells", enabled: progress)
            let step = max(embedder.config.batchSize, 256)
            for start in stride(from: 0, to: store.count, by: step) {
                let range = start..<min(store.count, start + step)
                try write(try store.crops(range), count: range.count, channels: store.channels.count, size: store.boxSize)
                reporter.advance(by: range.count)
            }
            reporter.finish()
            cells = Cells(wells: store.wells, sites: store.sites, objects: store.objects, xs: store.xs, ys: store.ys)
        case .stream(let stage):
            let names = try experiment.channels(selecting: stage.config.channels, key: "crop.channels")
            try embedder.check(channels: names, size: stage.config.boxSize, source: "plate \(plate.name)")
            try stage.forEachBatch(plate: plate, experiment: experiment, progress: progress) { key, batch in
                guard batch.count > 0 else { return }
                try write(batch.pixels, count: batch.count, channels: batch.channelCount, size: batch.size)
                for i in 0..<batch.count {
                    cells.wells.append(key.well); cells.sites.append(Double(key.site)); cells.objects.append(Double(batch.labels[i]))
                    cells.xs.append(batch.centers[i].x); cells.ys.append(batch.centers[i].y)
                }
            }
        }
        try file.writeStrings("/Metadata_Plate", [String](repeating: plate.name, count: cells.wells.count))
        try file.writeStrings("/Metadata_Well", cells.wells)
        try file.writeDoubles("/Metadata_Site", cells.sites)
        try file.writeDoubles("/Nuclei_Number_Object_Number", cells.objects)
        try file.writeDoubles("/Nuclei_Location_Center_X", cells.xs)
        try file.writeDoubles("/Nuclei_Location_Center_Y", cells.ys)
        try file.setAttribute("model", embedder.card.identity)
        try file.setAttribute("model_card", String(decoding: try JSONEncoder.sorted.encode(embedder.card), as: UTF8.self))
        try file.setAttribute("taps", taps.joined(separator: ","))
        return cells.wells.count
    }
}
