import CLAPACK
import Foundation
import MorphoCore

/// The dense linear algebra of the profile stages, through OpenBLAS and LAPACKE.
public enum LinearAlgebra {
    /// OpenBLAS's thread count.
    public static var blasThreads: Int { Int(openblas_get_num_threads()) }

    private static let blasLock = NSLock()

    /// Runs `body` with OpenBLAS on every core, then restores its thread count (the neural-network
    /// engine keeps OpenBLAS on one thread beside its own OpenMP pool; see `mt_set_num_threads`).
    /// Callers run one at a time, so each restores what it found.
    public static func onAllCores<R>(_ body: () throws -> R) rethrows -> R {
        blasLock.lock()
        defer { blasLock.unlock() }
        let previous = openblas_get_num_threads()
        openblas_set_num_threads(Int32(ProcessInfo.processInfo.activeProcessorCount))
        defer { openblas_set_num_threads(previous) }
        return try body()
    }

    /// Sample covariance (d x d, row-major) of the given rows of a rows x d Float matrix, accumulated
    /// in Double: (X - mean)^T (X - mean) / (n - 1) over those rows (OpenBLAS dsyrk).
    public static func covariance(_ x: [Float], rows: [Int], cols d: Int) -> [Double] {
        let n = rows.count
        let mean = Stats.columnMeans(x, cols: d, rows: rows)
        var block = [Double](repeating: 0, count: n * d)
        for (k, r) in rows.enumerated() { for j in 0..<d { block[k * d + j] = Double(x[r * d + j]) - mean[j] } }
        var c = [Double](repeating: 0, count: d * d)
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(d), Int32(n), 1 / Double(max(n - 1, 1)), block, Int32(d), 0, &c, Int32(d))
        for i in 0..<d { for j in 0..<i { c[i * d + j] = c[j * d + i] } }
        return c
    }

    /// Eigen-decomposition of a symmetric n x n matrix (LAPACK dsyevd): eigenvalues in descending
    /// order and the eigenvectors as the columns of a row-major n x n matrix, in the same order.
    public static func symmetricEigen(_ a: [Double], n: Int) throws -> (values: [Double], vectors: [Double]) {
        var m = a
        var w = [Double](repeating: 0, count: n)
        let info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "V")), Int8(UInt8(ascii: "U")), Int32(n), &m, Int32(n), &w)
        guard info == 0 else { throw MorphoError.data(context: "eigen-decomposition", problem: "LAPACK dsyevd failed (info \(info))") }
        // Reverse to descending order.
        var values = [Double](repeating: 0, count: n), vectors = [Double](repeating: 0, count: n * n)
        for c in 0..<n {
            values[c] = w[n - 1 - c]
            for i in 0..<n { vectors[i * n + c] = m[i * n + (n - 1 - c)] }
        }
        return (values, vectors)
    }

    /// C = A B for Double row-major A (r x k) and B (k x c); with `transposeB`, B is given as its
    /// transpose (c x k, row-major), so C = A B^T.
    public static func multiply(_ a: [Double], _ r: Int, _ k: Int, _ b: [Double], _ c: Int, transposeB: Bool = false) -> [Double] {
        var out = [Double](repeating: 0, count: r * c)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans, Int32(r), Int32(c), Int32(k), 1,
                    a, Int32(k), b, transposeB ? Int32(k) : Int32(c), 0, &out, Int32(c))
        return out
    }

    /// C = A B for Float row-major A (rows x inner) and B (inner x cols) (OpenBLAS sgemm).
    public static func multiply(_ a: [Float], rows: Int, inner: Int, _ b: [Float], cols: Int) -> [Float] {
        var out = [Float](repeating: 0, count: rows * cols)
        guard rows > 0, cols > 0 else { return out }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(cols), Int32(inner), 1, a, Int32(inner), b, Int32(cols), 0, &out, Int32(cols))
        return out
    }
}
