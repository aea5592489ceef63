import MorphoCore

/// A profile pipeline over well (or cell) rows: optional feature selection, then a normalization against
/// the controls; `treatmentStrata` names the columns whose groups make one treatment profile.
public struct ProfilePipeline: Sendable, Equatable, Codable {
    public enum Normalization: Sendable, Equatable, Codable {
        case none
        case controls(ControlNormalization)
        case tvn(TypicalVariationNormalization)
        /// Per-plate control z-score, then TVN on the result.
        case zscoreThenTVN(ControlNormalization, TypicalVariationNormalization)
    }

    public var name: String
    public var selection: SelectFeatures?
    public var normalization: Normalization
    public var treatmentStrata: [String]

    public init(name: String, selection: SelectFeatures? = nil, normalization: Normalization,
                treatmentStrata: [String] = ["Metadata_Compound", "Metadata_Concentration"]) {
        self.name = name
        self.selection = selection
        self.normalization = normalization
        self.treatmentStrata = treatmentStrata
    }

    /// Normalized rows (same rows as the input) and a line of notes on what each step did.
    public func normalizedRows(_ rows: FeatureTable) throws -> (FeatureTable, [String]) {
        var t = rows
        var notes = [String]()
        if let selection {
            let (s, report) = try selection.apply(t)
            t = s
            notes.append("selection: \(report.summary)")
        }
        func controls(_ n: ControlNormalization) throws {
            let (out, report) = try n.apply(t)
            t = out
            if !report.zeroSpread.isEmpty {
                notes.append("\(n.method.rawValue): \(report.zeroSpread.count) (group, feature) pairs with zero control spread; dropped \(report.droppedFeatures.count) feature(s)")
            }
        }
        func tvn(_ n: TypicalVariationNormalization) throws {
            let (out, report) = try n.apply(t)
            t = out
            notes.append("TVN \(n.whitening.rawValue): \(report.controlRows) control rows, rank \(report.rank) of \(report.inputFeatures), kept \(report.kept)")
        }
        switch normalization {
        case .none: break
        case .controls(let n): try controls(n)
        case .tvn(let n): try tvn(n)
        case .zscoreThenTVN(let z, let n): try controls(z); try tvn(n)
        }
        return (t, notes)
    }
}
