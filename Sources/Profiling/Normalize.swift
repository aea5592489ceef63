import MorphoCore

/// Normalization against negative controls, per plate, per batch or globally (pycytominer's
/// `normalize` with `samples` = the controls):
///
/// - `standardize`: z = (x - mean_c) / sd_c, with the controls' mean and sample sd (n - 1);
/// - `robustStandardize`: z = (x - median_c) / (1.4826 * MAD_c);
/// - `center`: x - mean_c.
///
/// A feature whose control spread is zero in some group cannot be scaled there. It is never turned
/// into Inf or NaN: with `zeroSpread = .drop` (default) the feature is removed from the output, with
/// `.centerOnly` it is only centred in that group; either way the report lists every (group, feature).
public struct ControlNormalization: Sendable, Equatable, Codable {
    public enum Method: String, Sendable, Codable, CaseIterable { case standardize, robustStandardize = "robust", center }
    public enum ZeroSpread: String, Sendable, Codable { case drop, centerOnly = "center-only" }

    public var method: Method
    /// Metadata column whose groups are normalized separately (Metadata_Plate); nil: all rows together.
    public var groupBy: String?
    public var controls: Controls
    public var zeroSpread: ZeroSpread

    public init(method: Method = .standardize, groupBy: String? = "Metadata_Plate", controls: Controls = Controls(),
                zeroSpread: ZeroSpread = .drop) {
        self.method = method
        self.groupBy = groupBy
        self.controls = controls
        self.zeroSpread = zeroSpread
    }

    public struct Report: Sendable, Equatable {
        /// (group, feature) pairs whose control spread was zero.
        public var zeroSpread: [(group: String, feature: String)] = []
        /// Features removed because of zero spread.
        public var droppedFeatures: [String] = []

        public static func == (a: Report, b: Report) -> Bool {
            a.droppedFeatures == b.droppedFeatures && a.zeroSpread.map { "\($0.group)|\($0.feature)" } == b.zeroSpread.map { "\($0.group)|\($0.feature)" }
        }
    }

    /// Normalizes every row with its group's control statistics. Errors name the group without
    /// controls, or the feature and row holding NaN or infinity.
    public func apply(_ table: FeatureTable) throws -> (FeatureTable, Report) {
        try table.checkFinite(context: "normalize input")
        let isControl = try controls.mask(table)
        let groups = try RowGroups(table, by: groupBy.map { [$0] } ?? [])
        let d = table.featureCount
        var out = table.features
        var report = Report()
        var dropped = Set<Int>()
        for (g, members) in groups.rows.enumerated() {
            let controlRows = members.filter { isControl[$0] }
            let name = groupBy == nil ? "all rows" : groups.describe(g)
            guard controlRows.count >= (method == .center ? 1 : 2) else {
                throw MorphoError.data(context: name, problem: "\(controlRows.count) control row(s) (\(controls.column) == \(controls.value)); at least \(method == .center ? 1 : 2) needed to normalize")
            }
            let stats = statistics(table, rows: controlRows)
            var center = [Float](repeating: 0, count: d), inverseScale = [Float](repeating: 1, count: d)
            for j in 0..<d {
                center[j] = Float(stats.center[j])
                if method == .center { continue }
                if stats.spread[j] > 1e-12 * max(abs(stats.center[j]), 1e-300) {
                    inverseScale[j] = Float(1 / stats.spread[j])
                } else {
                    report.zeroSpread.append((name, table.featureNames[j]))
                    if zeroSpread == .drop { dropped.insert(j) }
                }
            }
            // Row-major pass: (x - center) * (1 / scale).
            out.withUnsafeMutableBufferPointer { o in
                for r in members {
                    let row = o.baseAddress! + r * d
                    for j in 0..<d { row[j] = (row[j] - center[j]) * inverseScale[j] }
                }
            }
        }
        var result = try FeatureTable(metadataNames: table.metadataNames, metadata: table.metadata, featureNames: table.featureNames,
                                      features: out, rowCount: table.rowCount, context: "normalize")
        if !dropped.isEmpty {
            let keep = (0..<d).filter { !dropped.contains($0) }
            report.droppedFeatures = dropped.sorted().map { table.featureNames[$0] }
            result = result.selectingFeatures(keep)
        }
        return (result, report)
    }

    /// Control statistics per feature. Means and sds accumulate row by row in Double (two passes);
    /// medians and MADs gather each feature's values.
    func statistics(_ table: FeatureTable, rows: [Int]) -> GroupStatistics {
        let d = table.featureCount
        var center = [Double](repeating: 0, count: d), spread = [Double](repeating: 1, count: d)
        table.features.withUnsafeBufferPointer { x in
            switch method {
            case .standardize, .center:
                center = Stats.columnMeans(table.features, cols: d, rows: rows)
                guard method == .standardize else { return }
                var ss = [Double](repeating: 0, count: d)
                for r in rows { for j in 0..<d { let v = Double(x[r * d + j]) - center[j]; ss[j] += v * v } }
                for j in 0..<d { spread[j] = (ss[j] / Double(rows.count - 1)).squareRoot() }
            case .robustStandardize:
                var column = [Double](repeating: 0, count: rows.count)
                for j in 0..<d {
                    for (k, r) in rows.enumerated() { column[k] = Double(x[r * d + j]) }
                    center[j] = Stats.median(column)
                    spread[j] = Stats.mad(column)
                }
            }
        }
        return GroupStatistics(center: center, spread: spread)
    }
}

extension FeatureTable {
    /// A table with only the given feature columns, in the given order.
    public func selectingFeatures(_ columns: [Int]) -> FeatureTable {
        let d = featureCount
        var out = [Float]()
        out.reserveCapacity(rowCount * columns.count)
        features.withUnsafeBufferPointer { x in
            for r in 0..<rowCount { for j in columns { out.append(x[r * d + j]) } }
        }
        return try! FeatureTable(metadataNames: metadataNames, metadata: metadata, featureNames: columns.map { featureNames[$0] },
                                 features: out, rowCount: rowCount)
    }

    /// The features as a Double matrix (rows x features), optionally only some rows.
    public func matrix(rows subset: [Int]? = nil) -> Matrix {
        let d = featureCount
        let rows = subset ?? Array(0..<rowCount)
        var values = [Double]()
        values.reserveCapacity(rows.count * d)
        for r in rows { for j in 0..<d { values.append(Double(features[r * d + j])) } }
        return Matrix(rows: rows.count, cols: d, values: values)
    }

    /// A copy with the same metadata and new features (names and row-major values).
    public func replacingFeatures(names: [String], values: [Float]) throws -> FeatureTable {
        try FeatureTable(metadataNames: metadataNames, metadata: metadata, featureNames: names, features: values,
                         rowCount: rowCount, context: "features")
    }
}
