/// A metadata column: text or numbers, one value per row.
public enum MetadataColumn: Sendable, Equatable {
    case strings([String])
    case numbers([Double])

    public var count: Int {
        switch self {
        case .strings(let v): return v.count
        case .numbers(let v): return v.count
        }
    }

    /// The value of row `i` as text (numbers in shortest form, NaN as empty).
    public func text(_ i: Int) -> String {
        switch self {
        case .strings(let v): return v[i]
        case .numbers(let v): return v[i].isNaN ? "" : formatNumber(v[i])
        }
    }

    /// All values as text.
    public var texts: [String] {
        switch self {
        case .strings(let v): return v
        case .numbers: return (0..<count).map(text)
        }
    }

    func selecting(_ rows: [Int]) -> MetadataColumn {
        switch self {
        case .strings(let v): return .strings(rows.map { v[$0] })
        case .numbers(let v): return .numbers(rows.map { v[$0] })
        }
    }
}

/// Profiles or single-cell measurements: named metadata columns plus a row-major Float32 feature matrix.
///
/// Column names follow pycytominer: metadata columns start with `Metadata_`, features carry no prefix.
/// `features[r * featureCount + j]` is feature j of row r.
public struct FeatureTable: Sendable, Equatable {
    public private(set) var metadataNames: [String]
    public private(set) var metadata: [MetadataColumn]
    public let featureNames: [String]
    public private(set) var features: [Float]
    public let rowCount: Int

    public var featureCount: Int { featureNames.count }

    /// Checks shapes and that column names are unique; throws `MorphoError.data` naming the column.
    public init(metadataNames: [String], metadata: [MetadataColumn], featureNames: [String],
                features: [Float], rowCount: Int, context: String = "feature table") throws {
        guard metadataNames.count == metadata.count else {
            throw MorphoError.data(context: context, problem: "\(metadataNames.count) metadata names for \(metadata.count) columns")
        }
        for (name, column) in zip(metadataNames, metadata) where column.count != rowCount {
            throw MorphoError.data(context: context, problem: "metadata column '\(name)' has \(column.count) values for \(rowCount) rows")
        }
        guard features.count == rowCount * featureNames.count else {
            throw MorphoError.data(context: context, problem: "\(features.count) feature values for \(rowCount) rows x \(featureNames.count) features")
        }
        var seen = Set<String>()
        for name in metadataNames + featureNames where !seen.insert(name).inserted {
            throw MorphoError.data(context: context, problem: "column '\(name)' appears twice")
        }
        self.metadataNames = metadataNames
        self.metadata = metadata
        self.featureNames = featureNames
        self.features = features
        self.rowCount = rowCount
    }

    public func metadataColumn(_ name: String) -> MetadataColumn? {
        metadataNames.firstIndex(of: name).map { metadata[$0] }
    }

    public func featureIndex(_ name: String) -> Int? { featureNames.firstIndex(of: name) }

    /// Feature j of row r.
    public subscript(row r: Int, feature j: Int) -> Float {
        features[r * featureCount + j]
    }

    /// The feature vector of row r.
    public func row(_ r: Int) -> ArraySlice<Float> {
        features[(r * featureCount)..<((r + 1) * featureCount)]
    }

    /// Adds or replaces a metadata column.
    public mutating func setMetadata(_ name: String, _ column: MetadataColumn) throws {
        guard column.count == rowCount else {
            throw MorphoError.data(context: name, problem: "\(column.count) values for \(rowCount) rows")
        }
        if let i = metadataNames.firstIndex(of: name) {
            metadata[i] = column
        } else {
            guard !featureNames.contains(name) else {
                throw MorphoError.data(context: name, problem: "a feature column already has this name")
            }
            metadataNames.append(name)
            metadata.append(column)
        }
    }

    /// A table with only the given rows, in the given order.
    public func selectingRows(_ rows: [Int]) -> FeatureTable {
        var out = [Float]()
        out.reserveCapacity(rows.count * featureCount)
        for r in rows { out.append(contentsOf: row(r)) }
        // Shapes are consistent by construction.
        return try! FeatureTable(metadataNames: metadataNames, metadata: metadata.map { $0.selecting(rows) },
                                 featureNames: featureNames, features: out, rowCount: rows.count)
    }

    /// Throws `MorphoError.data` naming the first feature column and row holding NaN or infinity.
    public func checkFinite(context: String) throws {
        for r in 0..<rowCount {
            for j in 0..<featureCount where !features[r * featureCount + j].isFinite {
                throw MorphoError.data(context: context,
                                       problem: "feature '\(featureNames[j])' is \(features[r * featureCount + j]) in row \(r + 1)")
            }
        }
    }
}
