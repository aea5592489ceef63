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
            for j in 0..<d {
                var scale = stats.spread[j]
                if method != .center, !(scale > 1e-12 * max(abs(stats.center[j]), 1e-300)) {
                    report.zeroSpread.append((name, table.featureNames[j]))
                    if zeroSpread == .drop { dropped.insert(j) }
                    scale = 1
                }
                let c = Float(stats.center[j]), s = Float(scale)
                for r in members { out[r * d + j] = (out[r * d + j] - c) / s }
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

    func statistics(_ table: FeatureTable, rows: [Int]) -> GroupStatistics {
        let d = table.featureCount
        var center = [Double](repeating: 0, count: d), spread = center
        var x = [Double](repeating: 0, count: rows.count)
        for j in 0..<d {
            for (k, r) in rows.enumerated() { x[k] = Double(table[row: r, feature: j]) }
            switch method {
            case .standardize: center[j] = Stats.mean(x); spread[j] = Stats.sd(x)
            case .robustStandardize: center[j] = Stats.median(x); spread[j] = Stats.mad(x)
            case .center: center[j] = Stats.mean(x); spread[j] = 1
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
