/// The bit depth and sample type an image had on disk. Pixels are held as Float32 in the image's
/// original units (a 16-bit image keeps values 0...65535); `maxValue` gives the full-scale value to
/// divide by for a 0...1 scale, as CellProfiler does.
public enum BitDepth: String, Sendable, Codable, CaseIterable {
    case uint8, uint16, uint32, int16, float32

    /// Full-scale value of the type (1 for floating point).
    public var maxValue: Float {
        switch self {
        case .uint8: return 255
        case .uint16: return 65535
        case .uint32: return Float(UInt32.max)
        case .int16: return 32767
        case .float32: return 1
        }
    }
}

/// One channel of one field of view: a row-major, planar Float32 raster of `width x height`.
///
/// `pixels[y * width + x]` is the sample at column x, row y (x to the right, y down, 0-based).
public struct Image: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [Float]
    /// The depth the image was read from or will be written at.
    public var bitDepth: BitDepth

    public init(width: Int, height: Int, pixels: [Float], bitDepth: BitDepth) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height,
                     "Image: \(pixels.count) pixels for \(width)x\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
        self.bitDepth = bitDepth
    }

    /// An image filled with `value`.
    public init(width: Int, height: Int, value: Float = 0, bitDepth: BitDepth = .float32) {
        self.init(width: width, height: height,
                  pixels: [Float](repeating: value, count: width * height), bitDepth: bitDepth)
    }

    public subscript(x: Int, y: Int) -> Float {
        get { pixels[y * width + x] }
        set { pixels[y * width + x] = newValue }
    }

    /// Mean of all pixels, accumulated in Double.
    public var mean: Double {
        guard !pixels.isEmpty else { return 0 }
        var sum = 0.0
        for p in pixels { sum += Double(p) }
        return sum / Double(pixels.count)
    }

    /// (min, max) of all pixels; (0, 0) for an empty image.
    public var range: (min: Float, max: Float) {
        guard var lo = pixels.first else { return (0, 0) }
        var hi = lo
        for p in pixels { lo = Swift.min(lo, p); hi = Swift.max(hi, p) }
        return (lo, hi)
    }
}

/// One field of view: its channel images by name, in a fixed channel order. All channels share one size.
public struct FieldOfView: Sendable {
    public let channelNames: [String]
    public let channels: [Image]

    /// Builds a field; throws `MorphoError.mismatchedImages` naming `context` (usually plate/well/site)
    /// and the channels whose size differs from the first.
    public init(channels: [(name: String, image: Image)], context: String) throws {
        guard let first = channels.first else {
            throw MorphoError.mismatchedImages(context: context, problem: "a field of view needs at least one channel")
        }
        var seen = Set<String>()
        for (name, image) in channels {
            guard seen.insert(name).inserted else {
                throw MorphoError.mismatchedImages(context: context, problem: "channel '\(name)' given twice")
            }
            if image.width != first.image.width || image.height != first.image.height {
                throw MorphoError.mismatchedImages(
                    context: context,
                    problem: "channel '\(name)' is \(image.width)x\(image.height) but channel '\(first.name)' is \(first.image.width)x\(first.image.height)")
            }
        }
        self.channelNames = channels.map(\.name)
        self.channels = channels.map(\.image)
    }

    public var width: Int { channels[0].width }
    public var height: Int { channels[0].height }

    public func channel(_ name: String) -> Image? {
        channelNames.firstIndex(of: name).map { channels[$0] }
    }
}
