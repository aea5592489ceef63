import MorphoCore
import TorchBridge

/// Element types of a tensor.
public enum DType: Int32, Sendable {
    case float32 = 0, float64, int64, bool
}

/// An n-dimensional array on the CPU, owned by ARC, backed by a LibTorch tensor.
///
/// Every operation records the autograd graph when gradients are enabled (see `Tensor.withoutGradients`)
/// and throws `MorphoError.engine` with LibTorch's message when LibTorch refuses it (shape mismatch, bad
/// dtype); no C++ exception reaches Swift.
///
/// ```swift
/// let x = try Tensor([1, 2, 3, 4], shape: [2, 2])
/// let y = try (x * x).sum()          // 30
/// ```
public final class Tensor: @unchecked Sendable {
    let handle: mt_tensor

    init(_ handle: mt_tensor) { self.handle = handle }
    deinit { mt_free(handle) }

    // MARK: - making tensors

    /// A float32 tensor holding `values` in row-major order.
    public convenience init(_ values: [Float], shape: [Int]) throws {
        try self.init(values, dtype: .float32, shape: shape, operation: "tensor from floats")
    }

    /// A float64 tensor holding `values` in row-major order.
    public convenience init(doubles values: [Double], shape: [Int]) throws {
        try self.init(values, dtype: .float64, shape: shape, operation: "tensor from doubles")
    }

    /// An int64 tensor (class labels, indices).
    public convenience init(indices: [Int], shape: [Int]? = nil) throws {
        let values = indices.map { Int64($0) }
        try self.init(values, dtype: .int64, shape: shape ?? [indices.count], operation: "tensor from indices")
    }

    private convenience init<T>(_ values: [T], dtype: DType, shape: [Int], operation: String) throws {
        let dims = shape.map { Int64($0) }
        let h = values.withUnsafeBytes { raw in
            dims.withUnsafeBufferPointer { mt_from_data(raw.baseAddress, dtype.rawValue, Int64(values.count), $0.baseAddress, Int32(dims.count)) }
        }
        self.init(try Tensor.checked(h, operation))
    }

    public static func zeros(_ shape: [Int], dtype: DType = .float32) throws -> Tensor {
        try Tensor.make("zeros") { withShape(shape) { mt_zeros($0, $1, dtype.rawValue) } }
    }
    public static func full(_ shape: [Int], _ value: Double, dtype: DType = .float32) throws -> Tensor {
        try Tensor.make("full") { withShape(shape) { mt_full($0, $1, value, dtype.rawValue) } }
    }
    /// Standard normal values from LibTorch's global generator (seed it with `Engine.seed`).
    public static func randn(_ shape: [Int]) throws -> Tensor {
        try Tensor.make("randn") { withShape(shape) { mt_randn($0, $1) } }
    }
    /// Uniform [0, 1) values from LibTorch's global generator.
    public static func rand(_ shape: [Int]) throws -> Tensor {
        try Tensor.make("rand") { withShape(shape) { mt_rand($0, $1) } }
    }
    public static func arange(_ n: Int, dtype: DType = .int64) throws -> Tensor {
        try Tensor.make("arange") { mt_arange(Int64(n), dtype.rawValue) }
    }

    // MARK: - reading

    public var shape: [Int] {
        var dims = [Int64](repeating: 0, count: 8)
        let n = Int(mt_shape(handle, &dims, 8))
        if n > 8 {
            dims = [Int64](repeating: 0, count: n)
            _ = mt_shape(handle, &dims, Int32(n))
        }
        return dims.prefix(n).map { Int($0) }
    }
    public var count: Int { shape.reduce(1, *) }
    public var dtype: DType { DType(rawValue: mt_dtype(handle)) ?? .float32 }
    public var isChannelsLast: Bool { mt_is_channels_last(handle) != 0 }

    /// The values as Float in row-major order (converting the dtype if needed).
    public func floats() throws -> [Float] { try copyOut(Float(0), .float32) }
    public func doubles() throws -> [Double] { try copyOut(Double(0), .float64) }
    public func indices() throws -> [Int] { try copyOut(Int64(0), .int64).map { Int($0) } }
    /// The value of a one-element tensor.
    public func item() throws -> Double {
        guard count == 1 else { throw MorphoError.engine(operation: "item", problem: "tensor of shape \(shape) has \(count) elements, not 1") }
        return try doubles()[0]
    }

    private func copyOut<T>(_ zero: T, _ dtype: DType) throws -> [T] {
        var out = [T](repeating: zero, count: count)
        let status = out.withUnsafeMutableBytes { mt_copy_data(handle, $0.baseAddress, dtype.rawValue, Int64($0.count / MemoryLayout<T>.stride)) }
        try Tensor.check(status, "copy out")
        return out
    }

    // MARK: - bridge plumbing

    static func checked(_ h: mt_tensor?, _ operation: @autoclosure () -> String) throws -> mt_tensor {
        guard let h else { throw MorphoError.engine(operation: operation(), problem: String(cString: mt_last_error())) }
        return h
    }
    static func check(_ status: Int32, _ operation: @autoclosure () -> String) throws {
        guard status == 0 else { throw MorphoError.engine(operation: operation(), problem: String(cString: mt_last_error())) }
    }
    static func make(_ operation: @autoclosure () -> String, _ body: () -> mt_tensor?) throws -> Tensor {
        Tensor(try checked(body(), operation()))
    }
    /// Calls `body` with an Int64 copy of `values` and its count.
    static func withShape<R>(_ values: [Int], _ body: (UnsafePointer<Int64>?, Int32) -> R) -> R {
        let dims = values.map { Int64($0) }
        return dims.withUnsafeBufferPointer { body($0.baseAddress, Int32(dims.count)) }
    }
}

/// Process-wide settings of the engine.
public enum Engine {
    /// LibTorch's intra-op thread count (it defaults to 1 here; Morpho sets it from the config).
    public static var threads: Int {
        get { Int(mt_num_threads()) }
    }
    public static func setThreads(_ n: Int) throws {
        try Tensor.check(mt_set_num_threads(Int32(max(1, n))), "set thread count")
    }
    /// Seeds LibTorch's global generator (randn, rand, dropout).
    public static func seed(_ seed: UInt64) { mt_manual_seed(seed) }

    /// Records every engine operator (name, thread, start, duration) while `body` runs and writes them
    /// to `path` as a Chrome trace (chrome://tracing or Perfetto; `scripts/trace_summary.py` sums them).
    public static func tracing<R>(to path: String, _ body: () throws -> R) throws -> R {
        try Tensor.check(mt_trace_start(path), "start a trace")
        defer { _ = mt_trace_stop() }
        return try body()
    }
}
