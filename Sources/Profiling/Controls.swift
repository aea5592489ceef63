import MorphoCore

/// Which rows are negative controls: rows whose `column` equals `value` (BBBC021: Metadata_Compound == DMSO).
public struct Controls: Sendable, Equatable, Codable {
    public var column: String
    public var value: String

    public init(column: String = "Metadata_Compound", value: String = "DMSO") {
        self.column = column
        self.value = value
    }

    /// One flag per row; throws naming the column if the table lacks it or has no control row.
    public func mask(_ table: FeatureTable) throws -> [Bool] {
        guard let c = table.metadataColumn(column) else {
            throw MorphoError.data(context: "controls", problem: "no metadata column '\(column)' to find \(value) controls in")
        }
        let mask = c.texts.map { $0 == value }
        guard mask.contains(true) else {
            throw MorphoError.data(context: "controls", problem: "no row has \(column) == \(value)")
        }
        return mask
    }
}

/// Per-feature statistics of the controls in one group (plate, batch, or all).
struct GroupStatistics {
    var center: [Double]
    var spread: [Double]
}
