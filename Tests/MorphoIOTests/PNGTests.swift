import Foundation
import MorphoCore
@testable import MorphoIO
import MorphoTestSupport
import Testing

@Suite struct PNGReadTests {
    let dir = TestPaths.temporaryDirectory("png")

    /// A 16-bit grey PNG built by hand (filter 0 rows of big-endian samples, zlib-deflated), so the
    /// reader is checked against the specification, not against our own 8-bit encoder only.
    func sixteenBitPNG(width: Int, height: Int, samples: [UInt16]) -> Data {
        var raw = [UInt8]()
        for y in 0..<height {
            raw.append(0)
            for x in 0..<width { let v = samples[y * width + x]; raw += [UInt8(v >> 8), UInt8(v & 0xFF)] }
        }
        var out = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]), header = Data()
        header.append(bigEndian: UInt32(width)); header.append(bigEndian: UInt32(height))
        header.append(contentsOf: [16, 0, 0, 0, 0])
        PNG.chunk("IHDR", header, into: &out)
        PNG.chunk("IDAT", Gzip.compress(Data(raw), zlibWrapper: true), into: &out)
        PNG.chunk("IEND", Data(), into: &out)
        return out
    }

    @Test func readsEightAndSixteenBitGreyInOriginalUnits() throws {
        let w = 13, h = 7
        let bytes = (0..<(w * h)).map { UInt8(($0 * 37) % 256) }
        let eight = dir.appendingPathComponent("eight.png")
        try PNG.encode(width: w, height: h, channels: 1, pixels: bytes).write(to: eight)
        let a = try ImageFile.readImage(eight)
        #expect(a.width == w && a.height == h && a.bitDepth == .uint8)
        #expect(a.pixels == bytes.map(Float.init))

        var values = (0..<(w * h)).map { UInt16(truncatingIfNeeded: $0 * 977) }
        values[0] = 0; values[1] = 255; values[2] = 256; values[3] = 65_535
        let sixteen = dir.appendingPathComponent("sixteen.PNG")
        try sixteenBitPNG(width: w, height: h, samples: values).write(to: sixteen)
        let b = try ImageFile.readImage(sixteen)
        #expect(b.bitDepth == .uint16)
        #expect(b.pixels == values.map(Float.init))
    }

    /// A PNG header declaring 100000 x 100000 pixels is refused before OpenCV decodes it.
    @Test func declaredSizeIsCheckedBeforeDecoding() throws {
        let url = TestPaths.temporaryDirectory("png-huge").appendingPathComponent("huge.png")
        var header = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52])
        for v: UInt32 in [100_000, 100_000] { header.append(contentsOf: [24, 16, 8, 0].map { UInt8((v >> $0) & 0xFF) }) }
        header.append(contentsOf: [16, 0, 0, 0, 0, 0, 0, 0, 0])
        try header.write(to: url)
        do { _ = try PNG.readImage(url); Issue.record("decoded") } catch {
            #expect("\(error)".contains(url.path) && "\(error)".contains("100000x100000") && "\(error)".contains("memory budget"), "\(error)")
        }
    }

    @Test func colourCorruptAndMissingFilesAreNamedErrors() throws {
        // A colour file is refused; a grey image saved as RGB (all three channels equal) is read as grey.
        let rgb = dir.appendingPathComponent("rgb.png")
        try PNG.encode(width: 4, height: 3, channels: 3, pixels: (0..<36).map { UInt8($0 % 3 == 1 ? 200 : 9) }).write(to: rgb)
        #expect(throws: MorphoError.unsupportedImage(path: rgb.path, problem: "expected one grey image, found 3 channels")) {
            try PNG.readImage(rgb)
        }
        let greyRGB = dir.appendingPathComponent("grey-rgb.png")
        try PNG.encode(width: 4, height: 3, channels: 3, pixels: [UInt8](repeating: 9, count: 36)).write(to: greyRGB)
        #expect(try PNG.readImage(greyRGB).pixels == [Float](repeating: 9, count: 12))
        let corrupt = dir.appendingPathComponent("corrupt.png")
        var data = PNG.encode(width: 8, height: 8, channels: 1, pixels: [UInt8](repeating: 1, count: 64))
        data = data.prefix(30) + Data(repeating: 0xAB, count: 40)
        try data.write(to: corrupt)
        do {
            _ = try ImageFile.readImage(corrupt)
            Issue.record("a corrupt PNG was read")
        } catch let error as MorphoError {
            #expect(error.description.contains(corrupt.path) && error.description.contains("not a readable image"), "\(error)")
        }
        let missing = dir.appendingPathComponent("missing.png")
        #expect(throws: MorphoError.file(path: missing.path, problem: "file not found")) { try ImageFile.readImage(missing) }
    }
}
