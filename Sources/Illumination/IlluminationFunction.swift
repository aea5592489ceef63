import Foundation
import ImageProcessing
import MorphoCore
import MorphoIO

/// Sums fields of one plate and channel (shrunk by the configured factor) to form their mean.
/// All fields must have the size and the bit depth of the first (a mean of 16-bit counts and float
/// intensities would mix units); a difference is an error naming both fields.
public struct PlateMeanAccumulator: Sendable {
    public let downscale: Int
    public private(set) var width = 0, height = 0
    /// Full-resolution size of the fields.
    public private(set) var fullWidth = 0, fullHeight = 0
    public private(set) var count = 0
    /// The stored type of the fields, and the first field added (for messages).
    public private(set) var bitDepth = BitDepth.float32
    private var first = ""
    private var sum = [Double]()

    public init(downscale: Int) { self.downscale = max(1, downscale) }

    public mutating func add(_ image: Image, context: String) throws {
        if count == 0 {
            fullWidth = image.width; fullHeight = image.height
            width = max(1, image.width / downscale); height = max(1, image.height / downscale)
            sum = [Double](repeating: 0, count: width * height)
            bitDepth = image.bitDepth; first = context
        } else if image.width != fullWidth || image.height != fullHeight {
            throw MorphoError.mismatchedImages(
                context: context, problem: "field is \(image.width)x\(image.height) but the plate's first field is \(fullWidth)x\(fullHeight)")
        } else if image.bitDepth != bitDepth {
            throw mixedBitDepths(image.bitDepth, context, bitDepth, first)
        }
        if let first = image.pixels.withUnsafeBufferPointer(firstNonFinite) {
            let bad = image.pixels.reduce(0) { $1.isFinite ? $0 : $0 + 1 }
            throw MorphoError.data(context: context, problem: "\(bad) NaN or infinite pixel(s) (first at x=\(first % image.width), y=\(first / image.width)); the plate's mean image needs finite values")
        }
        let small = try OpenCV.resize(image, width: width, height: height)
        for i in sum.indices { sum[i] += Double(small.pixels[i]) }
        count += 1
    }

    /// Adds the fields summed by another accumulator of the same plate and channel.
    public mutating func merge(_ other: PlateMeanAccumulator, context: String) throws {
        guard other.count > 0 else { return }
        if count == 0 { self = other; return }
        guard other.fullWidth == fullWidth && other.fullHeight == fullHeight else {
            throw MorphoError.mismatchedImages(
                context: context, problem: "fields of \(other.fullWidth)x\(other.fullHeight) and \(fullWidth)x\(fullHeight) in one plate")
        }
        guard other.bitDepth == bitDepth else { throw mixedBitDepths(other.bitDepth, other.first, bitDepth, first) }
        for i in sum.indices { sum[i] += other.sum[i] }
        count += other.count
    }

    private func mixedBitDepths(_ depth: BitDepth, _ field: String, _ firstDepth: BitDepth, _ firstField: String) -> MorphoError {
        .mismatchedImages(context: field, problem: "field is stored as \(depth.rawValue) but \(firstField) as \(firstDepth.rawValue); one plate's fields must share a bit depth (convert them, or split the plate)")
    }

    /// The mean of the fields added, at the shrunk size.
    public var mean: Image {
        Image(width: width, height: height, pixels: sum.map { Float($0 / Double(max(count, 1))) }, bitDepth: .float32)
    }
}

/// An illumination function of one plate and channel: a full-resolution Float image >= 1 that the
/// channel's images are divided by.
public struct IlluminationFunction: Sendable {
    public var plate: String
    public var channel: String
    public var image: Image
    /// The robust minimum the smoothed mean was divided by (image units).
    public var robustMinimum: Double
    public var fieldCount: Int

    public init(plate: String, channel: String, image: Image, robustMinimum: Double, fieldCount: Int) {
        self.plate = plate
        self.channel = channel
        self.image = image
        self.robustMinimum = robustMinimum
        self.fieldCount = fieldCount
    }

    /// Singh et al. 2014: median-smooth the plate mean, take the robust minimum (a low percentile of
    /// the positive values), clamp below it and divide by it, then enlarge to the fields' size.
    public static func compute(plate: String, channel: String, from mean: PlateMeanAccumulator,
                               config: IlluminationConfig) throws -> IlluminationFunction {
        guard mean.count > 0 else {
            throw MorphoError.data(context: "plate \(plate) channel \(channel)", problem: "no fields to average")
        }
        let size = max(1, Int((Double(config.medianFilterSize) / Double(mean.downscale)).rounded()))
        let smoothed = medianFilter(mean.mean, size: size)
        let positive = smoothed.pixels.filter { $0 > 0 }
        guard !positive.isEmpty else {
            throw MorphoError.data(context: "plate \(plate) channel \(channel)",
                                   problem: "the mean of \(mean.count) field(s) has no positive pixel; cannot correct illumination")
        }
        let robust = percentile(positive, config.robustMinimumPercentile)
        var function = smoothed
        for i in function.pixels.indices { function.pixels[i] = max(function.pixels[i], robust) / robust }
        function = try OpenCV.resize(function, width: mean.fullWidth, height: mean.fullHeight)
        return IlluminationFunction(plate: plate, channel: channel, image: function,
                                    robustMinimum: Double(robust), fieldCount: mean.count)
    }

    func mismatch(_ width: Int, _ height: Int, context: String) -> MorphoError {
        MorphoError.mismatchedImages(
            context: context,
            problem: "image is \(width)x\(height) but the illumination function of plate \(plate) channel \(channel) is \(image.width)x\(image.height)")
    }

    /// Reads a single-image file divided by the function; the sizes must agree. A TIFF is divided row
    /// by row as it is decoded (the same values as `apply(to: TIFF.readImage(url))`, one pass over
    /// memory fewer); other formats, and planes of multi-plane files, are read whole, then divided.
    public func read(_ url: URL, plane: Int? = nil, context: String) throws -> Image {
        guard !ImageFile.decodesWithOpenCV(url), plane == nil else { return try apply(to: ImageFile.readImage(url, plane: plane), context: context) }
        return try TIFF.readImage(url, dividingBy: image) { w, h in mismatch(w, h, context: context) }
    }

    /// Divides `image` by the function; the sizes must agree.
    public func apply(to image: Image, context: String) throws -> Image {
        guard image.width == self.image.width, image.height == self.image.height else {
            throw mismatch(image.width, image.height, context: context)
        }
        let pixels = [Float](unsafeUninitializedCapacity: image.pixels.count) { o, count in
            image.pixels.withUnsafeBufferPointer { v in
                self.image.pixels.withUnsafeBufferPointer { f in
                    for i in 0..<v.count { o[i] = v[i] / f[i] }
                }
            }
            count = image.pixels.count
        }
        return Image(width: image.width, height: image.height, pixels: pixels, bitDepth: image.bitDepth)
    }
}
