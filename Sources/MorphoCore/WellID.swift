/// A well position on a plate: 0-based `row` (A = 0) and 1-based `column`, written "A01".
///
/// Parses "A01", "A1", "a01", "AB12" (1536-well rows) and the Opera/Phenix form "r01c01".
public struct WellID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let row: Int
    public let column: Int

    public init(row: Int, column: Int) {
        precondition(row >= 0 && column >= 1, "WellID: row \(row) column \(column)")
        self.row = row
        self.column = column
    }

    public init?(_ text: String) {
        let s = text.trimmingCharacters(in: .whitespaces).uppercased()
        // r01c01
        if s.hasPrefix("R"), let cIndex = s.firstIndex(of: "C"),
           let r = Int(s[s.index(after: s.startIndex)..<cIndex]),
           let c = Int(s[s.index(after: cIndex)...]), r >= 1, c >= 1 {
            self.init(row: r - 1, column: c)
            return
        }
        let letters = s.prefix { $0.isASCII && $0.isLetter }
        let digits = s.dropFirst(letters.count)
        guard (1...2).contains(letters.count), !digits.isEmpty, digits.allSatisfy(\.isASCII),
              let c = Int(digits), c >= 1 else { return nil }
        var r = 0
        for ch in letters { r = r * 26 + Int(ch.asciiValue! - 65) + 1 }
        self.init(row: r - 1, column: c)
    }

    /// Row letters: 0 -> "A", 25 -> "Z", 26 -> "AA".
    public var rowName: String {
        var n = row + 1
        var out = ""
        while n > 0 {
            let rem = (n - 1) % 26
            out = String(UnicodeScalar(UInt8(65 + rem))) + out
            n = (n - 1) / 26
        }
        return out
    }

    /// "A01" form with a two-digit column (three digits past column 99).
    public var description: String {
        rowName + (column < 10 ? "0\(column)" : "\(column)")
    }

    public static func < (a: WellID, b: WellID) -> Bool {
        (a.row, a.column) < (b.row, b.column)
    }
}

import Foundation
