import Datasets
import Foundation
import MorphoCore
import MorphoIO
import Pipeline

/// Fuzz targets for the readers that take bytes from outside: TIFF (libtiff and Morpho's size checks),
/// CSV tables (and feature tables built from them), ZIP archives and YAML pipeline files. Each input
/// must end in a value or a `MorphoError`; a crash, trap, hang or leak is a finding. libFuzzer drives it
/// (`make fuzz`: built with `-sanitize=fuzzer,address -DFUZZING`); `MORPHO_FUZZ_TARGET` picks the reader.
enum FuzzTarget: String, CaseIterable {
    case tiff, csv, zip, yaml

    static let current: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["MORPHO_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(Data("MORPHO_FUZZ_TARGET must be one of \(allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
            exit(2)
        }
        // Small budgets keep a declared size from passing for a real allocation under the sanitizer.
        setenv("MORPHO_MAX_IMAGE_BYTES", String(64 << 20), 1)
        return target
    }()

    /// A scratch folder of this process for readers that take a path.
    static let scratch: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("morpho-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    func run(_ data: Data) {
        do {
            switch self {
            case .csv:
                let table = try CSV.parse(data, source: "fuzz.csv")
                _ = try FeatureTableCSV.table(from: table)
            case .yaml:
                guard let text = String(validating: data, as: UTF8.self) else { return }
                _ = try Pipeline.parse(text, file: FuzzTarget.scratch.appendingPathComponent("fuzz.yaml"))
            case .tiff:
                let file = FuzzTarget.scratch.appendingPathComponent("input.tif")
                guard (try? data.write(to: file)) != nil else { return }
                _ = try TIFF.info(file)
                _ = try TIFF.read(file)
            case .zip:
                let file = FuzzTarget.scratch.appendingPathComponent("input.zip")
                guard (try? data.write(to: file)) != nil else { return }
                let archive = try ZipArchive(url: file)
                for (k, entry) in archive.entries.enumerated() where !entry.isDirectory {
                    let out = FuzzTarget.scratch.appendingPathComponent("entry-\(k)")
                    defer { try? FileManager.default.removeItem(at: out) }
                    try? archive.extract(entry, to: out)
                }
            }
        } catch is MorphoError {
        } catch {
            // Any other error type escaping a reader is a finding: errors must name what is at fault.
            fatalError("\(self.rawValue): \(type(of: error)) escaped: \(error)")
        }
    }
}

#if FUZZING
/// The input callback libFuzzer calls (`-sanitize=fuzzer` links libFuzzer, whose `main` drives it).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTarget.current.run(bytes.map { Data(bytes: $0, count: size) } ?? Data())
    return 0
}

/// SwiftPM links an executable's entry point as `<module>_main` and points `main` at it: hand over to
/// libFuzzer's driver there.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("MorphoFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc, arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzzOneInput)
}
#else
@main
struct FuzzMain {
    /// Without libFuzzer: runs the chosen reader on each file named on the command line (to replay a
    /// finding under a debugger, or as a smoke test).
    static func main() {
        for path in CommandLine.arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            FuzzTarget.current.run(data)
        }
    }
}
#endif
