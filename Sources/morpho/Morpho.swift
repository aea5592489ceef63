import ArgumentParser
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

    /// Runs `body`, printing a `MorphoError` as one clear message (no stack trace) and exiting 1.
    static func reportingErrors(_ body: () throws -> Void) throws {
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
