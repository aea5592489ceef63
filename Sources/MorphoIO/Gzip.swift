import CZlib
import Foundation
import MorphoCore

/// gzip (RFC 1952) through zlib, for `.csv.gz` tables.
public enum Gzip {
    /// True when `data` starts with the gzip magic bytes 1f 8b.
    public static func isCompressed(_ data: Data) -> Bool {
        data.count >= 2 && data[data.startIndex] == 0x1f && data[data.startIndex + 1] == 0x8b
    }

    /// Inflates a gzip (or zlib) stream, including concatenated gzip members; `source` names the file in errors.
    public static func decompress(_ data: Data, source: String) throws -> Data {
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw MorphoError.file(path: source, problem: "zlib: cannot initialise inflate")
        }
        defer { inflateEnd(&stream) }
        var output = Data()
        let chunk = 1 << 18
        var buffer = [UInt8](repeating: 0, count: chunk)
        try data.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
            stream.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = uInt(input.count)
            while true {
                let status: Int32 = buffer.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(chunk)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                output.append(contentsOf: buffer[0..<(chunk - Int(stream.avail_out))])
                if status == Z_STREAM_END {
                    if stream.avail_in == 0 { break }
                    inflateReset(&stream)  // another gzip member follows
                    continue
                }
                guard status == Z_OK else {
                    let reason = status == Z_BUF_ERROR ? "truncated gzip stream" : "corrupt gzip stream (zlib status \(status))"
                    throw MorphoError.file(path: source, problem: reason)
                }
                if stream.avail_in == 0 && stream.avail_out != 0 {
                    throw MorphoError.file(path: source, problem: "truncated gzip stream")
                }
            }
        }
        return output
    }

    /// Deflates `data` into a gzip stream at `level` (1 fastest ... 9 smallest); `zlibWrapper` gives a
    /// zlib stream instead (RFC 1950, as PNG wants).
    public static func compress(_ data: Data, level: Int32 = 6, zlibWrapper: Bool = false) -> Data {
        var stream = z_stream()
        let ok = deflateInit2_(&stream, level, Z_DEFLATED, zlibWrapper ? 15 : 15 + 16, 8, Z_DEFAULT_STRATEGY,
                               ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(ok == Z_OK, "zlib deflateInit2 failed")
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, uLong(data.count))) + 64
        var output = [UInt8](repeating: 0, count: bound)
        let written: Int = data.withUnsafeBytes { input in
            output.withUnsafeMutableBufferPointer { out in
                stream.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
                stream.avail_in = uInt(input.count)
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(bound)
                let status = deflate(&stream, Z_FINISH)
                precondition(status == Z_STREAM_END, "zlib deflate with a full-size buffer did not finish")
                return bound - Int(stream.avail_out)
            }
        }
        return Data(output[0..<written])
    }
}
