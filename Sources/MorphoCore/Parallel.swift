import Foundation
import Synchronization

/// How many threads Morpho's own loops over images use: the pipeline's `threads` (set by the runner,
/// so that a workflow engine told "this job uses N threads" can rely on it); 0: every core.
public enum Parallelism {
    private static let limit = Mutex(0)

    public static var maxThreads: Int {
        get { limit.withLock { $0 } }
        set { limit.withLock { $0 = max(0, newValue) } }
    }

    /// Workers for `count` items: at most `threads` (else `maxThreads`, else the cores).
    static func workers(_ count: Int, threads: Int?) -> Int {
        let cap = threads ?? maxThreads
        return min(count, cap > 0 ? cap : ProcessInfo.processInfo.activeProcessorCount)
    }
}

/// Runs `body(i)` for i in 0..<count on up to `threads` threads (default `Parallelism.maxThreads`, 0:
/// all cores; workers take the next index as they finish) and returns the results in index order. The
/// first error thrown is rethrown after the running iterations finish.
public func concurrentMap<T: Sendable>(_ count: Int, threads: Int? = nil, _ body: @Sendable (Int) throws -> T) throws -> [T] {
    let results = Mutex<[T?]>([T?](repeating: nil, count: count))
    let firstError = Mutex<Error?>(nil)
    let next = Mutex(0)
    let workers = Parallelism.workers(count, threads: threads)
    @Sendable func work() {
        while true {
            let i = next.withLock { n -> Int in defer { n += 1 }; return n }
            if i >= count || firstError.withLock({ $0 != nil }) { return }
            do {
                let value = try body(i)
                results.withLock { $0[i] = value }
            } catch {
                firstError.withLock { if $0 == nil { $0 = error } }
            }
        }
    }
    if workers <= 1 { work() } else { DispatchQueue.concurrentPerform(iterations: workers) { _ in work() } }
    if let error = firstError.withLock({ $0 }) { throw error }
    return results.withLock { $0.map { $0! } }
}
