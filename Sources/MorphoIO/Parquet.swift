import CZstd
import Foundation
import MorphoCore

/// Apache Parquet files, written natively (no Arrow library exists among the allowed packages or in
/// Debian 12): the file is `PAR1`, row groups of column chunks, the Thrift-compact `FileMetaData`, its
/// length and `PAR1` again (parquet-format 2.x, parquet.thrift field ids). Every column is OPTIONAL
/// (a missing value is a null), with one version-1 data page per column chunk: definition levels in
/// the RLE/bit-packed hybrid (bit width 1, runs only), then the present values PLAIN-encoded; the page
/// is ZSTD-compressed (Debian's libzstd). Rows go out in row groups of `rowGroupSize` as they are
/// encoded. Read back exactly by pyarrow, pandas and DuckDB (tested with pyarrow and pandas).
public enum Parquet {
    /// One column's values; nil is a null.
    public enum Column: Sendable {
        /// BYTE_ARRAY annotated UTF8 (a STRING).
        case strings([String?])
        case doubles([Double?])
        case floats([Float?])

        var count: Int {
            switch self {
            case .strings(let v): return v.count
            case .doubles(let v): return v.count
            case .floats(let v): return v.count
            }
        }

        /// Parquet physical type: FLOAT 4, DOUBLE 5, BYTE_ARRAY 6.
        var physicalType: Int32 {
            switch self {
            case .strings: return 6
            case .doubles: return 5
            case .floats: return 4
            }
        }
    }

    /// Writes `columns` (each `rowCount` values) under `names` to `url` atomically.
    public static func write(names: [String], columns: [Column], rowCount: Int, rowGroupSize: Int = 1 << 16, to url: URL) throws {
        precondition(names.count == columns.count && columns.allSatisfy { $0.count == rowCount } && rowGroupSize > 0)
        var seen = Set<String>()
        for name in names where !seen.insert(name).inserted {
            throw MorphoError.table(file: url.path, line: nil, column: name, problem: "column name appears twice")
        }
        try AtomicFile.write(to: url) { tmp in
            guard FileManager.default.createFile(atPath: tmp.path, contents: nil), let handle = FileHandle(forWritingAtPath: tmp.path) else {
                throw MorphoError.file(path: url.path, problem: "cannot create")
            }
            defer { try? handle.close() }
            var offset = 0
            func emit(_ bytes: [UInt8]) throws {
                do { try handle.write(contentsOf: bytes) } catch {
                    throw MorphoError.file(path: url.path, problem: "cannot write: \(error.localizedDescription)")
                }
                offset += bytes.count
            }
            try emit(Array("PAR1".utf8))
            var groups = [RowGroup]()
            for start in stride(from: 0, to: rowCount, by: rowGroupSize) {
                let rows = start..<min(rowCount, start + rowGroupSize)
                var chunks = [ChunkInfo]()
                for column in columns {
                    let (body, present) = plain(column, rows: rows)
                    let page = definitionLevels(column, rows: rows) + body
                    let compressed = try zstd(page)
                    var header = Thrift()
                    header.i32(1, 0)                          // DATA_PAGE
                    header.i32(2, Int32(page.count))
                    header.i32(3, Int32(compressed.count))
                    header.structBegin(5)                     // DataPageHeader
                    header.i32(1, Int32(rows.count)); header.i32(2, 0); header.i32(3, 3); header.i32(4, 3)  // PLAIN, RLE, RLE
                    header.structEnd()
                    header.stop()
                    chunks.append(ChunkInfo(offset: offset, type: column.physicalType, values: rows.count, present: present,
                                            uncompressed: header.bytes.count + page.count, compressed: header.bytes.count + compressed.count))
                    try emit(header.bytes)
                    try emit(compressed)
                }
                groups.append(RowGroup(rows: rows.count, chunks: chunks))
            }
            try emit(metadata(names: names, columns: columns, rowCount: rowCount, groups: groups))
        }
    }

    struct ChunkInfo { var offset: Int, type: Int32, values: Int, present: Int, uncompressed: Int, compressed: Int }
    struct RowGroup { var rows: Int, chunks: [ChunkInfo] }

    /// FileMetaData, its little-endian length and the closing magic.
    static func metadata(names: [String], columns: [Column], rowCount: Int, groups: [RowGroup]) -> [UInt8] {
        var t = Thrift()
        t.i32(1, 1)                                            // version
        t.listBegin(2, elementType: 12, count: names.count + 1) // schema: the root, then one leaf per column
        t.elementBegin(); t.string(4, "schema"); t.i32(5, Int32(names.count)); t.elementEnd()
        for (name, column) in zip(names, columns) {
            t.elementBegin()
            t.i32(1, column.physicalType)
            t.i32(3, 1)                                        // OPTIONAL
            t.string(4, name)
            if case .strings = column { t.i32(6, 0) }           // UTF8
            t.elementEnd()
        }
        t.i64(3, Int64(rowCount))
        t.listBegin(4, elementType: 12, count: groups.count)
        for group in groups {
            t.elementBegin()
            t.listBegin(1, elementType: 12, count: group.chunks.count)
            for (name, chunk) in zip(names, group.chunks) {
                t.elementBegin()
                t.i64(2, Int64(chunk.offset))                  // file_offset
                t.structBegin(3)                               // ColumnMetaData
                t.i32(1, chunk.type)
                t.listBegin(2, elementType: 5, count: 2); t.listI32(0); t.listI32(3)  // PLAIN, RLE
                t.listBegin(3, elementType: 8, count: 1); t.listString(name)
                t.i32(4, 6)                                    // ZSTD
                t.i64(5, Int64(chunk.values))
                t.i64(6, Int64(chunk.uncompressed))
                t.i64(7, Int64(chunk.compressed))
                t.i64(9, Int64(chunk.offset))                  // data_page_offset
                t.structEnd()
                t.elementEnd()
            }
            t.i64(2, Int64(group.chunks.reduce(0) { $0 + $1.uncompressed }))
            t.i64(3, Int64(group.rows))
            t.elementEnd()
        }
        t.string(6, "Morpho \(MorphoVersion.current)")
        t.stop()
        let length = UInt32(t.bytes.count)
        return t.bytes + (0..<4).map { UInt8((length >> (8 * UInt32($0))) & 0xFF) } + Array("PAR1".utf8)
    }

    /// Definition levels (1 present, 0 null) as RLE runs, after their 4-byte length (data page v1).
    static func definitionLevels(_ column: Column, rows: Range<Int>) -> [UInt8] {
        func present(_ i: Int) -> Bool {
            switch column {
            case .strings(let v): return v[i] != nil
            case .doubles(let v): return v[i] != nil
            case .floats(let v): return v[i] != nil
            }
        }
        var runs = [UInt8]()
        var i = rows.lowerBound
        while i < rows.upperBound {
            let level = present(i)
            var end = i + 1
            while end < rows.upperBound && present(end) == level { end += 1 }
            varint(UInt64(end - i) << 1, into: &runs)          // an RLE run: length << 1, then the value
            runs.append(level ? 1 : 0)
            i = end
        }
        let n = UInt32(runs.count)
        return (0..<4).map { UInt8((n >> (8 * UInt32($0))) & 0xFF) } + runs
    }

    /// The present values, PLAIN (little-endian; strings as 4-byte length + UTF-8), and how many.
    static func plain(_ column: Column, rows: Range<Int>) -> ([UInt8], Int) {
        var out = [UInt8](), n = 0
        func le<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        switch column {
        case .strings(let v):
            for s in v[rows] { if let s { le(UInt32(s.utf8.count)); out.append(contentsOf: s.utf8); n += 1 } }
        case .doubles(let v):
            out.reserveCapacity(8 * rows.count)
            for x in v[rows] { if let x { le(x.bitPattern); n += 1 } }
        case .floats(let v):
            out.reserveCapacity(4 * rows.count)
            for x in v[rows] { if let x { le(x.bitPattern); n += 1 } }
        }
        return (out, n)
    }

    static func zstd(_ data: [UInt8]) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: ZSTD_compressBound(data.count))
        let n = out.withUnsafeMutableBytes { o in data.withUnsafeBytes { ZSTD_compress(o.baseAddress, o.count, $0.baseAddress, $0.count, 3) } }
        guard ZSTD_isError(n) == 0 else {
            throw MorphoError.engine(operation: "zstd", problem: String(cString: ZSTD_getErrorName(n)))
        }
        return Array(out.prefix(n))
    }

    static func varint(_ value: UInt64, into out: inout [UInt8]) {
        var v = value
        while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        out.append(UInt8(v))
    }

    /// Thrift's compact protocol, for the few structures Parquet's metadata needs: field headers hold
    /// the id delta and the type (i32 5, i64 6, binary 8, list 9, struct 12), integers are zigzag
    /// varints, a struct ends with a 0 byte.
    struct Thrift {
        var bytes = [UInt8]()
        var last: [Int16] = [0]

        mutating func header(_ id: Int16, _ type: UInt8) {
            let delta = id - last[last.count - 1]
            if delta > 0 && delta <= 15 { bytes.append(UInt8(delta) << 4 | type) } else {
                bytes.append(type); zigzag(Int64(id))
            }
            last[last.count - 1] = id
        }
        mutating func zigzag(_ v: Int64) { Parquet.varint(UInt64(bitPattern: (v << 1) ^ (v >> 63)), into: &bytes) }
        mutating func i32(_ id: Int16, _ v: Int32) { header(id, 5); zigzag(Int64(v)) }
        mutating func i64(_ id: Int16, _ v: Int64) { header(id, 6); zigzag(v) }
        mutating func string(_ id: Int16, _ s: String) { header(id, 8); listString(s) }
        mutating func structBegin(_ id: Int16) { header(id, 12); last.append(0) }
        mutating func structEnd() { bytes.append(0); last.removeLast() }
        mutating func stop() { bytes.append(0) }
        mutating func listBegin(_ id: Int16, elementType: UInt8, count: Int) {
            header(id, 9)
            if count < 15 { bytes.append(UInt8(count) << 4 | elementType) } else {
                bytes.append(0xF0 | elementType); Parquet.varint(UInt64(count), into: &bytes)
            }
        }
        /// A struct element of a list: its fields, then `elementEnd`.
        mutating func elementBegin() { last.append(0) }
        mutating func elementEnd() { structEnd() }
        mutating func listI32(_ v: Int32) { zigzag(Int64(v)) }
        mutating func listString(_ s: String) { Parquet.varint(UInt64(s.utf8.count), into: &bytes); bytes.append(contentsOf: s.utf8) }
    }
}

extension FeatureTable {
    /// The table as Parquet columns: text metadata as strings, numeric metadata as doubles and
    /// features as floats, NaN as null (what pandas reads back as NaN).
    public func parquetColumns() -> (names: [String], columns: [Parquet.Column]) {
        var columns = metadata.map { column -> Parquet.Column in
            switch column {
            case .strings(let v): return .strings(v)
            case .numbers(let v): return .doubles(v.map { $0.isNaN ? nil : $0 })
            }
        }
        for j in 0..<featureCount {
            columns.append(.floats((0..<rowCount).map { r in let v = self[row: r, feature: j]; return v.isNaN ? nil : v }))
        }
        return (metadataNames + featureNames, columns)
    }
}
