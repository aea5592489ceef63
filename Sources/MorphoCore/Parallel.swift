import Foundation
import Synchronization

/// Runs `body(i)` for i in 0..<count on all cores (`DispatchQueue.concurrentPerform`) and returns the
/// results in index order. The first error thrown is rethrown after all iterations finish.
public func concurrentMap<T: Sendable>(_ count: Int, _ body: @Sendable (Int) throws -> T) throws -> [T] {
    let results = Mutex<[T?]>([T?](repeating: nil, count: count))
    let firstError = Mutex<Error?>(nil)
    DispatchQueue.concurrentPerform(iterations: count) { i in
        if firstError.withLock({ $0 != nil }) { return }
        do {
            let value = try body(i)
            results.withLock { $0[i] = value }
        } catch {
            firstError.withLock { if $0 == nil { $0 = error } }
        }
    }
    if let error = firstError.withLock({ $0 }) { throw error }
    return results.withLock { $0.map { $0! } }
}
