import CZlib
import Foundation
import MorphoCore
import OpenCVBridge

/// 8-bit PNG encoding (grey or RGB, no filtering, zlib-deflated; PNG specification 1.2), for reports
/// and quick looks.
public enum PNG {
    /// The PNG bytes of a `width` x `height` image with `channels` (1 = grey, 3 = RGB) interleaved bytes per pixel.
    public static func encode(width: Int, height: Int, channels: Int, pixels: [UInt8]) -> Data {
        precondition(channels == 1 || channels == 3, "PNG: 1 or 3 channels")
        precondition(pixels.count == width * height * channels, "PNG: \(pixels.count) bytes for \(width)x\(height)x\(channels)")
        var raw = [UInt8]()
        raw.reserveCapacity((width * channels + 1) * height)
        for y in 0..<height {
            raw.append(0)  // filter type none
            raw.append(contentsOf: pixels[(y * width * channels)..<((y + 1) * width * channels)])
        }
        var out = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var header = Data()
        header.append(bigEndian: UInt32(width)); header.append(bigEndian: UInt32(height))
        header.append(contentsOf: [8, channels == 3 ? 2 : 0, 0, 0, 0])
        chunk("IHDR", header, into: &out)
        chunk("IDAT", Gzip.compress(Data(raw), zlibWrapper: true), into: &out)
        chunk("IEND", Data(), into: &out)
        return out
    }

    static func chunk(_ type: String, _ data: Data, into out: inout Data) {
        out.append(bigEndian: UInt32(data.count))
        let body = Data(type.utf8) + data
        out.append(body)
        let crc = body.withUnsafeBytes { crc32(0, $0.bindMemory(to: Bytef.self).baseAddress, uInt($0.count)) }
        out.append(bigEndian: UInt32(crc))
    }
}

extension Data {
    mutating func append(bigEndian v: UInt32) {
        append(contentsOf: [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)])
    }
}

extension PNG {
    /// A PNG's size comes from its header (IHDR: width and height, big-endian, at bytes 16 and 20), so
    /// it is checked against the memory budget (`MemoryBudget.bytes`, as Float samples of up to 4
    /// channels) before OpenCV decodes it.
    static func checkDeclaredSize(_ url: URL) throws {
        guard let handle = FileHandle(forReadingAtPath: url.path) else { return }
        defer { try? handle.close() }
        let header = [UInt8]((try? handle.read(upToCount: 24)) ?? Data())
        guard header.count == 24, header.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else { return }
        func be32(_ o: Int) -> Int { header[o..<(o + 4)].reduce(0) { $0 << 8 | Int($1) } }
        let (width, height) = (be32(16), be32(20))
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        if overflow || pixels > MemoryBudget.bytes / 16 {
            throw MorphoError.unsupportedImage(path: url.path, problem: "declares \(width)x\(height) pixels, over the memory budget of \(MemoryBudget.bytes >> 20) MiB (set MORPHO_MAX_IMAGE_BYTES to raise it)")
        }
    }

    /// Reads a grey 8- or 16-bit PNG (or BMP) in original units, through OpenCV's imgcodecs (libpng).
    /// A colour file whose channels are all equal (a grey image saved as RGB) is read as grey.
    /// A missing, corrupt or colour file is an error naming it.
    public static func readImage(_ url: URL) throws -> Image {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw MorphoError.file(path: url.path, problem: "file not found")
        }
        try checkDeclaredSize(url)
        var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0, depth: Int32 = 0
        var pixels: UnsafeMutablePointer<Float>?
        guard mcv_read_image(url.path, &width, &height, &channels, &depth, &pixels) == 0, let pixels else {
            throw MorphoError.file(path: url.path, problem: "not a readable image (\(String(cString: mcv_last_error())))")
        }
        defer { mcv_free(pixels) }
        let plane = Int(width) * Int(height)
        let planes = UnsafeBufferPointer(start: pixels, count: plane * Int(channels))
        guard channels == 1 || (channels == 3 && (0..<plane).allSatisfy { planes[$0] == planes[plane + $0] && planes[$0] == planes[2 * plane + $0] }) else {
            throw MorphoError.unsupportedImage(path: url.path, problem: "expected one grey image, found \(channels) channels")
        }
        return Image(width: Int(width), height: Int(height), pixels: Array(planes[0..<plane]), bitDepth: depth == 8 ? .uint8 : .uint16)
    }
}

/// Single grey images by file extension: `.png` and `.bmp` through OpenCV (`PNG.readImage`), anything else through `TIFF`.
public enum ImageFile {
    public static func decodesWithOpenCV(_ url: URL) -> Bool { ["png", "bmp"].contains(url.pathExtension.lowercased()) }

    public static func readImage(_ url: URL) throws -> Image {
        decodesWithOpenCV(url) ? try PNG.readImage(url) : try TIFF.readImage(url)
    }

    /// Plane `plane` (pages x samples, 0-based) of a file; nil: the file must hold one plane.
    public static func readImage(_ url: URL, plane: Int?) throws -> Image {
        guard let plane else { return try readImage(url) }
        let planes = decodesWithOpenCV(url) ? [try PNG.readImage(url)] : try TIFF.read(url)
        guard planes.indices.contains(plane) else {
            throw MorphoError.unsupportedImage(path: url.path, problem: "holds \(planes.count) plane(s); plane \(plane) was asked for")
        }
        return planes[plane]
    }
}
