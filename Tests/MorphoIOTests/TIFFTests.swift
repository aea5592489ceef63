import Foundation
@testable import MorphoIO
import MorphoCore
import MorphoTestSupport
import Testing

/// The format-matrix fixtures written by tifffile (scripts/make_tiff_fixtures.py).
struct FixtureCase: Decodable, CustomTestStringConvertible, Sendable {
    var file: String, dtype: String, width: Int, height: Int, pages: Int, samples: Int
    var testDescription: String { file }

    static let all: [FixtureCase] = {
        let data = try! Data(contentsOf: TestPaths.fixture("tiff/cases.json"))
        return try! JSONDecoder().decode([FixtureCase].self, from: data)
    }()

    /// The value the fixture script wrote at (x, y) of page p, sample s (same formulas, computed here).
    func expected(x: Int, y: Int, page p: Int, sample s: Int) -> Double {
        switch dtype {
        case "uint8": return Double((x * 7 + y * 13 + p * 31 + s * 17) % 251)
        case "uint16": return Double((x * 1031 + y * 257 + p * 4099 + s * 97) % 65521)
        case "int16": return Double((x * 1031 + y * 257 + p * 4099 + s * 97) % 60000 - 30000)
        default: return Double(Float(sin(Double(x) * 0.3) * cos(Double(y) * 0.2) * 100.0 + Double(p) + Double(s) * 0.5))
        }
    }
}

/// Reference values of the real TIFFs, recorded once from tifffile (scripts/tiff_reference.py).
struct PlaneReference: Decodable {
    var width: Int, height: Int, dtype: String, sum: Double, sumsq: Double, weighted: Double, samples: [[Double]]

    /// Checks an image against the reference; integer images must match exactly.
    func check(_ image: Image, _ name: String) {
        #expect(image.width == width && image.height == height, "\(name) size")
        var s = 0.0, s2 = 0.0, w = 0.0
        for (i, v) in image.pixels.enumerated() {
            let d = Double(v)
            s += d; s2 += d * d; w += d * Double(i % 1009 + 1)
        }
        let tolerance = dtype.hasPrefix("float") ? 1e-6 * max(abs(sum), 1) : 0
        #expect(abs(s - sum) <= tolerance, "\(name) sum \(s) vs \(sum)")
        #expect(abs(s2 - sumsq) <= tolerance * max(abs(sumsq / max(abs(sum), 1)), 1), "\(name) sum of squares")
        #expect(abs(w - weighted) <= tolerance * 1009, "\(name) weighted checksum \(w) vs \(weighted)")
        for sample in samples {
            #expect(Double(image[Int(sample[0]), Int(sample[1])]) == sample[2], "\(name) pixel (\(sample[0]), \(sample[1]))")
        }
    }
}

func loadReferences(_ json: Data) throws -> [String: [PlaneReference]] {
    try JSONDecoder().decode([String: [PlaneReference]].self, from: json)
}

@Suite struct TIFFReadTests {
    @Test(arguments: FixtureCase.all)
    func readsEveryLayoutAndCompression(_ c: FixtureCase) throws {
        let images = try TIFF.read(TestPaths.fixture("tiff/\(c.file)"))
        #expect(images.count == c.pages * c.samples)
        let depth: BitDepth = ["uint8": .uint8, "uint16": .uint16, "int16": .int16, "float32": .float32][c.dtype]!
        for p in 0..<c.pages {
            for s in 0..<c.samples {
                let image = images[p * c.samples + s]
                #expect(image.width == c.width && image.height == c.height && image.bitDepth == depth)
                var worst = 0.0
                for y in 0..<c.height {
                    for x in 0..<c.width {
                        worst = max(worst, abs(Double(image[x, y]) - c.expected(x: x, y: y, page: p, sample: s)))
                    }
                }
                #expect(worst <= (c.dtype == "float32" ? 1e-4 : 0), "page \(p) sample \(s): max error \(worst)")
            }
        }
    }

    @Test func infoDescribesPagesWithoutDecoding() throws {
        let pages = try TIFF.info(TestPaths.fixture("tiff/uint16_multipage_zlib.tif"))
        #expect(pages.count == 3)
        #expect(pages[0] == TIFF.PageInfo(width: 40, height: 30, samplesPerPixel: 1, bitDepth: .uint16, compression: 8, tiled: false))
        #expect(try TIFF.info(TestPaths.fixture("tiff/uint8_none_tiled.tif"))[0].tiled)
    }

    /// Every TIFF in ../shared/data/real against values recorded once from tifffile.
    @Test func realImagesMatchRecordedTifffileValues() throws {
        let refs = try loadReferences(Data(contentsOf: TestPaths.fixture("real_tiffs.json")))
        #expect(refs.count == 79)
        for (relative, planes) in refs.sorted(by: { $0.key < $1.key }) {
            let images = try TIFF.read(TestPaths.realData.appendingPathComponent(relative))
            #expect(images.count == planes.count, "\(relative)")
            for (image, ref) in zip(images, planes) { ref.check(image, relative) }
        }
    }

    @Test func jumpFieldIsLZWCompressed16Bit() throws {
        let url = TestPaths.realData.appendingPathComponent("jump_cpg0000_A01_1/r01c01f01p01-ch5sk1fk1fl1.tiff")
        let info = try TIFF.info(url)
        #expect(info.count == 1 && info[0].compression == 5 && info[0].bitDepth == .uint16 && info[0].width == 1080)
    }

    /// The same comparison live, against tifffile in the test virtualenv, on the real images and fixtures.
    @Test(.enabled(if: Peers.available)) func realImagesAndFixturesMatchTifffileLive() throws {
        for root in [TestPaths.realData, TestPaths.fixture("tiff")] {
            let json = try Peers.run(["scripts/tiff_reference.py", root.path, "--relative-to", root.path])
            let refs = try loadReferences(Data(json.utf8)).filter { !$0.key.contains("unsupported") }
            #expect(refs.count == (root == TestPaths.realData ? 79 : 40))
            for (relative, planes) in refs {
                let images = try TIFF.read(root.appendingPathComponent(relative))
                #expect(images.count == planes.count, "\(relative)")
                for (image, ref) in zip(images, planes) { ref.check(image, relative) }
            }
        }
    }
}

@Suite struct TIFFWriteTests {
    func ramp(_ w: Int, _ h: Int, scale: Float, depth: BitDepth) -> Image {
        Image(width: w, height: h, pixels: (0..<(w * h)).map { Float($0 % 977) * scale }, bitDepth: depth)
    }

    @Test(arguments: [TIFF.Compression.none, .lzw, .deflate, .packBits])
    func roundTripsUInt16AndFloat(_ compression: TIFF.Compression) throws {
        let dir = TestPaths.temporaryDirectory("tiff")
        let u16 = ramp(67, 45, scale: 61, depth: .uint16)
        let f32 = ramp(67, 45, scale: 0.013, depth: .float32)
        let u8 = ramp(20, 10, scale: 0.25, depth: .uint8)
        try TIFF.write(u16, to: dir.appendingPathComponent("a.tif"), compression: compression)
        try TIFF.write(f32, to: dir.appendingPathComponent("b.tif"), compression: compression)
        try TIFF.write([u16, u16], to: dir.appendingPathComponent("c.tif"), compression: compression)
        try TIFF.write(u8, to: dir.appendingPathComponent("d.tif"), compression: compression)
        #expect(try TIFF.readImage(dir.appendingPathComponent("a.tif")) == u16)
        #expect(try TIFF.readImage(dir.appendingPathComponent("b.tif")) == f32)
        #expect(try TIFF.read(dir.appendingPathComponent("c.tif")) == [u16, u16])
        var rounded = u8
        rounded.pixels = u8.pixels.map { $0.rounded() }
        #expect(try TIFF.readImage(dir.appendingPathComponent("d.tif")) == rounded)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["a.tif", "b.tif", "c.tif", "d.tif"])
    }

    @Test func integerOutputIsRoundedAndClamped() throws {
        let url = TestPaths.temporaryDirectory("tiff").appendingPathComponent("clamp.tif")
        try TIFF.write(Image(width: 4, height: 1, pixels: [-5, 1.6, 70000, 12.4], bitDepth: .float32), to: url, bitDepth: .uint16)
        let back = try TIFF.readImage(url)
        #expect(back.pixels == [0, 2, 65535, 12] && back.bitDepth == .uint16)
    }

    /// tifffile reads what Morpho writes, with the same values.
    @Test(.enabled(if: Peers.available)) func tifffileReadsMorphoOutput() throws {
        let dir = TestPaths.temporaryDirectory("tiff")
        let u16 = ramp(67, 45, scale: 61, depth: .uint16), f32 = ramp(33, 21, scale: 0.37, depth: .float32)
        try TIFF.write(u16, to: dir.appendingPathComponent("u16.tif"))
        try TIFF.write([f32, f32], to: dir.appendingPathComponent("f32.tif"), compression: .lzw)
        let json = try Peers.run(["scripts/tiff_reference.py", dir.path, "--relative-to", dir.path])
        let refs = try loadReferences(Data(json.utf8))
        #expect(refs["u16.tif"]?.first?.dtype == "uint16")
        refs["u16.tif"]?.first?.check(u16, "u16.tif")
        #expect(refs["f32.tif"]?.count == 2 && refs["f32.tif"]?.first?.dtype == "float32")
        refs["f32.tif"]?.last?.check(f32, "f32.tif")
    }
}

@Suite struct TIFFBadInputTests {
    func problem(_ body: () throws -> Void) -> String {
        do { try body(); return "no error" } catch { return "\(error)" }
    }

    @Test func missingFile() {
        let message = problem { _ = try TIFF.read(URL(fileURLWithPath: "/nonexistent/plate1/A01_s1.tif")) }
        #expect(message == "/nonexistent/plate1/A01_s1.tif: file not found")
    }

    @Test func truncatedFile() throws {
        let source = TestPaths.realData.appendingPathComponent("jump_cpg0000_A01_1/r01c01f01p01-ch5sk1fk1fl1.tiff")
        let data = try Data(contentsOf: source)
        let url = TestPaths.temporaryDirectory("bad").appendingPathComponent("truncated.tiff")
        try data.prefix(data.count / 2).write(to: url)
        let message = problem { _ = try TIFF.read(url) }
        #expect(message.hasPrefix(url.path + ": "))
        #expect(message.contains("corrupt or truncated") || message.contains("not a readable TIFF"), "\(message)")
    }

    @Test func garbageAndEmptyFiles() throws {
        let dir = TestPaths.temporaryDirectory("bad")
        let garbage = dir.appendingPathComponent("garbage.tif"), empty = dir.appendingPathComponent("empty.tif")
        try Data("this is not a TIFF file at all".utf8).write(to: garbage)
        try Data().write(to: empty)
        #expect(problem { _ = try TIFF.read(garbage) }.hasPrefix("\(garbage.path): not a readable TIFF"))
        #expect(problem { _ = try TIFF.read(empty) }.hasPrefix("\(empty.path): not a readable TIFF"))
        #expect(problem { _ = try TIFF.read(dir) }.contains("is a folder"))
    }

    @Test func corruptStripData() throws {
        // Overwrite the compressed strips of a deflate file: the header is fine, decoding fails.
        let source = TestPaths.fixture("tiff/uint16_zlib_stripped.tif")
        var bytes = [UInt8](try Data(contentsOf: source))
        for i in 16..<min(bytes.count, 1500) { bytes[i] = UInt8(truncatingIfNeeded: i &* 31) }
        let url = TestPaths.temporaryDirectory("bad").appendingPathComponent("corrupt.tif")
        try Data(bytes).write(to: url)
        let message = problem { _ = try TIFF.read(url) }
        #expect(message.hasPrefix(url.path + ": "), "\(message)")
        #expect(message != "no error")
    }

    /// A minimal little-endian TIFF header declaring `width` x `height` 16-bit pixels in one
    /// uncompressed strip of `stripBytes` bytes, followed by those bytes.
    static func header(width: UInt32, height: UInt32, stripBytes: UInt32) -> Data {
        var d = Data([0x49, 0x49, 42, 0, 8, 0, 0, 0])
        func u16(_ v: UInt16) { d.append(contentsOf: [UInt8(v & 0xFF), UInt8(v >> 8)]) }
        func u32(_ v: UInt32) { for k in 0..<4 { d.append(UInt8((v >> (8 * UInt32(k))) & 0xFF)) } }
        let entries: [(UInt16, UInt16, UInt32)] = [(256, 4, width), (257, 4, height), (258, 3, 16), (259, 3, 1), (262, 3, 1),
                                                   (273, 4, 8 + 2 + 9 * 12 + 4), (277, 3, 1), (278, 4, height), (279, 4, stripBytes)]
        u16(UInt16(entries.count))
        for (tag, type, value) in entries { u16(tag); u16(type); u32(1); type == 3 ? { u16(UInt16(value)); u16(0) }() : u32(value) }
        u32(0)
        d.append(Data(repeating: 7, count: Int(stripBytes)))
        return d
    }

    /// Headers that declare more pixels than the file holds or than the memory budget allows are
    /// refused before anything is allocated, naming the file (a 150-byte file declaring 100000 x
    /// 100000 pixels asked for 40 GB).
    @Test func declaredSizesAreCheckedBeforeAllocating() throws {
        let dir = TestPaths.temporaryDirectory("bad-size")
        let huge = dir.appendingPathComponent("huge.tif"), big = dir.appendingPathComponent("big.tif")
        let liar = dir.appendingPathComponent("liar.tif"), fine = dir.appendingPathComponent("fine.tif")
        try Self.header(width: 100_000, height: 100_000, stripBytes: 10).write(to: huge)
        try Self.header(width: 20_000, height: 20_000, stripBytes: 10).write(to: big)
        var lying = Self.header(width: 64, height: 64, stripBytes: 64 * 64 * 2)
        lying = lying.prefix(lying.count - 4000)   // the strip says 8192 bytes; the file ends early
        try lying.write(to: liar)
        try Self.header(width: 64, height: 64, stripBytes: 64 * 64 * 2).write(to: fine)
        let hugeProblem = problem { _ = try TIFF.read(huge) }
        #expect(hugeProblem.hasPrefix(huge.path) && hugeProblem.contains("memory budget"), "\(hugeProblem)")
        let bigProblem = problem { _ = try TIFF.read(big) }
        #expect(bigProblem.hasPrefix(big.path) && bigProblem.contains("memory budget"), "\(bigProblem)")
        let liarProblem = problem { _ = try TIFF.read(liar) }
        #expect(liarProblem.hasPrefix(liar.path) && liarProblem.contains("the file holds"), "\(liarProblem)")
        #expect(try TIFF.readImage(fine).pixels.allSatisfy { $0 == 7 * 256 + 7 })
    }

    /// Inputs the fuzzer found (scripts/fuzz.sh): a tile declared at gigabytes (it allocated 8 GiB), and
    /// an empty file (Foundation leaked its read buffer on it).
    @Test func fuzzFindingsAreNamedErrors() throws {
        let tile = TestPaths.fixture("fuzz/tiff_huge_tile.tif")
        let tileProblem = problem { _ = try TIFF.read(tile) }
        #expect(tileProblem.hasPrefix(tile.path) && tileProblem.contains("declares tiles of"), "\(tileProblem)")
        let empty = TestPaths.temporaryDirectory("empty-tiff").appendingPathComponent("empty.tif")
        try Data().write(to: empty)
        #expect(problem { _ = try TIFF.read(empty) } == "\(empty.path): not a readable TIFF (the file is empty)")
    }

    @Test func unsupportedSampleFormats() {
        let f16 = TestPaths.fixture("tiff/unsupported_float16.tif")
        #expect(problem { _ = try TIFF.read(f16) } == "\(f16.path): unsupported image: 16-bit float samples (Morpho reads 8/16/32-bit unsigned, 16-bit signed, 32/64-bit float)")
        let c64 = TestPaths.fixture("tiff/unsupported_complex64.tif")
        #expect(problem { _ = try TIFF.read(c64) }.contains("complex float"))
    }

    @Test func readImageRefusesMultiPlaneFiles() {
        let url = TestPaths.fixture("tiff/uint8_rgb_contig.tif")
        #expect(problem { _ = try TIFF.readImage(url) }.contains("found 3 planes"))
    }

    @Test func writeRefusesEmptyAndUnwritableTargets() {
        #expect(problem { try TIFF.write([Image](), to: URL(fileURLWithPath: "/tmp/x.tif")) }.contains("no image to write"))
        let image = Image(width: 2, height: 2, value: 1, bitDepth: .uint16)
        #expect(problem { try TIFF.write(image, to: URL(fileURLWithPath: "/proc/forbidden/x.tif")) }.contains("/proc/forbidden"))
        #expect(problem { try TIFF.write(image, to: URL(fileURLWithPath: "/tmp/x16.tif"), bitDepth: .int16) }.contains("not supported"))
    }
}
