import MorphoCore

/// Population profiles: the mean or median of every feature over the rows of each stratum
/// (pycytominer's `aggregate`; cytominer's `aggregate`).
public enum Aggregate {
    public enum Operation: String, Sendable, CaseIterable { case mean, median }

    /// One row per group of `strata` (see `RowGroups` for the order). The output keeps the strata
    /// columns, every other metadata column whose value is the same on all rows of every group (MoA,
    /// batch, ...), and `Metadata_Count`, the number of rows aggregated. NaN values are skipped; a
    /// feature that is NaN on all rows of a group stays NaN.
    public static func aggregate(_ table: FeatureTable, by strata: [String], operation: Operation = .mean) throws -> FeatureTable {
        let groups = try RowGroups(table, by: strata)
        let d = table.featureCount
        var out = [Float](repeating: 0, count: groups.count * d)
        var buffer = [Double]()
        for (g, members) in groups.rows.enumerated() {
            switch operation {
            case .mean:
                for (j, m) in Stats.columnMeans(table.features, cols: d, rows: members).enumerated() { out[g * d + j] = Float(m) }
            case .median:
                for j in 0..<d {
                    buffer.removeAll(keepingCapacity: true)
                    for r in members { let v = table[row: r, feature: j]; if !v.isNaN { buffer.append(Double(v)) } }
                    out[g * d + j] = Float(Stats.median(buffer))
                }
            }
        }
        var names = [String](), columns = [MetadataColumn]()
        for (k, name) in strata.enumerated() {
            names.append(name)
            let column = table.metadataColumn(name)!
            switch column {
            case .numbers(let v): columns.append(.numbers(groups.rows.map { v[$0[0]] }))
            case .strings: columns.append(.strings(groups.keys.map { $0[k] }))
            }
        }
        for (name, column) in zip(table.metadataNames, table.metadata) where !strata.contains(name) && name != "Metadata_Count" {
            let t = column.texts
            guard groups.rows.allSatisfy({ m in m.allSatisfy { t[$0] == t[m[0]] } }) else { continue }
            names.append(name)
            switch column {
            case .numbers(let v): columns.append(.numbers(groups.rows.map { v[$0[0]] }))
            case .strings(let v): columns.append(.strings(groups.rows.map { v[$0[0]] }))
            }
        }
        names.append("Metadata_Count")
        columns.append(.numbers(groups.rows.map { Double($0.count) }))
        return try FeatureTable(metadataNames: names, metadata: columns, featureNames: table.featureNames,
                                features: out, rowCount: groups.count, context: "aggregate")
    }
}
