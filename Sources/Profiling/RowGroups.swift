import MorphoCore

/// Rows of a table grouped by the values of metadata columns (strata), in a stable order: groups sort
/// by their values column by column (numbers numerically, text in natural order), rows keep table order.
public struct RowGroups: Sendable {
    /// The strata columns.
    public let columns: [String]
    /// For each group, the value of each strata column, as text.
    public let keys: [[String]]
    /// For each group, its rows in table order.
    public let rows: [[Int]]

    public init(_ table: FeatureTable, by columns: [String]) throws {
        var ranks = [[Int]]()
        var texts = [[String]]()
        for name in columns {
            guard let column = table.metadataColumn(name) else {
                throw MorphoError.data(context: "grouping", problem: "no metadata column '\(name)' (have \(table.metadataNames.joined(separator: ", ")))")
            }
            let t = column.texts
            texts.append(t)
            let order: [String]
            switch column {
            case .numbers(let v):
                let unique = Dictionary(v.indices.map { (t[$0], v[$0]) }, uniquingKeysWith: { a, _ in a })
                order = unique.keys.sorted { (unique[$0]!.isNaN ? .infinity : unique[$0]!) < (unique[$1]!.isNaN ? .infinity : unique[$1]!) }
            case .strings:
                order = Set(t).sorted(by: naturalLess)
            }
            let rank = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
            ranks.append(t.map { rank[$0]! })
        }
        var groups = [[Int]: [Int]]()
        for r in 0..<table.rowCount { groups[ranks.map { $0[r] }, default: []].append(r) }
        let sortedKeys = groups.keys.sorted { $0.lexicographicallyPrecedes($1) }
        self.columns = columns
        self.rows = sortedKeys.map { groups[$0]! }
        self.keys = self.rows.map { members in texts.map { $0[members[0]] } }
    }

    public var count: Int { rows.count }

    /// "column=value, ..." naming group g in messages.
    public func describe(_ g: Int) -> String {
        zip(columns, keys[g]).map { "\($0)=\($1)" }.joined(separator: ", ")
    }
}
