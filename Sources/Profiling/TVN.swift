import CLAPACK
import Foundation
import MorphoCore

/// Typical-variation normalization (Ando, Levine & Shibuya 2017): whitening fitted on the negative
/// controls, so that the directions in which control cells or wells vary (plate, well position,
/// cell-to-cell noise) are scaled down and treatment effects stand out.
///
/// Fit: controls are centred (by their own mean per `centerBy` group, typically the plate, which also
/// removes plate offsets from every row) and scaled by their pooled sd per feature (so the fit is on the
/// correlation scale, like pycytominer's ZCA-cor; features with zero control spread are dropped and
/// reported); their covariance C = X^T X / (n - 1) is shrunk towards its diagonal,
/// C_s = (1 - shrinkage) C + shrinkage diag(C), and decomposed C_s = V L V^T (LAPACK dsyevd).
///
/// Rank: controls are often rank-deficient (BBBC021: 330 DMSO wells, rank 275 in 513 features after
/// per-plate centring), so their covariance has no inverse. Morpho keeps the k components with
/// eigenvalue > `tolerance` x the largest (or exactly `components` if set) and drops the others; with
/// shrinkage > 0 the covariance is full rank and all components are kept. Transforms:
///
/// - PCA whitening: y = L_k^{-1/2} V_k^T (x - m), k outputs named TVN_1...TVN_k;
/// - ZCA whitening: y = V_k L_k^{-1/2} V_k^T (x - m), one output per input feature (names kept).
///
/// Without shrinkage the transformed controls have exactly identity covariance on the k kept
/// components (tested; pycytominer bug #747 was whitening that did not whiten).
///
/// `alignBatches` adds Ando's per-batch step: after whitening, each batch's controls are recentred and
/// whitened again with their own covariance regularized towards identity, (C_b + I)^{-1/2}, so batches
/// share one typical variation.
public struct TypicalVariationNormalization: Sendable, Equatable, Codable {
    public enum Whitening: String, Sendable, Codable, CaseIterable { case pca, zca }

    public var whitening: Whitening
    public var controls: Controls
    /// Per-group centring on the controls' mean before fitting (Metadata_Plate); nil: global mean.
    public var centerBy: String?
    /// Shrinkage of the control covariance towards its diagonal, 0...1.
    public var shrinkage: Double
    /// Keep exactly this many components (PCA order); nil: all above `tolerance`.
    public var components: Int?
    /// Relative eigenvalue threshold for the numerical rank.
    public var tolerance: Double
    /// Batch column for the per-batch alignment of the control covariance; nil: none.
    public var alignBatches: String?

    public init(whitening: Whitening = .pca, controls: Controls = Controls(), centerBy: String? = "Metadata_Plate",
                shrinkage: Double = 0, components: Int? = nil, tolerance: Double = 1e-8, alignBatches: String? = nil) {
        self.whitening = whitening
        self.controls = controls
        self.centerBy = centerBy
        self.shrinkage = shrinkage
        self.components = components
        self.tolerance = tolerance
        self.alignBatches = alignBatches
    }

    public struct Report: Sendable, Equatable {
        public var controlRows: Int
        public var inputFeatures: Int
        /// Features with zero spread on the (centred) controls, left out of the whitening.
        public var droppedFeatures: [String]
        /// Numerical rank of the (shrunk) control covariance and the number of components kept.
        public var rank: Int
        public var kept: Int
        /// Eigenvalues, largest first.
        public var eigenvalues: [Double]
    }

    /// Fits on the table's control rows and transforms every row.
    public func apply(_ table: FeatureTable) throws -> (FeatureTable, Report) {
        try LinearAlgebra.onAllCores { try fitAndTransform(table) }
    }

    private func fitAndTransform(_ table: FeatureTable) throws -> (FeatureTable, Report) {
        try table.checkFinite(context: "TVN input")
        guard (0...1).contains(shrinkage) else { throw MorphoError.config(key: "tvn.shrinkage", problem: "must be in 0...1, got \(shrinkage)") }
        let isControl = try controls.mask(table)
        let d = table.featureCount
        guard d > 0 else { throw MorphoError.data(context: "TVN", problem: "no features") }

        // Centre by each group's control mean; scale by the controls' pooled sd (row-major passes).
        let groups = try RowGroups(table, by: centerBy.map { [$0] } ?? [])
        var groupOf = [Int](repeating: 0, count: table.rowCount)
        var centers = [[Float]]()
        for (g, members) in groups.rows.enumerated() {
            for r in members { groupOf[r] = g }
            let controlRows = members.filter { isControl[$0] }
            guard !controlRows.isEmpty else {
                throw MorphoError.data(context: groups.describe(g), problem: "no control rows (\(controls.column) == \(controls.value)) to centre TVN on")
            }
            centers.append(Stats.columnMeans(table.features, cols: d, rows: controlRows).map(Float.init))
        }
        let controlRows = (0..<table.rowCount).filter { isControl[$0] }
        guard controlRows.count >= 2 else { throw MorphoError.data(context: "TVN", problem: "needs at least 2 control rows, found \(controlRows.count)") }

        // Work on the correlation scale: divide by the controls' pooled sd, so that the rank threshold
        // and the shrinkage do not depend on the features' units. Features that do not vary on the
        // controls cannot be whitened; they are dropped and reported.
        var ss = [Double](repeating: 0, count: d)
        table.features.withUnsafeBufferPointer { x in
            for r in controlRows {
                let c = centers[groupOf[r]]
                for j in 0..<d { let v = Double(x[r * d + j] - c[j]); ss[j] += v * v }
            }
        }
        let sd = ss.map { ($0 / Double(controlRows.count - 1)).squareRoot() }
        let used = (0..<d).filter { sd[$0] > 0 }
        let dropped = (0..<d).filter { !(sd[$0] > 0) }.map { table.featureNames[$0] }
        let du = used.count
        guard du > 0 else { throw MorphoError.data(context: "TVN", problem: "no feature varies on the controls") }
        let inverseSD = used.map { Float(1 / sd[$0]) }
        /// Row r centred, scaled and restricted to the used features, written to `out`.
        func prepare(_ x: UnsafeBufferPointer<Float>, _ r: Int, _ out: UnsafeMutablePointer<Float>) {
            let c = centers[groupOf[r]]
            for (k, j) in used.enumerated() { out[k] = (x[r * d + j] - c[j]) * inverseSD[k] }
        }
        var controlBlock = [Float](repeating: 0, count: controlRows.count * du)
        table.features.withUnsafeBufferPointer { x in
            controlBlock.withUnsafeMutableBufferPointer { b in
                for (i, r) in controlRows.enumerated() { prepare(x, r, b.baseAddress! + i * du) }
            }
        }

        var cov = LinearAlgebra.covariance(controlBlock, rows: Array(0..<controlRows.count), cols: du)
        controlBlock = []
        if shrinkage > 0 {
            for i in 0..<du { for j in 0..<du where i != j { cov[i * du + j] *= 1 - shrinkage } }
        }
        let (eigenvalues, vectors) = try LinearAlgebra.symmetricEigen(cov, n: du)  // descending
        let top = eigenvalues.first ?? 0
        guard top > 0 else { throw MorphoError.data(context: "TVN", problem: "the controls do not vary: their covariance is zero") }
        let rank = eigenvalues.filter { $0 > tolerance * top }.count
        let k = min(components ?? rank, rank)
        guard k >= 1 else { throw MorphoError.config(key: "tvn.components", problem: "must be at least 1") }

        // W (features x outputs): PCA V_k L_k^{-1/2}; ZCA V_k L_k^{-1/2} V_k^T.
        var pca = [Double](repeating: 0, count: du * k)
        for i in 0..<du { for c in 0..<k { pca[i * k + c] = vectors[i * du + c] / eigenvalues[c].squareRoot() } }
        let outputs: Int
        let w: [Double]
        switch whitening {
        case .pca:
            w = pca; outputs = k
        case .zca:
            outputs = du
            var vk = [Double](repeating: 0, count: du * k)  // V_k, du x k
            for i in 0..<du { for c in 0..<k { vk[i * k + c] = vectors[i * du + c] } }
            w = LinearAlgebra.multiply(pca, du, k, vk, du, transposeB: true)
        }
        // Transform in blocks of rows: prepare a block, multiply it into its place in the output.
        let wf = w.map(Float.init)
        var y = [Float](repeating: 0, count: table.rowCount * outputs)
        let blockRows = 16_384
        var block = [Float](repeating: 0, count: blockRows * du)
        table.features.withUnsafeBufferPointer { x in
            y.withUnsafeMutableBufferPointer { yp in
                block.withUnsafeMutableBufferPointer { bp in
                    for r0 in stride(from: 0, to: table.rowCount, by: blockRows) {
                        let n = min(blockRows, table.rowCount - r0)
                        for i in 0..<n { prepare(x, r0 + i, bp.baseAddress! + i * du) }
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(outputs), Int32(du), 1,
                                    bp.baseAddress, Int32(du), wf, Int32(outputs), 0, yp.baseAddress! + r0 * outputs, Int32(outputs))
                    }
                }
            }
        }
        if let batchColumn = alignBatches {
            try alignPerBatch(&y, table: table, isControl: isControl, cols: outputs, batchColumn: batchColumn)
        }
        let names = whitening == .pca ? (1...k).map { "TVN_\($0)" } : used.map { table.featureNames[$0] }
        let out = try table.replacingFeatures(names: names, values: y)
        return (out, Report(controlRows: controlRows.count, inputFeatures: d, droppedFeatures: dropped, rank: rank, kept: k,
                            eigenvalues: eigenvalues))
    }

    private func alignPerBatch(_ y: inout [Float], table: FeatureTable, isControl: [Bool], cols: Int, batchColumn: String) throws {
        let batches = try RowGroups(table, by: [batchColumn])
        for (b, members) in batches.rows.enumerated() {
            let controlRows = members.filter { isControl[$0] }
            guard controlRows.count >= 2 else {
                throw MorphoError.data(context: batches.describe(b), problem: "fewer than 2 control rows: cannot align this batch")
            }
            let mean = Stats.columnMeans(y, cols: cols, rows: controlRows).map(Float.init)
            for r in members { for j in 0..<cols { y[r * cols + j] -= mean[j] } }
            var cov = LinearAlgebra.covariance(y, rows: controlRows, cols: cols)
            for i in 0..<cols { cov[i * cols + i] += 1 }
            let (values, vectors) = try LinearAlgebra.symmetricEigen(cov, n: cols)
            // (C_b + I)^{-1/2} = V L^{-1/2} V^T
            var scaled = vectors
            for i in 0..<cols { for c in 0..<cols { scaled[i * cols + c] /= values[c].squareRoot() } }
            let a = LinearAlgebra.multiply(scaled, cols, cols, vectors, cols, transposeB: true)
            let block = members.flatMap { r in y[(r * cols)..<((r + 1) * cols)] }
            let aligned = LinearAlgebra.multiply(block, rows: members.count, inner: cols, a.map(Float.init), cols: cols)
            for (k, r) in members.enumerated() {
                for j in 0..<cols { y[r * cols + j] = aligned[k * cols + j] }
            }
        }
    }
}
