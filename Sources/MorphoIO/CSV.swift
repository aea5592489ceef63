import Foundation
import MorphoCore

/// A CSV table as text: header names and one array of values per column.
public struct CSVTable: Sendable {
    public var header: [String]
    public var columns: [[String]]
    /// The file the table came from, for error messages.
    public var source: String

    public var rowCount: Int { columns.first?.count ?? 0 }

    public init(header: [String], columns: [[String]], source: String) {
        self.header = header
        self.columns = columns
        self.source = source
    }

    /// The values of column `name`; throws `MorphoError.table` naming the file and column if absent.
    public func column(_ name: String) throws -> [String] {
        guard let i = header.firstIndex(of: name) else {
            throw MorphoError.table(file: source, line: 1, column: name, problem: "required column is missing (columns: \(header.prefix(12).joined(separator: ", "))\(header.count > 12 ? ", ..." : ""))")
        }
        return columns[i]
    }

    public func hasColumn(_ name: String) -> Bool { header.contains(name) }

    /// 1-based line number in the file of data row `row` (the header is line 1).
    public func lineNumber(ofRow row: Int) -> Int { row + 2 }
}

/// RFC 4180 CSV: comma-separated, fields with commas, quotes or line breaks quoted with `"`, quotes
/// doubled. Reads `\n` and `\r\n` line ends; reads gzip-compressed files transparently (by content).
/// Text must be UTF-8: other bytes are an error naming the line and byte offset, never U+FFFD.
public enum CSV {
    /// Reads `url` (plain or gzipped).
    public static func read(_ url: URL) throws -> CSVTable {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            let exists = FileManager.default.fileExists(atPath: url.path)
            throw MorphoError.file(path: url.path, problem: exists ? "cannot read: \(error.localizedDescription)" : "file not found")
        }
        let text = Gzip.isCompressed(data) ? try Gzip.decompress(data, source: url.path) : data
        return try parse(text, source: url.path)
    }

    /// Parses CSV bytes; `source` names the input in errors.
    public static func parse(_ data: Data, source: String) throws -> CSVTable {
        var rows = [[String]]()
        var rowLines = [Int]()
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            var i = 0
            let n = bytes.count
            if n >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { i = 3 }  // UTF-8 BOM
            var line = 1
            var row = [String]()
            var field = [UInt8]()
            var rowStartLine = 1
            var atFieldStart = true
            var fieldOffset = i, fieldLine = 1
            func endField() throws {
                guard let text = String(validating: field, as: UTF8.self) else {
                    // Decoding would turn the bytes into U+FFFD and could merge two different names.
                    let quoted = bytes[fieldOffset] == UInt8(ascii: "\"") ? 1 : 0
                    let at = fieldOffset + quoted + (firstInvalidUTF8(field) ?? 0)
                    throw MorphoError.table(file: source, line: fieldLine, column: nil,
                                            problem: "byte offset \(at) (field \(row.count + 1)) is not UTF-8; convert the file, e.g. iconv -f latin1 -t utf-8")
                }
                row.append(text)
                field.removeAll(keepingCapacity: true)
                atFieldStart = true
            }
            func endRow() throws {
                try endField()
                if !(row.count == 1 && row[0].isEmpty) {  // skip blank lines
                    rows.append(row)
                    rowLines.append(rowStartLine)
                }
                row.removeAll(keepingCapacity: true)
            }
            while i < n {
                let c = bytes[i]
                if atFieldStart { fieldOffset = i; fieldLine = line }
                if atFieldStart && c == UInt8(ascii: "\"") {
                    // Quoted field.
                    let openLine = line
                    i += 1
                    var closed = false
                    while i < n {
                        let q = bytes[i]
                        if q == UInt8(ascii: "\"") {
                            if i + 1 < n && bytes[i + 1] == UInt8(ascii: "\"") { field.append(q); i += 2; continue }
                            i += 1; closed = true; break
                        }
                        if q == UInt8(ascii: "\n") { line += 1 }
                        field.append(q)
                        i += 1
                    }
                    guard closed else {
                        throw MorphoError.table(file: source, line: openLine, column: nil, problem: "quoted field is never closed")
                    }
                    atFieldStart = false
                    continue
                }
                atFieldStart = false
                switch c {
                case UInt8(ascii: ","):
                    try endField()
                case UInt8(ascii: "\n"):
                    try endRow(); line += 1; rowStartLine = line
                case UInt8(ascii: "\r"):
                    if i + 1 < n && bytes[i + 1] == UInt8(ascii: "\n") { i += 1 }
                    try endRow(); line += 1; rowStartLine = line
                default:
                    field.append(c)
                }
                i += 1
            }
            if !field.isEmpty || !row.isEmpty { try endRow() }
        }
        guard let header = rows.first else {
            throw MorphoError.table(file: source, line: 1, column: nil, problem: "empty table: no header line")
        }
        var columns = [[String]](repeating: [], count: header.count)
        for k in columns.indices { columns[k].reserveCapacity(rows.count - 1) }
        for (r, row) in rows.enumerated().dropFirst() {
            guard row.count == header.count else {
                throw MorphoError.table(file: source, line: rowLines[r], column: nil,
                                        problem: "\(row.count) fields where the header has \(header.count)")
            }
            for (k, value) in row.enumerated() { columns[k].append(value) }
        }
        var seen = Set<String>()
        for name in header where !seen.insert(name).inserted {
            throw MorphoError.table(file: source, line: 1, column: name, problem: "column name appears twice in the header")
        }
        return CSVTable(header: header, columns: columns, source: source)
    }

    /// Offset of the first byte of `bytes` that does not start or continue a valid UTF-8 sequence.
    public static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded): offset += encoded.count
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    /// Quotes a field when it holds a comma, quote or line break.
    public static func escape(_ field: String) -> String {
        guard field.utf8.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }) else {
            return field
        }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Serialises a header and rows (each row produced on demand by `row(i, append:)`).
    public static func render(header: [String], rowCount: Int, row: (Int, inout [String]) -> Void) -> Data {
        var out = header.map(escape).joined(separator: ",") + "\n"
        var fields = [String]()
        fields.reserveCapacity(header.count)
        for r in 0..<rowCount {
            fields.removeAll(keepingCapacity: true)
            row(r, &fields)
            out += fields.map(escape).joined(separator: ",")
            out += "\n"
        }
        return Data(out.utf8)
    }

    /// Writes a table atomically; gzip-compressed when the name ends in `.gz`.
    public static func write(_ table: CSVTable, to url: URL) throws {
        let data = render(header: table.header, rowCount: table.rowCount) { r, fields in
            for c in table.columns { fields.append(c[r]) }
        }
        try writeData(data, to: url)
    }

    /// Writes already-rendered CSV bytes atomically, gzipping for `.gz` names.
    public static func writeData(_ data: Data, to url: URL) throws {
        try AtomicFile.write(url.pathExtension == "gz" ? Gzip.compress(data) : data, to: url)
    }
}
