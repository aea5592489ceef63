import Foundation
import MorphoCore
import MorphoIO

/// Population profiles from single-cell embeddings: the mean embedding of every well, with the
/// pycytominer metadata (`Metadata_Plate`, `Metadata_Well`, `Metadata_Batch`, `Metadata_Compound`,
/// `Metadata_Concentration`, `Metadata_MoA`) from the experiment, and features `<tap>_<i>`.
public enum EmbeddingProfiles {
    public static func wells(folder: URL, experiment: Experiment, tap: String) throws -> FeatureTable {
        var plates = [String](), wells = [String](), batches = [String](), compounds = [String](), moas = [String]()
        var concentrations = [Double](), features = [Float]()
        var dimension = 0
        for plate in experiment.plates {
            let url = EmbeddingStage.url(folder: folder, plate: plate.name)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw MorphoError.file(path: url.path, problem: "no embeddings for plate \(plate.name) (run `morpho embed` first)")
            }
            let file = try HDF5File(opening: url)
            defer { file.close() }
            guard file.exists("/embeddings/\(tap)") else {
                throw MorphoError.hdf5(path: url.path, object: "/embeddings/\(tap)", problem: "no embeddings at layer '\(tap)'")
            }
            let (values, shape) = try file.readItems("/embeddings/\(tap)")
            let d = shape.count == 2 ? shape[1] : 0
            guard dimension == 0 || d == dimension else {
                throw MorphoError.data(context: url.path, problem: "layer '\(tap)' has \(d) dimensions, other plates \(dimension)")
            }
            dimension = d
            let cellWells = try file.readStrings("/Metadata_Well")
            var rowsOfWell = [String: [Int]]()
            for (i, w) in cellWells.enumerated() { rowsOfWell[w, default: []].append(i) }
            for well in plate.wells {
                guard let rows = rowsOfWell["\(well.id)"], !rows.isEmpty else { continue }
                var mean = [Double](repeating: 0, count: d)
                for r in rows { for j in 0..<d { mean[j] += Double(values[r * d + j]) } }
                features += mean.map { Float($0 / Double(rows.count)) }
                plates.append(plate.name); wells.append("\(well.id)"); batches.append(plate.batch)
                compounds.append(well.treatment?.compound ?? ""); concentrations.append(well.treatment?.concentration ?? .nan)
                moas.append(well.treatment?.moa ?? "")
            }
        }
        return try FeatureTable(
            metadataNames: ["Metadata_Plate", "Metadata_Well", "Metadata_Batch", "Metadata_Compound", "Metadata_Concentration", "Metadata_MoA"],
            metadata: [.strings(plates), .strings(wells), .strings(batches), .strings(compounds), .numbers(concentrations), .strings(moas)],
            featureNames: (0..<dimension).map { "\(tap)_\($0)" }, features: features, rowCount: plates.count, context: "embeddings in \(folder.path)")
    }
}

extension EmbeddingStage {
    /// Whether `file` is an embeddings file (per-cell metadata at the root, `/embeddings/<tap>`).
    public static func isEmbeddingsFile(_ file: HDF5File) -> Bool {
        file.exists("/embeddings") && file.exists("/Metadata_Well")
    }

    /// One row per cell of an embeddings file: its per-cell metadata (`Metadata_*`; the nucleus number
    /// and centre as `Metadata_Nuclei_*`, so that pycytominer and the profile stage do not take them
    /// for features) and every tap's embedding as features `<tap>_<i>` (taps in name order), as
    /// `morpho table` and `morpho profile` read it. A tap whose row count differs is an error naming it.
    public static func readCells(_ url: URL) throws -> FeatureTable {
        let file = try HDF5File(opening: url)
        defer { file.close() }
        var names = [String](), columns = [MetadataColumn]()
        for name in try file.members(of: "/") where name.hasPrefix("Metadata_") || name.hasPrefix("Nuclei_") {
            names.append(name.hasPrefix("Metadata_") ? name : "Metadata_" + name)
            columns.append(try file.isStringDataset("/\(name)") ? .strings(try file.readStrings("/\(name)")) : .numbers(try file.readDoubles("/\(name)")))
        }
        let rows = columns.first?.count ?? 0
        var featureNames = [String](), blocks = [(values: [Float], width: Int)]()
        for tap in try file.members(of: "/embeddings") {
            let (values, shape) = try file.readItems("/embeddings/\(tap)")
            guard shape.count == 2, shape[0] == rows else {
                throw MorphoError.hdf5(path: url.path, object: "/embeddings/\(tap)", problem: "shape \(shape) does not match the \(rows) cells of the metadata")
            }
            featureNames += (0..<shape[1]).map { "\(tap)_\($0)" }
            blocks.append((values, shape[1]))
        }
        var features = [Float]()
        features.reserveCapacity(rows * featureNames.count)
        for r in 0..<rows { for b in blocks { features += b.values[(r * b.width)..<((r + 1) * b.width)] } }
        return try FeatureTable(metadataNames: names, metadata: columns, featureNames: featureNames, features: features,
                                rowCount: rows, context: url.path)
    }
}
