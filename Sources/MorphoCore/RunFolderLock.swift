import Foundation

/// An advisory lock (flock(2)) on a run folder, so that two runs never write the same units at once.
///
/// A run of several stages holds `<folder>/.morpho-lock` exclusively. A run of one stage (what a
/// workflow engine starts for each unit: `--stage S [--plates P | --units U]`) holds it shared, so the
/// engine's unit jobs run side by side while a whole run is refused, and also holds its selection's own
/// lock file exclusively, so the same selection never runs twice at once. The kernel drops a process's
/// locks when it dies, so a killed run leaves no stale lock behind; a refusal names the holders' PIDs
/// and command lines (from /proc/locks).
public final class RunFolderLock: Sendable {
    public enum Mode: Sendable { case exclusive, shared }

    private let descriptors: [Int32]

    private init(descriptors: [Int32]) { self.descriptors = descriptors }

    deinit { for fd in descriptors { close(fd) } }

    public static func lockFile(folder: URL) -> URL { folder.appendingPathComponent(".morpho-lock") }

    /// Takes the folder's lock in `mode` and, for a shared lock, the exclusive lock of `selection`
    /// (a name such as `segmentation-Week1_22123`). Never waits: a held lock is an error naming the holder.
    public static func acquire(folder: URL, mode: Mode, selection: String? = nil) throws -> RunFolderLock {
        var held = [Int32]()
        do {
            held.append(try lock(lockFile(folder: folder), exclusive: mode == .exclusive, folder: folder))
            if mode == .shared, let selection {
                let name = String(selection.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" })
                let url = folder.appendingPathComponent(".locks").appendingPathComponent(name + ".lock")
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                held.append(try lock(url, exclusive: true, folder: folder, selection: selection))
            }
        } catch {
            for fd in held { close(fd) }
            throw error
        }
        return RunFolderLock(descriptors: held)
    }

    private static func lock(_ url: URL, exclusive: Bool, folder: URL, selection: String? = nil) throws -> Int32 {
        let fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw MorphoError.file(path: url.path, problem: "cannot open the run folder's lock file: \(String(cString: strerror(errno)))")
        }
        guard flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0 else {
            let why = errno
            close(fd)
            guard why == EWOULDBLOCK else {
                throw MorphoError.file(path: url.path, problem: "cannot lock: \(String(cString: strerror(why)))")
            }
            let holders = holders(of: url).filter { $0 != getpid() }.map { pid in "PID \(pid)" + (commandLine(of: pid).map { ": \($0)" } ?? "") }
            let what = selection.map { "\($0) of run folder" } ?? "run folder"
            throw MorphoError.file(path: folder.path, problem: "this \(what) is in use by another morpho run (\(holders.isEmpty ? "in this process" : holders.joined(separator: "; "))); wait for it to finish or stop it, then run again (finished units are kept)")
        }
        return fd
    }

    /// PIDs holding a flock on `url`, from /proc/locks (`N: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE 0 EOF`).
    static func holders(of url: URL) -> [Int32] {
        var info = stat()
        guard stat(url.path, &info) == 0, let table = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return [] }
        let inode = String(info.st_ino)
        return table.split(separator: "\n").compactMap { line -> Int32? in
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 6, f[1] == "FLOCK", f[5].split(separator: ":").last.map(String.init) == inode else { return nil }
            return Int32(f[4])
        }
    }

    static func commandLine(of pid: Int32) -> String? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else { return nil }
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
    }
}
