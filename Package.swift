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
        .library(name: "Illumination", targets: ["Illumination"]),
        .library(name: "Segmentation", targets: ["Segmentation"]),
        .library(name: "Cropping", targets: ["Cropping"]),
        .library(name: "NeuralNetwork", targets: ["NeuralNetwork"]),
        .library(name: "Embedding", targets: ["Embedding"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
        .library(name: "Datasets", targets: ["Datasets"]),
        .library(name: "Classification", targets: ["Classification"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // System libraries from Debian (see scripts/setup.sh).
        .systemLibrary(name: "CTIFF", pkgConfig: "libtiff-4", providers: [.apt(["libtiff-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5-serial", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CMalloc"),
        .systemLibrary(name: "CLAPACK", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]),

        // OpenCV core + imgproc behind a small C API (headers through the opencv4 link to /usr/include/opencv4).
        .target(name: "OpenCVBridge", exclude: ["opencv4"],
                cxxSettings: [.headerSearchPath("opencv4")],
                linkerSettings: [.linkedLibrary("opencv_core"), .linkedLibrary("opencv_imgproc"), .linkedLibrary("opencv_imgcodecs")]),

        // LibTorch (Debian's libtorch-dev) behind a small C API; the only code that includes its headers.
        .target(name: "TorchBridge",
                linkerSettings: [.linkedLibrary("torch"), .linkedLibrary("torch_cpu"), .linkedLibrary("c10")]),

        .target(name: "MorphoCore"),
        .target(name: "MorphoIO", dependencies: ["MorphoCore", "CTIFF", "CHDF5", "CZlib", "CZstd", "OpenCVBridge"]),
        .target(name: "Synthetic", dependencies: ["MorphoCore", "MorphoIO"], swiftSettings: optimizedInDebug),
        .target(name: "Profiling", dependencies: ["MorphoCore", "CLAPACK"]),
        .target(name: "MoAMatching", dependencies: ["MorphoCore", "Profiling"]),
        // Pixel loops (here and in Synthetic, Illumination, Segmentation, Cropping) are optimized in debug
        // builds too: unoptimized, the test suite spent most of its time in generic SIMD and closure calls.
        .target(name: "ImageProcessing", dependencies: ["MorphoCore", "OpenCVBridge"], swiftSettings: optimizedInDebug),
        .target(name: "Illumination", dependencies: ["MorphoCore", "MorphoIO", "ImageProcessing"], swiftSettings: optimizedInDebug),
        .target(name: "Segmentation", dependencies: ["MorphoCore", "MorphoIO", "ImageProcessing", "Illumination"], swiftSettings: optimizedInDebug),
        .target(name: "Cropping", dependencies: ["MorphoCore", "MorphoIO", "ImageProcessing", "Illumination", "Segmentation"], swiftSettings: optimizedInDebug),
        .target(name: "NeuralNetwork", dependencies: ["MorphoCore", "MorphoIO", "TorchBridge"]),
        .target(name: "Embedding", dependencies: ["MorphoCore", "MorphoIO", "Cropping", "NeuralNetwork", "Profiling"]),
        .target(name: "Training", dependencies: ["MorphoCore", "MorphoIO", "Cropping", "NeuralNetwork"]),
        .target(name: "Pipeline", dependencies: ["MorphoCore", "MorphoIO", "Synthetic", "Profiling", "MoAMatching", "Illumination", "ImageProcessing",
                                                 "Segmentation", "Cropping", "NeuralNetwork", "Embedding", "Training", "Classification",
                                                 .product(name: "Yams", package: "Yams")]),
        .target(name: "Classification", dependencies: ["MorphoCore", "MorphoIO", "ImageProcessing", "NeuralNetwork"]),
        .target(name: "Datasets", dependencies: ["MorphoCore", "MorphoIO", "CZlib", "CCrypto"]),
        .executableTarget(
            name: "morpho",
            dependencies: [
                "MorphoCore", "MorphoIO", "Synthetic", "Profiling", "MoAMatching",
                "Illumination", "Segmentation", "Cropping", "NeuralNetwork", "Embedding", "Training", "Pipeline", "Datasets", "Classification", "CMalloc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Yams", package: "Yams"),
            ]
        ),

        // libFuzzer targets for the TIFF, CSV, ZIP and YAML readers (`make fuzz`).
        .executableTarget(name: "MorphoFuzz", dependencies: ["MorphoCore", "MorphoIO", "Datasets", "Pipeline"]),

        // Paths to ../shared and the fixtures, temporary folders, and the Python peers of the tests.
        .target(name: "MorphoTestSupport", dependencies: ["MorphoCore", "MorphoIO", "Synthetic"], path: "Tests/Support"),
        .testTarget(name: "MorphoCoreTests", dependencies: ["MorphoCore", "MorphoTestSupport"]),
        .testTarget(name: "MorphoIOTests", dependencies: ["MorphoCore", "MorphoIO", "MorphoTestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "SyntheticTests", dependencies: ["MorphoCore", "MorphoIO", "Synthetic", "MorphoTestSupport"]),
        .testTarget(name: "ProfilingTests", dependencies: ["MorphoCore", "MorphoIO", "Profiling", "MorphoTestSupport"]),
        .testTarget(name: "MoAMatchingTests", dependencies: ["MorphoCore", "MorphoIO", "Profiling", "MoAMatching", "MorphoTestSupport"]),
        .testTarget(name: "ImageProcessingTests", dependencies: ["MorphoCore", "ImageProcessing", "MorphoTestSupport"]),
        .testTarget(name: "IlluminationTests", dependencies: ["MorphoCore", "MorphoIO", "Illumination", "ImageProcessing", "Synthetic", "MorphoTestSupport"]),
        .testTarget(name: "SegmentationTests", dependencies: ["MorphoCore", "MorphoIO", "ImageProcessing", "Segmentation", "Synthetic", "MorphoTestSupport"]),
        .testTarget(name: "CroppingTests", dependencies: ["MorphoCore", "MorphoIO", "ImageProcessing", "Segmentation", "Cropping", "Synthetic", "MorphoTestSupport"]),
        .testTarget(name: "NeuralNetworkTests", dependencies: ["MorphoCore", "MorphoIO", "NeuralNetwork", "Profiling", "MorphoTestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "TrainingTests", dependencies: ["MorphoCore", "MorphoIO", "Segmentation", "Cropping", "NeuralNetwork",
                                                        "Embedding", "Training", "MoAMatching", "MorphoTestSupport"]),
        .testTarget(name: "ClassificationTests", dependencies: ["MorphoCore", "MorphoIO", "Synthetic", "NeuralNetwork", "Classification", "MorphoTestSupport"]),
        .testTarget(name: "DatasetsTests", dependencies: ["MorphoCore", "Datasets", "MorphoTestSupport"]),
        .testTarget(name: "PipelineTests", dependencies: ["MorphoCore", "Pipeline", "MorphoTestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["morpho", "MorphoCore", "MorphoIO", "MorphoTestSupport", "NeuralNetwork"]),
    ],
    cxxLanguageStandard: .cxx17
)

/// `-O` for a target in debug builds (release builds are optimized anyway); `-enable-testing`, which
/// debug builds pass, keeps `@testable import` working.
var optimizedInDebug: [SwiftSetting] { [.unsafeFlags(["-O"], .when(configuration: .debug))] }
