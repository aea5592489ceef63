import Foundation
import MorphoCore

/// 8-bit grey BMP encoding (Microsoft's BITMAPINFOHEADER: a 256-entry grey palette, rows bottom-up, each
/// padded to 4 bytes), the format of BBBC014's images. Reading goes through OpenCV's imgcodecs (`ImageFile`).
public enum BMP {
    /// The BMP bytes of a `width` x `height` grey image, `pixels` row-major from the top row.
    public static func encode(width: Int, height: Int, pixels: [UInt8]) -> Data {
        precondition(pixels.count == width * height, "BMP: \(pixels.count) bytes for \(width)x\(height)")
        let rowBytes = (width + 3) / 4 * 4, paletteBytes = 256 * 4, offset = 14 + 40 + paletteBytes
        var out = Data(capacity: offset + rowBytes * height)
        func le32(_ v: Int) { withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian) { out.append(contentsOf: $0) } }
        func le16(_ v: Int) { withUnsafeBytes(of: UInt16(truncatingIfNeeded: v).littleEndian) { out.append(contentsOf: $0) } }
        out.append(contentsOf: Array("BM".utf8)); le32(offset + rowBytes * height); le32(0); le32(offset)
        le32(40); le32(width); le32(height); le16(1); le16(8); le32(0); le32(rowBytes * height)
        le32(2835); le32(2835); le32(256); le32(256)  // 72 dpi; all 256 palette entries used and important
        for v in 0..<256 { out.append(contentsOf: [UInt8(v), UInt8(v), UInt8(v), 0]) }
        let padding = [UInt8](repeating: 0, count: rowBytes - width)
        for y in stride(from: height - 1, through: 0, by: -1) {
            out.append(contentsOf: pixels[(y * width)..<((y + 1) * width)])
            out.append(contentsOf: padding)
        }
        return out
    }
}
