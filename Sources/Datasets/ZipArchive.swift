import CZlib
import Foundation
import MorphoCore

/// A ZIP archive read from its central directory (PKWARE APPNOTE 6.3: end-of-central-directory record,
/// ZIP64 records for archives over 4 GiB, stored and deflated entries). Extraction streams each entry
/// through zlib's raw inflate and checks its CRC-32 and size, so a damaged download is caught, never
/// unpacked into silently wrong images.
public struct ZipArchive: Sendable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        /// 0 stored, 8 deflated.
        public var method: UInt16
        public var crc32: UInt32
        public var compressedSize: UInt64
        public var size: UInt64
        public var localHeaderOffset: UInt64
        public var encrypted: Bool
        public var isDirectory: Bool { name.hasSuffix("/") }
    }

    public let url: URL
    public let entries: [Entry]

    /// Reads the central directory of the archive at `url`.
    public init(url: URL) throws {
        self.url = url
        let file = try ReadOnlyFile(url)
        defer { file.close() }
        let fail = { (problem: String) in MorphoError.file(path: url.path, problem: "not a readable ZIP archive: \(problem)") }
        let size = file.size
        guard size >= 22 else { throw fail("\(size) bytes is shorter than an end-of-central-directory record (truncated download?)") }
        // The end record is the last thing in the file, followed by a comment of at most 65535 bytes.
        let tailLength = Int(min(size, 22 + 65535))
        let tail = try file.read(at: size - UInt64(tailLength), count: tailLength)
        var eocd: Int?
        var i = tailLength - 22
        while i >= 0 {
            if tail.u32(i) == 0x0605_4b50 { eocd = i; break }
            i -= 1
        }
        guard let e = eocd else { throw fail("no end-of-central-directory record (truncated download?)") }
        var count = UInt64(tail.u16(e + 10))
        var directorySize = UInt64(tail.u32(e + 12))
        var directoryOffset = UInt64(tail.u32(e + 16))
        if count == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            // ZIP64: a locator just before the end record points at the ZIP64 end record.
            guard e >= 20, tail.u32(e - 20) == 0x0706_4b50 else { throw fail("ZIP64 locator missing") }
            let recordOffset = tail.u64(e - 20 + 8)
            let record = try file.read(at: recordOffset, count: 56)
            guard record.u32(0) == 0x0606_4b50 else { throw fail("ZIP64 end record missing at offset \(recordOffset)") }
            count = record.u64(32)
            directorySize = record.u64(40)
            directoryOffset = record.u64(48)
        }
        guard directoryOffset <= size, directorySize <= size - directoryOffset else {
            throw fail("central directory (\(directorySize) bytes at \(directoryOffset)) lies beyond the end of the \(size)-byte file (truncated download?)")
        }
        let directory = try file.read(at: directoryOffset, count: Int(directorySize))
        var entries = [Entry]()
        entries.reserveCapacity(Int(min(count, 1 << 20)))
        var p = 0
        for n in 0..<count {
            guard p + 46 <= directory.count, directory.u32(p) == 0x0201_4b50 else { throw fail("central directory entry \(n) is damaged") }
            let flags = directory.u16(p + 8)
            let nameLength = Int(directory.u16(p + 28)), extraLength = Int(directory.u16(p + 30)), commentLength = Int(directory.u16(p + 32))
            guard p + 46 + nameLength + extraLength <= directory.count else { throw fail("central directory entry \(n) is damaged") }
            let nameBytes = directory[(directory.startIndex + p + 46)..<(directory.startIndex + p + 46 + nameLength)]
            var entry = Entry(name: String(decoding: nameBytes, as: UTF8.self), method: directory.u16(p + 10),
                              crc32: directory.u32(p + 16), compressedSize: UInt64(directory.u32(p + 20)),
                              size: UInt64(directory.u32(p + 24)), localHeaderOffset: UInt64(directory.u32(p + 42)),
                              encrypted: flags & 1 != 0)
            // ZIP64 extra field (id 1): the 64-bit values of the fields that read 0xFFFFFFFF, in this order.
            var x = p + 46 + nameLength
            let extraEnd = x + extraLength
            while x + 4 <= extraEnd {
                let id = directory.u16(x), length = Int(directory.u16(x + 2))
                if id == 1 {
                    var v = x + 4
                    // Each 8-byte value must lie inside this extra field (a crafted length reads past it).
                    func next() throws -> UInt64 {
                        guard v + 8 <= min(x + 4 + length, extraEnd) else { throw fail("central directory entry \(n): ZIP64 field too short") }
                        defer { v += 8 }
                        return directory.u64(v)
                    }
                    if entry.size == 0xFFFF_FFFF { entry.size = try next() }
                    if entry.compressedSize == 0xFFFF_FFFF { entry.compressedSize = try next() }
                    if entry.localHeaderOffset == 0xFFFF_FFFF { entry.localHeaderOffset = try next() }
                }
                x += 4 + length
            }
            entries.append(entry)
            p += 46 + nameLength + extraLength + commentLength
        }
        self.entries = entries
    }

    /// Writes `entry`'s content to `destination`, checking its size and CRC-32. Safe to call from many
    /// threads at once (each call reads the archive through its own descriptor).
    public func extract(_ entry: Entry, to destination: URL) throws {
        let where_ = "\(url.lastPathComponent): entry '\(entry.name)'"
        let fail = { (problem: String) in MorphoError.file(path: self.url.path, problem: "entry '\(entry.name)': \(problem)") }
        guard !entry.encrypted else { throw fail("is encrypted, which Morpho does not read") }
        guard entry.method == 0 || entry.method == 8 else { throw fail("compression method \(entry.method) is not supported (only stored and deflate)") }
        let file = try ReadOnlyFile(url)
        defer { file.close() }
        let header = try file.read(at: entry.localHeaderOffset, count: 30)
        guard header.u32(0) == 0x0403_4b50 else { throw fail("local header missing at offset \(entry.localHeaderOffset)") }
        // Sizes and offsets come from the file: compared by subtraction, so crafted values cannot overflow.
        let headerLength = 30 + UInt64(header.u16(26)) + UInt64(header.u16(28))
        guard entry.localHeaderOffset <= file.size, headerLength <= file.size - entry.localHeaderOffset,
              entry.compressedSize <= file.size - entry.localHeaderOffset - headerLength else {
            throw fail("data runs past the end of the archive (truncated download?)")
        }
        var offset = entry.localHeaderOffset + headerLength

        guard let out = fopen(destination.path, "wb") else {
            throw MorphoError.file(path: destination.path, problem: "cannot create: \(String(cString: strerror(errno)))")
        }
        var closed = false
        defer { if !closed { fclose(out) } }
        func write(_ bytes: UnsafeRawBufferPointer) throws {
            guard bytes.count == 0 || fwrite(bytes.baseAddress, 1, bytes.count, out) == bytes.count else {
                throw MorphoError.file(path: destination.path, problem: "cannot write \(where_): \(String(cString: strerror(errno)))")
            }
        }

        let chunk = 1 << 20
        var remaining = entry.compressedSize
        var crc = crc32(0, nil, 0)
        var written: UInt64 = 0
        if entry.method == 0 {
            while remaining > 0 {
                let n = Int(min(UInt64(chunk), remaining))
                let data = try file.read(at: offset, count: n)
                try data.withUnsafeBytes { raw in
                    crc = crc32(crc, raw.bindMemory(to: Bytef.self).baseAddress, uInt(n))
                    try write(raw)
                }
                written += UInt64(n); offset += UInt64(n); remaining -= UInt64(n)
            }
        } else {
            var stream = z_stream()
            guard inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { throw fail("zlib: cannot initialise inflate") }
            defer { inflateEnd(&stream) }
            var output = [UInt8](repeating: 0, count: chunk)
            var finished = false
            while !finished {
                let n = Int(min(UInt64(chunk), remaining))
                var input = try file.read(at: offset, count: n)
                offset += UInt64(n); remaining -= UInt64(n)
                try input.withUnsafeMutableBytes { raw in
                    stream.next_in = raw.bindMemory(to: Bytef.self).baseAddress
                    stream.avail_in = uInt(n)
                    repeat {
                        let status: Int32 = output.withUnsafeMutableBufferPointer { o in
                            stream.next_out = o.baseAddress
                            stream.avail_out = uInt(chunk)
                            return inflate(&stream, Z_NO_FLUSH)
                        }
                        let produced = chunk - Int(stream.avail_out)
                        try output.withUnsafeBytes { o in
                            crc = crc32(crc, o.bindMemory(to: Bytef.self).baseAddress, uInt(produced))
                            try write(UnsafeRawBufferPointer(rebasing: o[0..<produced]))
                        }
                        written += UInt64(produced)
                        // Stop as soon as the entry outgrows its declared size, not after writing all of it.
                        if written > entry.size { throw fail("unpacks to more than the \(entry.size) bytes the archive says (damaged or crafted archive)") }
                        if status == Z_STREAM_END { finished = true; break }
                        guard status == Z_OK || (status == Z_BUF_ERROR && stream.avail_in == 0) else {
                            throw fail("corrupt deflate data (zlib status \(status))")
                        }
                    } while stream.avail_out == 0 || stream.avail_in > 0
                }
                if !finished && remaining == 0 { throw fail("deflate data ends early (damaged archive)") }
            }
        }
        closed = true
        guard fclose(out) == 0 else { throw MorphoError.file(path: destination.path, problem: "cannot write \(where_)") }
        guard written == entry.size else { throw fail("unpacked to \(written) bytes, the archive says \(entry.size) (damaged archive)") }
        guard UInt32(crc) == entry.crc32 else {
            throw fail(String(format: "CRC-32 %08x does not match the archive's %08x (damaged download)", UInt32(crc), entry.crc32))
        }
    }
}

/// A file read with pread(2), so several threads can read one archive at once.
struct ReadOnlyFile {
    let url: URL
    let descriptor: Int32
    let size: UInt64

    init(_ url: URL) throws {
        self.url = url
        descriptor = open(url.path, O_RDONLY)
        guard descriptor >= 0 else { throw MorphoError.file(path: url.path, problem: "cannot open: \(String(cString: strerror(errno)))") }
        var info = stat()
        fstat(descriptor, &info)
        size = UInt64(info.st_size)
    }

    func read(at offset: UInt64, count: Int) throws -> Data {
        guard count >= 0, offset <= size, UInt64(count) <= size - offset else {
            throw MorphoError.file(path: url.path, problem: "ends at byte \(size), a read of \(count) bytes at \(offset) was asked for (truncated or damaged file)")
        }
        var data = Data(count: count)
        var done = 0
        try data.withUnsafeMutableBytes { raw in
            while done < count {
                let n = pread(descriptor, raw.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                guard n > 0 else {
                    throw MorphoError.file(path: url.path, problem: n == 0 ? "ends at byte \(offset + UInt64(done)), expected \(count - done) more (truncated file)"
                                                                          : "cannot read: \(String(cString: strerror(errno)))")
                }
                done += n
            }
        }
        return data
    }

    func close() { _ = Glibc.close(descriptor) }
}

extension Data {
    /// Little-endian integers at byte offset `i` (relative to the start of the data).
    func u16(_ i: Int) -> UInt16 { UInt16(self[startIndex + i]) | UInt16(self[startIndex + i + 1]) << 8 }
    func u32(_ i: Int) -> UInt32 { UInt32(u16(i)) | UInt32(u16(i + 2)) << 16 }
    func u64(_ i: Int) -> UInt64 { UInt64(u32(i)) | UInt64(u32(i + 4)) << 32 }
}
