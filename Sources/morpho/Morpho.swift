import ArgumentParser
import CMalloc
import Foundation
import MorphoCore

@main
struct Morpho: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "morpho",
        abstract: "Morpho: image-based cell profiling, from microscopy plates to mechanism-of-action profiles.",
        version: MorphoVersion.current,
        subcommands: [Demo.self, Synth.self, SynthRxRx1.self, DeepNoiseAblationCommand.self, ExperimentCommand.self, IllumCommand.self, SegmentCommand.self, CropCommand.self, TrainCommand.self, EmbedCommand.self, RunCommand.self, DataCommand.self, TIFFCommand.self, TableCommand.self, ProfileCommand.self, MatchCommand.self, BenchCommand.self]
    )

    /// The image stages allocate and free tens of MB per field. By default glibc returns such blocks
    /// to the kernel (mmap above a threshold, trimming) and the next field faults them in again,
    /// zeroed, which with several threads also contends on the address-space lock: keep them
    /// (`morpho bench image-stages` at 2 threads, best of 5, three runs: 42/45/53 -> 57/44/59 fields/s).
    static func main() {
        morpho_keep_freed_memory()
        main(nil)
    }

    /// Flags named before the commands took the pipeline file's keys (kebab case): the old names
    /// still work, with a warning, for one release.
    static let renamedFlags = ["--normalize": "--normalization", "--median-size": "--median-filter-size", "--dna": "--dna-channel",
                               "--box": "--box-size", "--robust-percentile": "--robust-minimum-percentile"]

    /// Runs `body`, printing a `MorphoError` as one clear message (no stack trace) and exiting 1.
    static func reportingErrors(_ body: () throws -> Void) throws {
        for argument in CommandLine.arguments.dropFirst() {
            let flag = String(argument.prefix { $0 != "=" })
            if let new = renamedFlags[flag] {
                FileHandle.standardError.write(Data("warning: \(flag) is deprecated and will be removed; use \(new) (the pipeline file's key)\n".utf8))
            }
        }
        do {
            try body()
        } catch let error as MorphoError {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// Writes one line to stdout unbuffered, so results and the progress lines on stderr stay in order
/// when both go to one log.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
