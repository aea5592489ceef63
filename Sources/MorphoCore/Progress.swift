import Foundation
import Synchronization

/// Progress of long work on stderr: items done of total, rate, and time left.
///
/// On a terminal the line is redrawn in place at most 4 times a second; in a log (CI, pipes) a line
/// is written at most every 10 seconds and at the end. Safe to advance from many threads.
public final class ProgressReporter: Sendable {
    private struct State {
        var done = 0
        var lastPrint = 0.0
        var printedFinal = false
    }

    public let label: String
    public let total: Int
    /// What is counted ("cells"): the rate reads "cells/s".
    public let unit: String
    private let start: Double
    private let enabled: Bool
    private let interactive: Bool
    private let state = Mutex(State())

    /// - Parameter enabled: false silences it (tests, `--quiet`).
    public init(_ label: String, total: Int, unit: String = "", enabled: Bool = true) {
        self.label = label
        self.total = total
        self.unit = unit.isEmpty ? "" : " " + unit
        self.start = ProgressReporter.now()
        self.enabled = enabled && total > 0
        self.interactive = isatty(STDERR_FILENO) != 0
    }

    private static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Marks `n` more items done.
    public func advance(by n: Int = 1) {
        guard enabled else { return }
        let t = ProgressReporter.now()
        let line: String? = state.withLock { s in
            s.done += n
            let interval = interactive ? 0.25 : 10.0
            guard s.done >= total || t - s.lastPrint >= interval else { return nil }
            s.lastPrint = t
            if s.done >= total {
                guard !s.printedFinal else { return nil }
                s.printedFinal = true
            }
            return format(done: s.done, elapsed: t - start)
        }
        if let line { emit(line, final: line.contains("took")) }
    }

    /// Writes the closing line (total, elapsed time, mean rate) unless reaching the total already did.
    public func finish() {
        guard enabled else { return }
        let done: Int? = state.withLock { s in
            if s.printedFinal { return nil }
            s.printedFinal = true
            return s.done
        }
        if let done { emit(format(done: done, elapsed: ProgressReporter.now() - start), final: true) }
    }

    func format(done: Int, elapsed: Double) -> String {
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let left = rate > 0 ? Double(total - done) / rate : 0
        let pct = total > 0 ? 100 * done / total : 100
        return "\(label): \(done)/\(total) (\(pct)%) \(String(format: "%.1f", rate))\(unit)/s, "
            + (done >= total ? "took \(formatDuration(elapsed))" : "\(formatDuration(left)) left")
    }

    private func emit(_ line: String, final: Bool) {
        let text = interactive ? "\r\u{1B}[K" + line + (final ? "\n" : "") : line + "\n"
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// "42s", "3m05s", "1h02m".
public func formatDuration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    if s < 60 { return "\(s)s" }
    if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
    return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60)
}
