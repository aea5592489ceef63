import Foundation

/// Paths that come from tables and archives, kept inside the folder they are relative to: a path is
/// accepted only when it is relative, has no `..` component, no backslash and no NUL, and when the
/// folder it names, after resolving symbolic links, still lies inside the root (resolved likewise).
public enum ConfinedPath {
    /// Why `path` cannot be used under a root, or nil when it can. `allowFolders`: whether it may
    /// have several components (a folder path) or must be one file name.
    public static func problem(_ path: String, allowFolders: Bool = true) -> String? {
        if path.isEmpty { return "empty path" }
        if path.hasPrefix("/") || path.hasPrefix("~") { return "absolute path '\(path)' (must be relative to its folder)" }
        if path.contains("\\") || path.contains("\0") { return "path '\(path)' holds a backslash or NUL" }
        let components = path.split(separator: "/", omittingEmptySubsequences: true)
        if components.contains("..") { return "path '\(path)' climbs out of its folder ('..')" }
        if components.allSatisfy({ $0 == "." }) { return "path '\(path)' names no file or folder" }
        if !allowFolders && components.count != 1 { return "'\(path)' must be a file name, not a path" }
        return nil
    }

    /// `root/path`, checked by `problem` and, for the part that exists, by resolving symbolic links:
    /// throws an error naming `context` when the result would leave `root`.
    public static func resolve(_ path: String, under root: URL, allowFolders: Bool = true, context: String) throws -> URL {
        if let problem = problem(path, allowFolders: allowFolders) { throw MorphoError.data(context: context, problem: problem) }
        let target = root.appendingPathComponent(path).standardizedFileURL
        let rootPath = root.standardizedFileURL.path
        // The deepest existing ancestor of the target: when it lies above the root, nothing under the
        // root exists yet and no link can lead out; otherwise, links resolved, it must stay inside.
        var existing = target
        while !FileManager.default.fileExists(atPath: existing.path) && existing.path != "/" { existing = existing.deletingLastPathComponent() }
        if existing.path != rootPath && isAncestor(existing.path, of: rootPath) { return target }
        let base = root.standardizedFileURL.resolvingSymlinksInPath().path
        guard isAncestor(base, of: existing.resolvingSymlinksInPath().path) else {
            throw MorphoError.data(context: context, problem: "path '\(path)' leads outside \(root.path) (through a symbolic link)")
        }
        return target
    }

    /// Whether `a` is `b` or a folder above it (an ancestor of the root that does not exist yet).
    static func isAncestor(_ a: String, of b: String) -> Bool { b == a || b.hasPrefix(a.hasSuffix("/") ? a : a + "/") }
}
