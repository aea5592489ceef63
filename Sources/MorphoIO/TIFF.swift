import CTIFF
import Foundation
import MorphoCore

/// TIFF files through libtiff.
///
/// Reads 8/16/32-bit unsigned, 16-bit signed and 32/64-bit float samples, stripped or tiled, contiguous
/// or planar, with any compression libtiff was built with (none, LZW, deflate, PackBits, ...), single
/// or multi-page. Each sample plane of each page becomes one `Image` in original units. Writes 8/16-bit
/// unsigned and 32-bit float pages, deflate-compressed with a predictor by default.
public enum TIFF {
    /// Compression for writing.
    public enum Compression: Sendable {
        case none, lzw, deflate, packBits

        var tag: UInt16 {
            switch self {
            case .none: return UInt16(COMPRESSION_NONE)
            case .lzw: return UInt16(COMPRESSION_LZW)
            case .deflate: return UInt16(COMPRESSION_ADOBE_DEFLATE)
            case .packBits: return UInt16(COMPRESSION_PACKBITS)
            }
        }
    }

    /// Layout of one page as stored.
    public struct PageInfo: Sendable, Equatable {
        public var width: Int
        public var height: Int
        public var samplesPerPixel: Int
        public var bitDepth: BitDepth
        public var compression: Int
        public var tiled: Bool
    }

    /// A divisor applied to every decoded row (see `readImage(_:dividingBy:mismatch:)`).
    typealias Divisor = (image: Image, mismatch: (_ width: Int, _ height: Int) -> Error)

    /// Reads every page of `url`; a page with k samples per pixel gives k images (page-major).
    public static func read(_ url: URL) throws -> [Image] {
        try read(url, divisor: nil)
    }

    static func read(_ url: URL, divisor: Divisor?) throws -> [Image] {
        try withOpenFile(url, mode: "r") { tif, errors in
            var images = [Image]()
            var page = 0
            repeat {
                images += try readPage(tif, errors: errors, url: url, page: page, divisor: divisor)
                page += 1
            } while TIFFReadDirectory(tif) == 1
            try check(errors, url: url, doing: "reading page \(page + 1)")
            return images
        }
    }

    /// Reads a single-sample, single-page image; throws if the file holds more than one plane.
    public static func readImage(_ url: URL) throws -> Image {
        try single(read(url), url: url)
    }

    /// Reads a single grey image divided pixel by pixel by `divisor` (an illumination function) as
    /// each row is decoded, so the undivided image is never written out whole. A divisor whose size
    /// differs from the image's throws `mismatch(width, height)` of the image before any decoding.
    public static func readImage(_ url: URL, dividingBy divisor: Image,
                                 mismatch: @escaping (_ width: Int, _ height: Int) -> Error) throws -> Image {
        try single(read(url, divisor: (divisor, mismatch)), url: url)
    }

    private static func single(_ images: [Image], url: URL) throws -> Image {
        guard images.count == 1 else {
            throw MorphoError.unsupportedImage(path: url.path,
                                               problem: "expected one grey image, found \(images.count) planes (pages x samples)")
        }
        return images[0]
    }

    /// Page layouts without decoding pixels.
    public static func info(_ url: URL) throws -> [PageInfo] {
        try withOpenFile(url, mode: "r") { tif, errors in
            var pages = [PageInfo]()
            repeat {
                pages.append(try pageInfo(tif, url: url))
            } while TIFFReadDirectory(tif) == 1
            try check(errors, url: url, doing: "reading directories")
            return pages
        }
    }

    /// Writes `images` as the pages of one TIFF, atomically. Each image is written at `bitDepth`
    /// (default: its own); integer output is rounded and clamped to the type's range.
    public static func write(_ images: [Image], to url: URL, bitDepth: BitDepth? = nil,
                             compression: Compression = .deflate) throws {
        guard !images.isEmpty else { throw MorphoError.file(path: url.path, problem: "no image to write") }
        try AtomicFile.write(to: url) { tmp in
            try withOpenFile(tmp, mode: "w", reportAs: url) { tif, errors in
                for (page, image) in images.enumerated() {
                    try writePage(tif, image: image, depth: bitDepth ?? image.bitDepth, compression: compression,
                                  page: page, pageCount: images.count, url: url, errors: errors)
                }
            }
        }
    }

    /// Writes one image.
    public static func write(_ image: Image, to url: URL, bitDepth: BitDepth? = nil,
                             compression: Compression = .deflate) throws {
        try write([image], to: url, bitDepth: bitDepth, compression: compression)
    }

    // MARK: - internals

    private static func withOpenFile<T>(_ url: URL, mode: String, reportAs: URL? = nil,
                                        _ body: (OpaquePointer, UnsafeMutablePointer<MorphoTIFFErrorBuffer>) throws -> T) throws -> T {
        let shown = reportAs ?? url
        if mode == "r" {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
                throw MorphoError.file(path: url.path, problem: "file not found")
            }
            if isDir.boolValue { throw MorphoError.file(path: url.path, problem: "is a folder, not a TIFF file") }
        }
        let errors = UnsafeMutablePointer<MorphoTIFFErrorBuffer>.allocate(capacity: 1)
        errors.initialize(to: MorphoTIFFErrorBuffer())
        defer { errors.deallocate() }
        // Files up to 256 MiB are read whole with one read(2) and decoded from memory (a strip at a
        // time through libtiff's file procedures costs a system call per strip); larger ones through
        // read(2) into libtiff's strip buffers ("m": memory-mapping faults in every page and copies it).
        var contents: Data?
        if mode == "r", let size = try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int, size <= 256 << 20 {
            // (Foundation leaks its read buffer for an empty file, as the fuzzer found.)
            guard size > 0 else { throw MorphoError.file(path: shown.path, problem: "not a readable TIFF (the file is empty)") }
            contents = try? Data(contentsOf: url)
        }
        if let contents {
            return try contents.withUnsafeBytes { raw in
                var memory = MorphoTIFFMemory(data: raw.bindMemory(to: UInt8.self).baseAddress, size: UInt64(raw.count), position: 0)
                return try withUnsafeMutablePointer(to: &memory) { memory in
                    try run(morpho_tiff_open_memory(memory, url.path, errors))
                }
            }
        }
        return try run(morpho_tiff_open(url.path, mode == "r" ? "rm" : mode, errors))

        func run(_ opened: OpaquePointer?) throws -> T {
            guard let tif = opened else {
                let detail = errors.pointee.count > 0 ? message(errors) : "cannot open"
                throw MorphoError.file(path: shown.path, problem: "not a readable TIFF (\(detail))")
            }
            var closed = false
            defer { if !closed { TIFFClose(tif) } }
            let result = try body(tif, errors)
            TIFFClose(tif)
            closed = true
            try check(errors, url: shown, doing: mode == "r" ? "reading" : "writing")
            return result
        }
    }

    private static func message(_ errors: UnsafeMutablePointer<MorphoTIFFErrorBuffer>) -> String {
        withUnsafeBytes(of: errors.pointee.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    private static func check(_ errors: UnsafeMutablePointer<MorphoTIFFErrorBuffer>, url: URL, doing: String) throws {
        if errors.pointee.count > 0 {
            throw MorphoError.file(path: url.path, problem: "corrupt or truncated TIFF while \(doing): \(message(errors))")
        }
    }

    private static func pageInfo(_ tif: OpaquePointer, url: URL) throws -> PageInfo {
        var w: UInt32 = 0, h: UInt32 = 0
        var bps: UInt16 = 0, spp: UInt16 = 0, format: UInt16 = 0, comp: UInt16 = 0
        _ = morpho_tiff_get_u32(tif, UInt32(TIFFTAG_IMAGEWIDTH), &w)
        _ = morpho_tiff_get_u32(tif, UInt32(TIFFTAG_IMAGELENGTH), &h)
        _ = morpho_tiff_get_u16(tif, UInt32(TIFFTAG_BITSPERSAMPLE), &bps)
        _ = morpho_tiff_get_u16(tif, UInt32(TIFFTAG_SAMPLESPERPIXEL), &spp)
        _ = morpho_tiff_get_u16(tif, UInt32(TIFFTAG_SAMPLEFORMAT), &format)
        _ = morpho_tiff_get_u16(tif, UInt32(TIFFTAG_COMPRESSION), &comp)
        let depth: BitDepth
        switch (Int32(format), bps) {
        case (SAMPLEFORMAT_UINT, 8): depth = .uint8
        case (SAMPLEFORMAT_UINT, 16): depth = .uint16
        case (SAMPLEFORMAT_UINT, 32): depth = .uint32
        case (SAMPLEFORMAT_INT, 16): depth = .int16
        case (SAMPLEFORMAT_IEEEFP, 32), (SAMPLEFORMAT_IEEEFP, 64): depth = .float32
        default:
            let kind = [1: "unsigned", 2: "signed", 3: "float", 4: "void", 5: "complex int", 6: "complex float"][Int(format)] ?? "format \(format)"
            throw MorphoError.unsupportedImage(path: url.path, problem: "\(bps)-bit \(kind) samples (Morpho reads 8/16/32-bit unsigned, 16-bit signed, 32/64-bit float)")
        }
        guard w > 0, h > 0, spp > 0 else {
            throw MorphoError.unsupportedImage(path: url.path, problem: "image is \(w)x\(h) with \(spp) samples per pixel")
        }
        guard TIFFIsCODECConfigured(comp) != 0 else {
            throw MorphoError.unsupportedImage(path: url.path, problem: "compression scheme \(comp) is not available in libtiff")
        }
        return PageInfo(width: Int(w), height: Int(h), samplesPerPixel: Int(spp), bitDepth: depth,
                        compression: Int(comp), tiled: TIFFIsTiled(tif) != 0)
    }

    static var memoryBudget: Int { MemoryBudget.bytes }

    /// Refuses a page whose declared size cannot be right or would not fit the memory budget: its
    /// decoded size above `memoryBudget`; strips or tiles whose stored bytes add up to more than the
    /// file holds; or a decoded size over 100,000 times the stored bytes (deflate compresses at most
    /// about 1,000:1), the mark of a header that declares pixels the file does not hold.
    private static func checkDeclaredSize(_ tif: OpaquePointer, info: PageInfo, bytesPerSample: Int, url: URL, page: Int) throws {
        let (pixels, o1) = info.width.multipliedReportingOverflow(by: info.height)
        let (samples, o2) = pixels.multipliedReportingOverflow(by: info.samplesPerPixel)
        let (floats, o3) = samples.multipliedReportingOverflow(by: 4)
        let budget = memoryBudget
        if o1 || o2 || o3 || floats > budget {
            throw MorphoError.unsupportedImage(path: url.path, problem: "page \(page + 1) declares \(info.width)x\(info.height)x\(info.samplesPerPixel) samples, \(o3 ? "more than" : "\(floats >> 20) MiB") as floats; the memory budget is \(budget >> 20) MiB (set MORPHO_MAX_IMAGE_BYTES to raise it)")
        }
        let chunks = info.tiled ? TIFFNumberOfTiles(tif) : TIFFNumberOfStrips(tif)
        var stored: UInt64 = 0
        for k in 0..<chunks { stored &+= TIFFGetStrileByteCount(tif, k) }
        let fileSize = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.uint64Value ?? UInt64.max
        if stored > fileSize {
            throw MorphoError.file(path: url.path, problem: "corrupt or truncated TIFF: page \(page + 1)'s strips or tiles declare \(stored) bytes, the file holds \(fileSize)")
        }
        let decoded = UInt64(samples) * UInt64(max(1, bytesPerSample))
        if decoded > 100_000 * max(stored, 1) {
            throw MorphoError.file(path: url.path, problem: "corrupt TIFF: page \(page + 1) declares \(info.width)x\(info.height) pixels (\(decoded) bytes) but stores only \(stored) bytes")
        }
    }

    /// A strip or tile buffer is allocated at the size the tags declare: it must be positive and fit the
    /// memory budget (a crafted tile of 65535 x 65535 would ask for gigabytes).
    private static func checkChunk(_ size: Int, _ kind: String, url: URL, page: Int) throws {
        guard size > 0, size <= memoryBudget else {
            throw MorphoError.file(path: url.path, problem: "corrupt TIFF: page \(page + 1) declares \(kind)s of \(size) bytes (memory budget \(memoryBudget >> 20) MiB)")
        }
    }

    private static func readPage(_ tif: OpaquePointer, errors: UnsafeMutablePointer<MorphoTIFFErrorBuffer>,
                                 url: URL, page: Int, divisor: Divisor?) throws -> [Image] {
        let info = try pageInfo(tif, url: url)
        if let divisor, divisor.image.width != info.width || divisor.image.height != info.height {
            throw divisor.mismatch(info.width, info.height)
        }
        var bpsRaw: UInt16 = 0, planar: UInt16 = 0
        _ = morpho_tiff_get_u16(tif, UInt32(TIFFTAG_BITSPERSAMPLE), &bpsRaw)
        _ = morpho_tiff_get_u16(tif, UInt32(TIFFTAG_PLANARCONFIG), &planar)
        let bytes = Int(bpsRaw) / 8
        let spp = info.samplesPerPixel
        let separate = planar == UInt16(PLANARCONFIG_SEPARATE)
        let (width, height) = (info.width, info.height)
        try checkDeclaredSize(tif, info: info, bytesPerSample: bytes, url: url, page: page)
        var planes = (0..<spp).map { _ in [Float](repeating: 0, count: width * height) }  // one buffer each, no copy on write

        // Decodes one chunk (strip or tile) covering columns x0..<x0+cw (chunk row length `stride`
        // pixels) and rows y0..<y0+ch into the planes; `sample` is nil for interleaved chunks.
        func decode(_ index: UInt32, size: Int, x0: Int, y0: Int, cw: Int, ch: Int, stride: Int, sample: Int?) throws {
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
            defer { buffer.deallocate() }
            let n = info.tiled ? TIFFReadEncodedTile(tif, index, buffer, tmsize_t(size))
                               : TIFFReadEncodedStrip(tif, index, buffer, tmsize_t(size))
            if n < 0 || errors.pointee.count > 0 {
                throw MorphoError.file(path: url.path,
                                       problem: "corrupt or truncated TIFF: cannot decode \(info.tiled ? "tile" : "strip") \(index) of page \(page + 1)\(errors.pointee.count > 0 ? " (\(message(errors)))" : "")")
            }
            let perPixel = sample == nil ? spp : 1
            let rowsAvailable = Int(n) / max(1, stride * perPixel * bytes)
            let rows = min(ch, rowsAvailable)
            for s in 0..<(sample == nil ? spp : 1) {
                let target = sample ?? s
                planes[target].withUnsafeMutableBufferPointer { out in
                    for r in 0..<rows {
                        let src = buffer + (r * stride * perPixel + s) * bytes
                        let dst = out.baseAddress! + (y0 + r) * width + x0
                        convertRow(src, dst, count: cw, step: perPixel, bps: Int(bpsRaw), depth: info.bitDepth)
                        if let divisor {  // the row is still in cache
                            divisor.image.pixels.withUnsafeBufferPointer { d in
                                let f = d.baseAddress! + (y0 + r) * width + x0
                                for i in 0..<cw { dst[i] /= f[i] }
                            }
                        }
                    }
                }
            }
        }

        if info.tiled {
            var tw: UInt32 = 0, th: UInt32 = 0
            _ = morpho_tiff_get_u32(tif, UInt32(TIFFTAG_TILEWIDTH), &tw)
            _ = morpho_tiff_get_u32(tif, UInt32(TIFFTAG_TILELENGTH), &th)
            let size = Int(TIFFTileSize(tif))
            guard tw > 0, th > 0 else {
                throw MorphoError.file(path: url.path, problem: "corrupt TIFF: page \(page + 1) declares tiles of \(tw)x\(th) pixels")
            }
            try checkChunk(size, "tile", url: url, page: page)
            for s in 0..<(separate ? spp : 1) {
                for y0 in stride(from: 0, to: height, by: Int(th)) {
                    for x0 in stride(from: 0, to: width, by: Int(tw)) {
                        let index = TIFFComputeTile(tif, UInt32(x0), UInt32(y0), 0, UInt16(s))
                        try decode(index, size: size, x0: x0, y0: y0, cw: min(Int(tw), width - x0),
                                   ch: min(Int(th), height - y0), stride: Int(tw), sample: separate ? s : nil)
                    }
                }
            }
        } else {
            var rps: UInt32 = 0
            _ = morpho_tiff_get_u32(tif, UInt32(TIFFTAG_ROWSPERSTRIP), &rps)
            let rowsPerStrip = min(Int(rps == 0 ? UInt32(height) : rps), height)
            let size = Int(TIFFStripSize(tif))
            try checkChunk(size, "strip", url: url, page: page)
            for s in 0..<(separate ? spp : 1) {
                for y0 in stride(from: 0, to: height, by: rowsPerStrip) {
                    let index = TIFFComputeStrip(tif, UInt32(y0), UInt16(s))
                    try decode(index, size: size, x0: 0, y0: y0, cw: width, ch: min(rowsPerStrip, height - y0),
                               stride: width, sample: separate ? s : nil)
                }
            }
        }
        return planes.map { Image(width: width, height: height, pixels: $0, bitDepth: info.bitDepth) }
    }

    /// Converts `count` samples spaced `step` samples apart from native-endian raw data to Float.
    @inline(__always)
    private static func convertRow(_ src: UnsafeMutableRawPointer, _ dst: UnsafeMutablePointer<Float>,
                                   count: Int, step: Int, bps: Int, depth: BitDepth) {
        switch (depth, bps) {
        case (.uint8, _):
            let p = src.assumingMemoryBound(to: UInt8.self)
            for i in 0..<count { dst[i] = Float(p[i * step]) }
        case (.uint16, _) where step == 1:  // contiguous: a loop the compiler vectorizes
            let p = src.assumingMemoryBound(to: UInt16.self)
            for i in 0..<count { dst[i] = Float(p[i]) }
        case (.uint16, _):
            for i in 0..<count { dst[i] = Float(src.loadUnaligned(fromByteOffset: 2 * i * step, as: UInt16.self)) }
        case (.int16, _):
            for i in 0..<count { dst[i] = Float(src.loadUnaligned(fromByteOffset: 2 * i * step, as: Int16.self)) }
        case (.uint32, _):
            for i in 0..<count { dst[i] = Float(src.loadUnaligned(fromByteOffset: 4 * i * step, as: UInt32.self)) }
        case (.float32, 64):
            for i in 0..<count { dst[i] = Float(src.loadUnaligned(fromByteOffset: 8 * i * step, as: Double.self)) }
        case (.float32, _):
            for i in 0..<count { dst[i] = src.loadUnaligned(fromByteOffset: 4 * i * step, as: Float.self) }
        }
    }

    private static func writePage(_ tif: OpaquePointer, image: Image, depth: BitDepth, compression: Compression,
                                  page: Int, pageCount: Int, url: URL,
                                  errors: UnsafeMutablePointer<MorphoTIFFErrorBuffer>) throws {
        let (bps, format): (UInt16, Int32)
        switch depth {
        case .uint8: (bps, format) = (8, SAMPLEFORMAT_UINT)
        case .uint16: (bps, format) = (16, SAMPLEFORMAT_UINT)
        case .float32: (bps, format) = (32, SAMPLEFORMAT_IEEEFP)
        case .uint32, .int16:
            throw MorphoError.unsupportedImage(path: url.path, problem: "writing \(depth) is not supported; write uint8, uint16 or float32")
        }
        let w = image.width, h = image.height
        guard w > 0, h > 0 else { throw MorphoError.unsupportedImage(path: url.path, problem: "cannot write an empty \(w)x\(h) image") }
        var ok: Int32 = 1
        ok &= morpho_tiff_set_u32(tif, UInt32(TIFFTAG_IMAGEWIDTH), UInt32(w))
        ok &= morpho_tiff_set_u32(tif, UInt32(TIFFTAG_IMAGELENGTH), UInt32(h))
        ok &= morpho_tiff_set_u16(tif, UInt32(TIFFTAG_BITSPERSAMPLE), bps)
        ok &= morpho_tiff_set_u16(tif, UInt32(TIFFTAG_SAMPLESPERPIXEL), 1)
        ok &= morpho_tiff_set_u16(tif, UInt32(TIFFTAG_SAMPLEFORMAT), UInt16(format))
        ok &= morpho_tiff_set_u16(tif, UInt32(TIFFTAG_PHOTOMETRIC), UInt16(PHOTOMETRIC_MINISBLACK))
        ok &= morpho_tiff_set_u16(tif, UInt32(TIFFTAG_PLANARCONFIG), UInt16(PLANARCONFIG_CONTIG))
        ok &= morpho_tiff_set_u16(tif, UInt32(TIFFTAG_COMPRESSION), compression.tag)
        if compression == .lzw || compression == .deflate {
            let predictor = depth == .float32 ? PREDICTOR_FLOATINGPOINT : PREDICTOR_HORIZONTAL
            ok &= morpho_tiff_set_u16(tif, UInt32(TIFFTAG_PREDICTOR), UInt16(predictor))
        }
        let rowsPerStrip = Int(TIFFDefaultStripSize(tif, 0))
        ok &= morpho_tiff_set_u32(tif, UInt32(TIFFTAG_ROWSPERSTRIP), UInt32(rowsPerStrip))
        if pageCount > 1 {
            ok &= morpho_tiff_set_u32(tif, UInt32(TIFFTAG_SUBFILETYPE), UInt32(FILETYPE_PAGE))
        }
        ok &= morpho_tiff_set_string(tif, UInt32(TIFFTAG_SOFTWARE), "Morpho")
        guard ok == 1 else { try check(errors, url: url, doing: "setting tags"); return }

        let bytes = Int(bps) / 8
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: rowsPerStrip * w * bytes, alignment: 16)
        defer { buffer.deallocate() }
        image.pixels.withUnsafeBufferPointer { px in
            var strip: UInt32 = 0
            for y0 in stride(from: 0, to: h, by: rowsPerStrip) {
                let rows = min(rowsPerStrip, h - y0)
                let n = rows * w
                let src = px.baseAddress! + y0 * w
                switch depth {
                case .uint8:
                    let d = buffer.assumingMemoryBound(to: UInt8.self)
                    for i in 0..<n { d[i] = UInt8(min(max(src[i].rounded(), 0), 255)) }
                case .uint16:
                    let d = buffer.assumingMemoryBound(to: UInt16.self)
                    for i in 0..<n { d[i] = UInt16(min(max(src[i].rounded(), 0), 65535)) }
                default:
                    buffer.copyMemory(from: src, byteCount: n * 4)
                }
                if TIFFWriteEncodedStrip(tif, strip, buffer, tmsize_t(n * bytes)) < 0 { ok = 0; break }
                strip += 1
            }
        }
        if ok == 1, TIFFWriteDirectory(tif) != 1 { ok = 0 }
        if ok != 1 || errors.pointee.count > 0 {
            throw MorphoError.file(path: url.path, problem: "cannot write TIFF page \(page + 1): \(message(errors))")
        }
    }
}
