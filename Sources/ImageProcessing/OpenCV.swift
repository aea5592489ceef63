import MorphoCore
import OpenCVBridge

/// Thin Swift wrappers over OpenCV (core + imgproc) through `OpenCVBridge`. Failures become
/// `MorphoError.data` naming the operation and OpenCV's message.
public enum OpenCV {
    static func check(_ status: Int32, _ operation: String) throws {
        if status < 0 {
            throw MorphoError.data(context: "OpenCV \(operation)", problem: String(cString: mcv_last_error()))
        }
    }

    /// Gaussian blur with standard deviation `sigma` pixels (kernel radius 4 sigma, edges replicated:
    /// scikit-image's `gaussian(mode="nearest")`). sigma <= 0 returns the image unchanged.
    public static func gaussianBlur(_ image: Image, sigma: Double) throws -> Image {
        guard sigma > 0 else { return image }
        let pixels = try [Float](unsafeUninitializedCapacity: image.pixels.count) { dst, count in
            try image.pixels.withUnsafeBufferPointer { src in
                try check(mcv_gaussian_blur_f32(src.baseAddress, dst.baseAddress, Int32(image.width), Int32(image.height), sigma),
                          "GaussianBlur")
            }
            count = image.pixels.count
        }
        return Image(width: image.width, height: image.height, pixels: pixels, bitDepth: image.bitDepth)
    }

    /// Resizes to `width x height`: area averaging when shrinking, bilinear interpolation when enlarging.
    public static func resize(_ image: Image, width: Int, height: Int) throws -> Image {
        if width == image.width && height == image.height { return image }
        var out = Image(width: width, height: height, bitDepth: image.bitDepth)
        let shrinking = width * height < image.width * image.height
        try image.pixels.withUnsafeBufferPointer { src in
            try out.pixels.withUnsafeMutableBufferPointer { dst in
                try check(mcv_resize_f32(src.baseAddress, Int32(image.width), Int32(image.height), dst.baseAddress,
                                         Int32(width), Int32(height), shrinking ? 3 : 1), "resize")
            }
        }
        return out
    }

    /// OpenCV's elliptic structuring element of radius `radius` (MORPH_ELLIPSE, (2r+1)^2, row-major).
    public static func diskKernel(radius: Int) throws -> [UInt8] {
        let side = 2 * radius + 1
        var out = [UInt8](repeating: 0, count: side * side)
        try out.withUnsafeMutableBufferPointer { try check(mcv_disk_kernel(Int32(radius), $0.baseAddress), "getStructuringElement") }
        return out
    }

    /// Connected components of `mask` (non-zero = foreground), labels 1...count, 0 for background.
    public static func connectedComponents(_ mask: [UInt8], width: Int, height: Int,
                                           connectivity: Int = 8) throws -> LabelImage {
        var labels = [Int32](repeating: 0, count: mask.count)
        var n: Int32 = 0
        try mask.withUnsafeBufferPointer { src in
            try labels.withUnsafeMutableBufferPointer { dst in
                n = mcv_connected_components(src.baseAddress, Int32(width), Int32(height), Int32(connectivity), dst.baseAddress)
                try check(n, "connectedComponents")
            }
        }
        return LabelImage(width: width, height: height, labels: labels, count: Int(n) - 1)
    }

    /// Euclidean distance of each foreground pixel to the nearest background pixel (0 on background):
    /// exact when `precise`, else the 5x5 chamfer approximation (Borgefors 1986; within about 2%, and
    /// several times faster: segmentation's seeds and scale estimate are smoothed or capped anyway).
    public static func distanceTransform(_ mask: [UInt8], width: Int, height: Int, precise: Bool = true) throws -> [Float] {
        var out = [Float](repeating: 0, count: mask.count)
        try mask.withUnsafeBufferPointer { src in
            try out.withUnsafeMutableBufferPointer { dst in
                try check(mcv_distance_transform(src.baseAddress, dst.baseAddress, Int32(width), Int32(height), precise ? 1 : 0), "distanceTransform")
            }
        }
        return out
    }
}

/// A label image: 0 = background, 1...count = objects, row-major like `Image`.
public struct LabelImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var labels: [Int32]
    public var count: Int

    public init(width: Int, height: Int, labels: [Int32], count: Int) {
        precondition(labels.count == width * height)
        self.width = width
        self.height = height
        self.labels = labels
        self.count = count
    }

    /// A label image read back from an image of label values (count = the largest label).
    public init(_ image: Image) {
        let labels = image.pixels.map { Int32($0) }
        self.init(width: image.width, height: image.height, labels: labels, count: Int(labels.max() ?? 0))
    }

    /// Renumbers the objects 1...n in order of first appearance (raster order), dropping the labels
    /// for which `keep(label)` is false (they become background).
    public func relabeled(keeping keep: (Int32) -> Bool = { _ in true }) -> LabelImage {
        var copy = self
        copy.relabel(keeping: keep)
        return copy
    }

    /// `relabeled(keeping:)` in place, without copying the label array.
    public mutating func relabel(keeping keep: (Int32) -> Bool = { _ in true }) {
        var map = [Int32](repeating: -1, count: count + 1)
        map[0] = 0
        var next: Int32 = 0
        labels.withUnsafeMutableBufferPointer { out in
            map.withUnsafeMutableBufferPointer { map in
                for i in out.indices where out[i] != 0 {
                    let l = Int(out[i])
                    if map[l] < 0 {
                        if keep(Int32(l)) { next += 1; map[l] = next } else { map[l] = 0 }
                    }
                    out[i] = map[l]
                }
            }
        }
        count = Int(next)
    }

    /// The labels as a Float image (for writing a QC TIFF).
    public var image: Image {
        Image(width: width, height: height, pixels: labels.map { Float($0) }, bitDepth: count < 65_536 ? .uint16 : .float32)
    }
}
