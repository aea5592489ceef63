import Foundation
import MorphoCore

/// `FeatureTable` <-> an HDF5 group:
///
/// ```
/// <group>/metadata_names   strings   metadata column names, in order
/// <group>/metadata/<name>  strings or float64 [rows]
/// <group>/feature_names    strings   [features]
/// <group>/features         float32   [rows, features], chunked, shuffle + deflate
/// ```
public enum FeatureTableHDF5 {
    public static func write(_ table: FeatureTable, to file: HDF5File, group: String) throws {
        let g = group.hasSuffix("/") ? String(group.dropLast()) : group
        try file.writeStrings("\(g)/metadata_names", table.metadataNames)
        for (name, column) in zip(table.metadataNames, table.metadata) {
            switch column {
            case .strings(let v): try file.writeStrings("\(g)/metadata/\(name)", v)
            case .numbers(let v): try file.writeDoubles("\(g)/metadata/\(name)", v)
            }
        }
        try file.writeStrings("\(g)/feature_names", table.featureNames)
        try file.writeMatrix("\(g)/features", table.features, rows: table.rowCount, cols: table.featureCount)
        try file.setAttribute("morpho_feature_table", 1, on: g)
    }

    public static func read(from file: HDF5File, group: String) throws -> FeatureTable {
        let g = group.hasSuffix("/") ? String(group.dropLast()) : group
        let metaNames = try file.readStrings("\(g)/metadata_names")
        let featureNames = try file.readStrings("\(g)/feature_names")
        let (values, rows, cols) = try file.readMatrix("\(g)/features")
        guard cols == featureNames.count || (rows == 0 && cols == 0) else {
            throw MorphoError.hdf5(path: file.url.path, object: "\(g)/features",
                                   problem: "\(cols) columns but \(featureNames.count) feature names")
        }
        var meta = [MetadataColumn]()
        for name in metaNames {
            let path = "\(g)/metadata/\(name)"
            // Numbers are stored as float64, text as strings: try the numeric read only for non-strings.
            if let strings = try? file.readStrings(path) {
                meta.append(.strings(strings))
            } else {
                meta.append(.numbers(try file.readDoubles(path)))
            }
        }
        let rowCount = meta.first?.count ?? rows
        return try FeatureTable(metadataNames: metaNames, metadata: meta, featureNames: featureNames,
                                features: values, rowCount: rowCount, context: "\(file.url.path) [\(g)]")
    }
}

/// The per-plate single-cell store, `<plate>.h5`:
///
/// ```
/// /                       attrs: morpho_store_version (1), plate, created_by ("Morpho <version>")
/// /cells                  FeatureTable group (see FeatureTableHDF5): one row per cell; metadata
///                         Metadata_Plate, Metadata_Well, Metadata_Site, Nuclei_Location_Center_X/Y
///                         (pixels, 0-based) and any other per-cell metadata; features may be empty
/// /embeddings/<layer>     float32 [cells, dims], row i = cell i of /cells; attrs: model, layer
/// ```
public struct SingleCellStore {
    public static let version = 1.0

    public var plate: String
    public var cells: FeatureTable
    /// Embeddings per network layer, each [cells.rowCount x dims] row-major.
    public var embeddings: [String: (values: [Float], dims: Int)]
    /// Free-form provenance strings stored as root attributes (model name, config hash, ...); reading
    /// a store also returns `created_by`.
    public var provenance: [String: String]

    public init(plate: String, cells: FeatureTable, embeddings: [String: (values: [Float], dims: Int)] = [:],
                provenance: [String: String] = [:]) {
        self.plate = plate
        self.cells = cells
        self.embeddings = embeddings
        self.provenance = provenance
    }

    /// Writes the store atomically.
    public func write(to url: URL) throws {
        for (layer, e) in embeddings where e.values.count != cells.rowCount * e.dims {
            throw MorphoError.data(context: "\(url.path) embeddings/\(layer)",
                                   problem: "\(e.values.count) values for \(cells.rowCount) cells x \(e.dims) dims")
        }
        try HDF5File.writeAtomically(to: url) { f in
            try f.setAttribute("morpho_store_version", SingleCellStore.version)
            try f.setAttribute("plate", plate)
            try f.setAttribute("created_by", "Morpho \(MorphoVersion.current)")
            for (k, v) in provenance.sorted(by: { $0.key < $1.key }) { try f.setAttribute(k, v) }
            try FeatureTableHDF5.write(cells, to: f, group: "/cells")
            for (layer, e) in embeddings.sorted(by: { $0.key < $1.key }) {
                try f.writeMatrix("/embeddings/\(layer)", e.values, rows: cells.rowCount, cols: e.dims)
                try f.setAttribute("layer", layer, on: "/embeddings/\(layer)")
            }
        }
    }

    /// Reads a store written by `write`.
    public static func read(from url: URL) throws -> SingleCellStore {
        let f = try HDF5File(opening: url)
        defer { f.close() }
        guard let version = try f.numberAttribute("morpho_store_version") else {
            throw MorphoError.hdf5(path: url.path, object: "/", problem: "not a Morpho single-cell store (no morpho_store_version)")
        }
        guard version <= SingleCellStore.version else {
            throw MorphoError.hdf5(path: url.path, object: "/", problem: "store version \(version) is newer than this Morpho reads (\(SingleCellStore.version))")
        }
        let plate = try f.stringAttribute("plate") ?? url.deletingPathExtension().lastPathComponent
        let cells = try FeatureTableHDF5.read(from: f, group: "/cells")
        var embeddings = [String: (values: [Float], dims: Int)]()
        if f.exists("/embeddings") {
            for layer in try f.members(of: "/embeddings") {
                let m = try f.readMatrix("/embeddings/\(layer)")
                guard m.rows == cells.rowCount else {
                    throw MorphoError.hdf5(path: url.path, object: "/embeddings/\(layer)", problem: "\(m.rows) rows for \(cells.rowCount) cells")
                }
                embeddings[layer] = (m.values, m.cols)
            }
        }
        var provenance = [String: String]()
        for name in try f.attributeNames() where !["morpho_store_version", "plate"].contains(name) {
            if let value = try? f.stringAttribute(name) { provenance[name] = value }
        }
        return SingleCellStore(plate: plate, cells: cells, embeddings: embeddings, provenance: provenance)
    }
}
