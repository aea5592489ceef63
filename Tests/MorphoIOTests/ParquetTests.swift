import Foundation
@testable import MorphoIO
import MorphoCore
import MorphoTestSupport
import Testing

/// Parquet files written by Morpho, read back by pyarrow and pandas (independent readers) value for value.
@Suite struct ParquetTests {
    /// Each column as pyarrow reads it: null, or the value as float.hex() / the string.
    static let reader = """
    import json, sys
    import pyarrow.parquet as pq, pandas as pd
    t = pq.read_table(sys.argv[1])
    meta = pq.ParquetFile(sys.argv[1]).metadata
    out = {"names": t.column_names, "rows": t.num_rows, "groups": meta.num_row_groups,
           "types": [str(f.type) for f in t.schema], "pandas_shape": list(pd.read_parquet(sys.argv[1]).shape)}
    out["columns"] = [[None if v is None else (v.hex() if isinstance(v, float) else v) for v in t.column(i).to_pylist()]
                      for i in range(t.num_columns)]
    print(json.dumps(out))
    """

    static func read(_ url: URL) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(try Peers.run(["-c", reader, url.path]).utf8)) as! [String: Any]
    }

    static func hex(_ v: Double) -> String {
        // Python's float.hex(): 0x1.<13 hex digits>p<exp>, 0x0.0p+0 / -0x0.0p+0, subnormals 0x0.<13 digits>p-1022.
        if v == 0 { return v.sign == .minus ? "-0x0.0p+0" : "0x0.0p+0" }
        let sign = v.sign == .minus ? "-" : ""
        let bits = v.bitPattern, exponent = Int((bits >> 52) & 0x7FF), mantissa = bits & 0xF_FFFF_FFFF_FFFF
        let fraction = String(mantissa, radix: 16).leftPadded(to: 13)
        if exponent == 0 { return "\(sign)0x0.\(fraction)p-1022" }
        let e = exponent - 1023
        return "\(sign)0x1.\(fraction)p\(e >= 0 ? "+" : "")\(e)"
    }

    /// Random tables (text with nulls, empty strings, unicode, quotes; doubles and floats with nulls,
    /// signed zeros, extremes and subnormals) over several row groups, and a table of 0 rows.
    @Test(.enabled(if: Peers.available)) func pyarrowAndPandasReadBackExactly() throws {
        var rng = SeededGenerator(seed: 11)
        let words = ["DMSO", "", "ünïcode ✓", "say \"hi\", twice", "taxol", "日本語", "a\nb"]
        let dir = TestPaths.temporaryDirectory("parquet")
        for (rows, groupSize) in [(53, 7), (1, 4), (0, 4), (300, 1 << 16)] {
            let strings: [String?] = (0..<rows).map { _ in rng.next() % 5 == 0 ? nil : words[Int(rng.next() % UInt64(words.count))] }
            let specials: [Double] = [0, -0.0, 1e300, -2.5e-310, .greatestFiniteMagnitude, 1 / 3]
            let doubles: [Double?] = (0..<rows).map { i in
                rng.next() % 4 == 0 ? nil : (i % 3 == 0 ? specials[i % specials.count] : Double(bitPattern: rng.next() >> 2))
            }
            let floats: [Float?] = (0..<rows).map { i in rng.next() % 6 == 0 ? nil : (i % 5 == 0 ? -Float.leastNonzeroMagnitude : Float(Double(rng.next() % 100_000) / 7)) }
            let url = dir.appendingPathComponent("t\(rows).parquet")
            try Parquet.write(names: ["Metadata_Compound", "Metadata_Dose", "f_1"], columns: [.strings(strings), .doubles(doubles), .floats(floats)],
                              rowCount: rows, rowGroupSize: groupSize, to: url)
            let back = try Self.read(url)
            #expect(back["names"] as? [String] == ["Metadata_Compound", "Metadata_Dose", "f_1"])
            #expect(back["rows"] as? Int == rows && back["groups"] as? Int == (rows + groupSize - 1) / groupSize)
            #expect(back["types"] as? [String] == ["string", "double", "float"])
            #expect(back["pandas_shape"] as? [Int] == [rows, 3])
            let columns = back["columns"] as! [[Any]]
            #expect(columns[0].map { $0 as? String } == strings, "strings, \(rows) rows")
            #expect(columns[1].map { $0 as? String } == doubles.map { $0.map(Self.hex) }, "doubles, \(rows) rows")
            #expect(columns[2].map { $0 as? String } == floats.map { $0.map { Self.hex(Double($0)) } }, "floats, \(rows) rows")
        }
    }

    @Test func hexMatchesPythonsFormat() {
        #expect(Self.hex(1) == "0x1.0000000000000p+0" && Self.hex(-0.5) == "-0x1.0000000000000p-1" && Self.hex(0.1) == "0x1.999999999999ap-4")
        #expect(Self.hex(-0.0) == "-0x0.0p+0" && Self.hex(5e-324) == "0x0.0000000000001p-1022")
    }

    @Test func duplicateColumnNamesAreNamedErrors() {
        let url = TestPaths.temporaryDirectory("parquet-dup").appendingPathComponent("d.parquet")
        #expect(throws: MorphoError.self) { try Parquet.write(names: ["a", "a"], columns: [.floats([1]), .floats([2])], rowCount: 1, to: url) }
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }
}

private extension String {
    func leftPadded(to n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}
