import Foundation

/// Atomic output: everything Morpho writes goes first to a temporary file beside the destination and
/// is then renamed over it (rename(2) is atomic within a file system), so a crash never leaves a
/// half-written output that a rerun would mistake for a finished one.
public enum AtomicFile {
    /// Calls `write` with a temporary path in the destination's folder, then renames it to `url`.
    /// The folder is created if needed; on error the temporary file is removed.
    public static func write<T>(to url: URL, _ write: (URL) throws -> T) throws -> T {
        let dir = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        } catch {
            throw MorphoError.file(path: dir.path, problem: "cannot create folder: \(error.localizedDescription)")
        }
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        do {
            let result = try write(tmp)
            guard rename(tmp.path, url.path) == 0 else {
                let reason = String(cString: strerror(errno))
                throw MorphoError.file(path: url.path, problem: "cannot move finished file into place: \(reason)")
            }
            return result
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw error
        }
    }

    /// Writes `data` to `url` atomically.
    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { tmp in
            do { try data.write(to: tmp) } catch {
                throw MorphoError.file(path: url.path, problem: "cannot write: \(error.localizedDescription)")
            }
        }
    }

    /// Removes temporary files under `folder` left by writers that died (killed runs): names of the
    /// form `.<name>.tmp-<pid>-<n>` whose process no longer exists. Returns how many were removed.
    @discardableResult
    public static func removeStaleTemporaries(under folder: URL) -> Int {
        guard let walker = FileManager.default.enumerator(atPath: folder.path) else { return 0 }
        var removed = 0
        for case let relative as String in walker {
            let name = (relative as NSString).lastPathComponent
            guard name.hasPrefix("."), let range = name.range(of: ".tmp-", options: .backwards) else { continue }
            let pidText = name[range.upperBound...].prefix { $0 != "-" }
            guard let pid = Int32(pidText), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            if (try? FileManager.default.removeItem(atPath: folder.appendingPathComponent(relative).path)) != nil { removed += 1 }
        }
        return removed
    }
}
