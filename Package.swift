// swift-tools-version: 6.0
// Morpho: a Swift workbench for image-based cell profiling.
import PackageDescription

let package = Package(
    name: "Morpho",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "morpho", targets: ["morpho"]),
        .library(name: "MorphoCore", targets: ["MorphoCore"]),
        .library(name: "MorphoIO", targets: ["MorphoIO"]),
        .library(name: "Synthetic", targets: ["Synthetic"]),
        .library(name: "Profiling", targets: ["Profiling"]),
        .library(name: "MoAMatching", targets: ["MoAMatching"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System libraries from Debian (see scripts/setup.sh).
        .systemLibrary(name: "CTIFF", pkgConfig: "libtiff-4", providers: [.apt(["libtiff-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5-serial", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CLAPACK", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]),

        .target(name: "MorphoCore"),
        .target(name: "MorphoIO", dependencies: ["MorphoCore", "CTIFF", "CHDF5", "CZlib"]),
        .target(name: "Synthetic", dependencies: ["MorphoCore", "MorphoIO"]),
        .target(name: "Profiling", dependencies: ["MorphoCore", "CLAPACK"]),
        .target(name: "MoAMatching", dependencies: ["MorphoCore", "Profiling"]),
        .executableTarget(
            name: "morpho",
            dependencies: [
                "MorphoCore", "MorphoIO", "Synthetic", "Profiling", "MoAMatching",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Paths to ../shared and the fixtures, temporary folders, and the Python peers of the tests.
        .target(name: "MorphoTestSupport", dependencies: ["MorphoCore"], path: "Tests/Support"),
        .testTarget(name: "MorphoCoreTests", dependencies: ["MorphoCore", "MorphoTestSupport"]),
        .testTarget(name: "MorphoIOTests", dependencies: ["MorphoCore", "MorphoIO", "MorphoTestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "SyntheticTests", dependencies: ["MorphoCore", "MorphoIO", "Synthetic", "MorphoTestSupport"]),
        .testTarget(name: "ProfilingTests", dependencies: ["MorphoCore", "MorphoIO", "Profiling", "MorphoTestSupport"]),
        .testTarget(name: "MoAMatchingTests", dependencies: ["MorphoCore", "MorphoIO", "Profiling", "MoAMatching", "MorphoTestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["morpho", "MorphoCore", "MorphoIO", "MorphoTestSupport"]),
    ]
)
