import Foundation

/// The most bytes one object read from a file may take in memory: a decoded TIFF page or PNG (as
/// 32-bit floats), an HDF5 read. 1 GiB, or `MORPHO_MAX_IMAGE_BYTES`. Sizes come from the file, so the
/// readers check them against this before allocating.
public enum MemoryBudget {
    public static var bytes: Int {
        ProcessInfo.processInfo.environment["MORPHO_MAX_IMAGE_BYTES"].flatMap { Int($0) }.map { max($0, 1) } ?? 1 << 30
    }
}
