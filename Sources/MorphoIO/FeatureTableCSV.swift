import Foundation
import MorphoCore

/// `FeatureTable` <-> CSV in pycytominer's conventions: columns whose names start with `Metadata_` are
/// metadata, every other column is a numeric feature. Missing values (empty, `NaN`, `nan`, `NA`) read
/// as NaN and are written as empty fields, as pandas does.
public enum FeatureTableCSV {
    /// Reads a plain or gzipped CSV. `isMetadata` decides which columns are metadata (default: the
    /// `Metadata_` prefix); `rename` maps source names to Morpho names first (for example
    /// `Image_Metadata_Plate` -> `Metadata_Plate`). A non-numeric value in a feature column is an error
    /// naming the file, line and column.
    ///
    /// A metadata column is read as numbers when every non-empty value parses as a number and none is
    /// written with a leading zero (so "001" and well names stay text).
    public static func read(_ url: URL, rename: [String: String] = [:],
                            isMetadata: (String) -> Bool = { $0.hasPrefix("Metadata_") }) throws -> FeatureTable {
        var csv = try CSV.read(url)
        csv.header = csv.header.map { rename[$0] ?? $0 }
        return try table(from: csv, isMetadata: isMetadata)
    }

    /// Converts a parsed CSV into a feature table (see `read`).
    public static func table(from csv: CSVTable, isMetadata: (String) -> Bool = { $0.hasPrefix("Metadata_") }) throws -> FeatureTable {
        var metaNames = [String](), meta = [MetadataColumn](), featureNames = [String](), featureIndices = [Int]()
        for (k, name) in csv.header.enumerated() {
            if isMetadata(name) {
                metaNames.append(name)
                meta.append(inferColumn(csv.columns[k]))
            } else {
                featureNames.append(name)
                featureIndices.append(k)
            }
        }
        let rows = csv.rowCount, d = featureNames.count
        var features = [Float](repeating: 0, count: rows * d)
        for (j, k) in featureIndices.enumerated() {
            for (r, text) in csv.columns[k].enumerated() {
                guard let v = parseNumber(text) else {
                    throw MorphoError.table(file: csv.source, line: csv.lineNumber(ofRow: r), column: csv.header[k],
                                            problem: "feature value '\(text)' is not a number (name metadata columns with the Metadata_ prefix)")
                }
                features[r * d + j] = Float(v)
            }
        }
        return try FeatureTable(metadataNames: metaNames, metadata: meta, featureNames: featureNames,
                                features: features, rowCount: rows, context: csv.source)
    }

    /// Writes metadata columns first, then features, atomically; gzipped when the name ends in `.gz`.
    /// Features are written in Float32's shortest round-trip form, so reading back is exact.
    public static func write(_ table: FeatureTable, to url: URL) throws {
        try CSV.writeData(render(table), to: url)
    }

    /// The CSV bytes of `table`.
    public static func render(_ table: FeatureTable) -> Data {
        CSV.render(header: table.metadataNames + table.featureNames, rowCount: table.rowCount) { r, fields in
            for column in table.metadata { fields.append(column.text(r)) }
            for j in 0..<table.featureCount {
                let v = table[row: r, feature: j]
                fields.append(v.isNaN ? "" : "\(v)")
            }
        }
    }

    /// Parses a number; empty and NA spellings give NaN; nil when the text is not a number.
    static func parseNumber(_ text: String) -> Double? {
        switch text {
        case "", "NaN", "nan", "NA", "N/A", "null", "None": return .nan
        case "inf", "Inf", "Infinity": return .infinity
        case "-inf", "-Inf", "-Infinity": return -.infinity
        default: return Double(text.trimmingCharacters(in: .whitespaces))
        }
    }

    static func inferColumn(_ values: [String]) -> MetadataColumn {
        var numbers = [Double]()
        numbers.reserveCapacity(values.count)
        var sawNumber = false
        for text in values {
            if text.isEmpty { numbers.append(.nan); continue }
            let u = Array(text.utf8)
            let leadingZero = u.count > 1 && u[0] == UInt8(ascii: "0") && u[1] != UInt8(ascii: ".")
            guard !leadingZero, let v = Double(text), v.isFinite else { return .strings(values) }
            numbers.append(v)
            sawNumber = true
        }
        return sawNumber ? .numbers(numbers) : .strings(values)
    }
}
