import Foundation

/// The one error type of Morpho. Every case names what is at fault (file, plate, well, column, key)
/// so that a user can find and fix the input without reading code.
public enum MorphoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A file could not be read or written: `path`, then what went wrong.
    case file(path: String, problem: String)
    /// An image has a format Morpho does not read.
    case unsupportedImage(path: String, problem: String)
    /// Images that must agree (the channels of one field) do not.
    case mismatchedImages(context: String, problem: String)
    /// A table (CSV, metadata) is malformed: `file`, optional `line` and `column`.
    case table(file: String, line: Int?, column: String?, problem: String)
    /// An experiment layout has problems; every one found is listed.
    case layout(problems: [String])
    /// An HDF5 store operation failed.
    case hdf5(path: String, object: String, problem: String)
    /// A configuration value or argument is invalid.
    case config(key: String, problem: String)
    /// A value-level problem with data (NaN features, empty selections) in a named context.
    case data(context: String, problem: String)
    /// The neural-network engine (LibTorch) refused an operation: its name, then LibTorch's message.
    case engine(operation: String, problem: String)

    public var description: String {
        switch self {
        case let .file(path, problem):
            return "\(path): \(problem)"
        case let .unsupportedImage(path, problem):
            return "\(path): unsupported image: \(problem)"
        case let .mismatchedImages(context, problem):
            return "\(context): \(problem)"
        case let .table(file, line, column, problem):
            var location = file
            if let line { location += ":\(line)" }
            if let column { location += " column '\(column)'" }
            return "\(location): \(problem)"
        case let .layout(problems):
            let shown = problems.prefix(50).map { "  - \($0)" }.joined(separator: "\n")
            let more = problems.count > 50 ? "\n  ... and \(problems.count - 50) more" : ""
            return "experiment layout has \(problems.count) problem(s):\n\(shown)\(more)"
        case let .hdf5(path, object, problem):
            return "\(path) [\(object)]: HDF5: \(problem)"
        case let .config(key, problem):
            return "config '\(key)': \(problem)"
        case let .data(context, problem):
            return "\(context): \(problem)"
        case let .engine(operation, problem):
            return "neural-network engine: \(operation): \(problem)"
        }
    }
}

extension MorphoError: LocalizedError {
    public var errorDescription: String? { description }
}
