import Cropping
import Foundation
import MorphoCore

/// Single-cell crops labelled by the treatment of their well (weak supervision: the label is the
/// treatment, not the phenotype), split by whole wells into training and validation sets.
public struct CellDataset: Sendable {
    public let channels: [String]
    public let size: Int
    public let normalization: String
    /// Treatment keys (`compound@concentration`) in label order.
    public let classNames: [String]
    /// Planar [count, C, size, size].
    public let pixels: [Float]
    public let labels: [Int]
    /// `plate/well` of each cell.
    public let wells: [String]
    public var count: Int { labels.count }
    public var itemSize: Int { channels.count * size * size }

    /// Loads every crop store of the experiment's plates; cells of wells without a treatment are left out.
    public init(cropFolder: URL, experiment: Experiment) throws {
        var pixels = [Float](), treatments = [String](), wells = [String]()
        var channels: [String]?, size = 0, normalization = ""
        for plate in experiment.plates {
            let store = try CropStore(url: CropStore.url(folder: cropFolder, plate: plate.name))
            if let channels, channels != store.channels || size != store.boxSize {
                throw MorphoError.data(context: store.url.path, problem: "crops of \(store.channels) at \(store.boxSize) px differ from other plates (\(channels) at \(size) px)")
            }
            channels = store.channels
            size = store.boxSize
            normalization = store.normalization
            let treatmentOfWell = Dictionary(plate.wells.map { ("\($0.id)", $0.treatment?.key) }, uniquingKeysWith: { a, _ in a })
            let all = try store.crops(0..<store.count)
            let item = store.channels.count * store.boxSize * store.boxSize
            for i in 0..<store.count {
                guard let key = treatmentOfWell[store.wells[i]] ?? nil else { continue }
                pixels += all[(i * item)..<((i + 1) * item)]
                treatments.append(key)
                wells.append("\(plate.name)/\(store.wells[i])")
            }
        }
        guard let channels, !treatments.isEmpty else {
            throw MorphoError.data(context: cropFolder.path, problem: "no crops of treated wells to train on")
        }
        let names = Array(Set(treatments)).sorted(by: naturalLess)
        guard names.count >= 2 else {
            throw MorphoError.data(context: cropFolder.path, problem: "weak supervision needs at least 2 treatments, found \(names.count)")
        }
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        self.channels = channels
        self.size = size
        self.normalization = normalization
        self.classNames = names
        self.pixels = pixels
        self.labels = treatments.map { index[$0]! }
        self.wells = wells
    }

    /// Cell indices for training and validation: for every class with at least two wells,
    /// `validationWellsPerClass` of its wells (chosen with `seed`) are held out, so validation measures
    /// generalization to replicate wells.
    public func split(validationWellsPerClass: Int, seed: UInt64) -> (train: [Int], validation: [Int]) {
        var wellsOfClass = [Int: [String]]()
        for i in 0..<count where !(wellsOfClass[labels[i]]?.contains(wells[i]) ?? false) { wellsOfClass[labels[i], default: []].append(wells[i]) }
        var held = Set<String>()
        var rng = SeededGenerator(seed: seed, stream: "validation wells")
        for c in wellsOfClass.keys.sorted() {
            var ws = wellsOfClass[c]!.sorted(by: naturalLess)
            guard ws.count >= 2 else { continue }
            ws.shuffle(using: &rng)
            held.formUnion(ws.prefix(min(validationWellsPerClass, ws.count - 1)))
        }
        var train = [Int](), validation = [Int]()
        for i in 0..<count { if held.contains(wells[i]) { validation.append(i) } else { train.append(i) } }
        return (train, validation)
    }
}
