import MorphoCore
import TorchBridge

// MARK: - element-wise

extension Tensor {
    private func unary(_ op: Int, _ name: String) throws -> Tensor {
        try Tensor.make(name) { mt_unary(handle, Int32(op)) }
    }
    private func binary(_ other: Tensor, _ op: Int, _ name: String) throws -> Tensor {
        try Tensor.make("\(name) \(shape) and \(other.shape)") { mt_binary(handle, other.handle, Int32(op)) }
    }
    private func scalar(_ s: Double, _ op: Int, _ name: String) throws -> Tensor {
        try Tensor.make(name) { mt_binary_scalar(handle, s, Int32(op)) }
    }

    public func exp() throws -> Tensor { try unary(Int(MT_EXP), "exp") }
    public func log() throws -> Tensor { try unary(Int(MT_LOG), "log") }
    public func sqrt() throws -> Tensor { try unary(Int(MT_SQRT), "sqrt") }
    public func relu() throws -> Tensor { try unary(Int(MT_RELU), "relu") }
    public func sigmoid() throws -> Tensor { try unary(Int(MT_SIGMOID), "sigmoid") }
    public func tanh() throws -> Tensor { try unary(Int(MT_TANH), "tanh") }
    public func abs() throws -> Tensor { try unary(Int(MT_ABS), "abs") }
    public func cos() throws -> Tensor { try unary(Int(MT_COS), "cos") }
    public func sin() throws -> Tensor { try unary(Int(MT_SIN), "sin") }
    public func acos() throws -> Tensor { try unary(Int(MT_ACOS), "acos") }
    public func square() throws -> Tensor { try unary(Int(MT_SQUARE), "square") }
    public func rsqrt() throws -> Tensor { try unary(Int(MT_RSQRT), "rsqrt") }
    public func logicalNot() throws -> Tensor { try unary(Int(MT_LOGICAL_NOT), "logical not") }

    public func pow(_ exponent: Double) throws -> Tensor { try scalar(exponent, Int(MT_POW), "pow") }
    public func maximum(_ other: Tensor) throws -> Tensor { try binary(other, Int(MT_MAXIMUM), "maximum") }
    public func minimum(_ other: Tensor) throws -> Tensor { try binary(other, Int(MT_MINIMUM), "minimum") }
    public func greater(_ other: Tensor) throws -> Tensor { try binary(other, Int(MT_GT), "greater") }
    public func greater(_ s: Double) throws -> Tensor { try scalar(s, Int(MT_GT), "greater") }
    public func equal(_ other: Tensor) throws -> Tensor { try binary(other, Int(MT_EQ), "equal") }
    /// `max(self, lo)` element-wise.
    public func atLeast(_ lo: Double) throws -> Tensor { try scalar(lo, Int(MT_MAXIMUM), "clamp below") }
    public func clamped(_ lo: Double, _ hi: Double) throws -> Tensor {
        try Tensor.make("clamp") { mt_clamp(handle, lo, hi) }
    }
    public func to(_ dtype: DType) throws -> Tensor { try Tensor.make("to \(dtype)") { mt_to_dtype(handle, dtype.rawValue) } }
    /// `condition ? a : b` element-wise.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        try Tensor.make("where") { mt_where(condition.handle, a.handle, b.handle) }
    }

    public static func + (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(b, Int(MT_ADD), "add") }
    public static func - (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(b, Int(MT_SUB), "subtract") }
    public static func * (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(b, Int(MT_MUL), "multiply") }
    public static func / (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(b, Int(MT_DIV), "divide") }
    public static func + (a: Tensor, s: Double) throws -> Tensor { try a.scalar(s, Int(MT_ADD), "add") }
    public static func - (a: Tensor, s: Double) throws -> Tensor { try a.scalar(s, Int(MT_SUB), "subtract") }
    public static func * (a: Tensor, s: Double) throws -> Tensor { try a.scalar(s, Int(MT_MUL), "multiply") }
    public static func / (a: Tensor, s: Double) throws -> Tensor { try a.scalar(s, Int(MT_DIV), "divide") }
    public static func * (s: Double, a: Tensor) throws -> Tensor { try a.scalar(s, Int(MT_MUL), "multiply") }
    public static func + (s: Double, a: Tensor) throws -> Tensor { try a.scalar(s, Int(MT_ADD), "add") }
    public static func - (s: Double, a: Tensor) throws -> Tensor { try (-a) + s }
    public static prefix func - (a: Tensor) throws -> Tensor { try a.unary(Int(MT_NEG), "negate") }
}

// MARK: - reductions

extension Tensor {
    private func reduce(_ op: Int, _ dims: [Int], _ keep: Bool, _ name: String) throws -> Tensor {
        try Tensor.make("\(name) over \(dims) of \(shape)") {
            Tensor.withShape(dims) { mt_reduce(handle, Int32(op), $0, $1, keep ? 1 : 0) }
        }
    }
    /// Sum over `dims` (all dimensions when empty).
    public func sum(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(Int(MT_SUM), dims, keepDim, "sum") }
    public func mean(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(Int(MT_MEAN), dims, keepDim, "mean") }
    public func max(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(Int(MT_AMAX), dims, keepDim, "max") }
    public func min(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(Int(MT_AMIN), dims, keepDim, "min") }
    /// Population variance (divisor n).
    public func variance(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(Int(MT_VAR), dims, keepDim, "variance") }
    public func logSumExp(_ dims: [Int], keepDim: Bool = false) throws -> Tensor { try reduce(Int(MT_LOGSUMEXP), dims, keepDim, "logsumexp") }
    public func argmax(_ dim: Int) throws -> Tensor { try reduce(Int(MT_ARGMAX), [dim], false, "argmax") }
}

// MARK: - shapes and indexing

extension Tensor {
    public func reshaped(_ shape: [Int]) throws -> Tensor {
        try Tensor.make("reshape \(self.shape) to \(shape)") { Tensor.withShape(shape) { mt_reshape(handle, $0, $1) } }
    }
    public func permuted(_ dims: [Int]) throws -> Tensor {
        try Tensor.make("permute \(shape) by \(dims)") { Tensor.withShape(dims) { mt_permute(handle, $0, $1) } }
    }
    public func transposed(_ d0: Int = 0, _ d1: Int = 1) throws -> Tensor {
        try Tensor.make("transpose") { mt_transpose(handle, Int64(d0), Int64(d1)) }
    }
    /// A dense copy in row-major (NCHW) or channels-last (NHWC strides, same logical shape) layout.
    public func contiguous(channelsLast: Bool = false) throws -> Tensor {
        try Tensor.make("contiguous") { mt_contiguous(handle, channelsLast ? 1 : 0) }
    }
    /// Elements `start..<start+length` along `dim` (a view).
    public func narrowed(_ dim: Int, _ start: Int, _ length: Int) throws -> Tensor {
        try Tensor.make("narrow \(shape) dim \(dim) at \(start) by \(length)") { mt_narrow(handle, Int64(dim), Int64(start), Int64(length)) }
    }
    public func indexSelect(_ dim: Int, _ index: Tensor) throws -> Tensor {
        try Tensor.make("index select") { mt_index_select(handle, Int64(dim), index.handle) }
    }
    public func indexSelect(_ dim: Int, _ index: [Int]) throws -> Tensor {
        try indexSelect(dim, try Tensor(indices: index))
    }
    public static func cat(_ tensors: [Tensor], dim: Int) throws -> Tensor {
        let handles: [mt_tensor?] = tensors.map { $0.handle }
        return try withExtendedLifetime(tensors) {
            try Tensor.make("cat") { handles.withUnsafeBufferPointer { mt_cat($0.baseAddress, Int32(handles.count), Int64(dim)) } }
        }
    }
    public func flipped(_ dims: [Int]) throws -> Tensor {
        try Tensor.make("flip") { Tensor.withShape(dims) { mt_flip(handle, $0, $1) } }
    }
    public func rotated90(_ k: Int, dims: (Int, Int)) throws -> Tensor {
        try Tensor.make("rot90") { mt_rot90(handle, Int64(k), Int64(dims.0), Int64(dims.1)) }
    }
    public func rolled(_ shifts: [Int], dims: [Int]) throws -> Tensor {
        let s = shifts.map { Int64($0) }
        return try Tensor.make("roll") { Tensor.withShape(dims) { d, n in s.withUnsafeBufferPointer { mt_roll(handle, $0.baseAddress, d, n) } } }
    }
    /// One-hot rows (int64) of integer labels.
    public func oneHot(_ classes: Int) throws -> Tensor {
        try Tensor.make("one hot with \(classes) classes") { mt_one_hot(handle, Int64(classes)) }
    }
    /// Zero-pads the last two dimensions.
    public func padded(left: Int, right: Int, top: Int, bottom: Int) throws -> Tensor {
        try Tensor.make("pad") { mt_pad2d(handle, Int64(left), Int64(right), Int64(top), Int64(bottom)) }
    }
    public func clone() throws -> Tensor { try Tensor.make("clone") { mt_clone(handle) } }
    /// The same values, cut from the autograd graph.
    public func detached() throws -> Tensor { try Tensor.make("detach") { mt_detach(handle) } }
}

// MARK: - neural-network operations

extension Tensor {
    public func matmul(_ other: Tensor) throws -> Tensor {
        try Tensor.make("matmul \(shape) x \(other.shape)") { mt_matmul(handle, other.handle) }
    }
    /// `self W^T + b`.
    public func linear(_ weight: Tensor, _ bias: Tensor?) throws -> Tensor {
        try Tensor.make("linear \(shape) with weight \(weight.shape)") { mt_linear(handle, weight.handle, bias?.handle) }
    }
    public func conv2d(_ weight: Tensor, _ bias: Tensor?, stride: Int = 1, padding: Int = 0, dilation: Int = 1, groups: Int = 1) throws -> Tensor {
        let s: [Int64] = [Int64(stride), Int64(stride)], p: [Int64] = [Int64(padding), Int64(padding)], d: [Int64] = [Int64(dilation), Int64(dilation)]
        return try Tensor.make("conv2d \(shape) with weight \(weight.shape)") {
            mt_conv2d(handle, weight.handle, bias?.handle, s, p, d, Int64(groups))
        }
    }
    /// Batch normalization over the channel dimension; in training mode the running statistics are
    /// updated in place: `running = (1 - momentum) running + momentum batch` (unbiased batch variance).
    public func batchNorm(weight: Tensor?, bias: Tensor?, runningMean: Tensor?, runningVar: Tensor?,
                          training: Bool, momentum: Double = 0.1, eps: Double = 1e-5) throws -> Tensor {
        try Tensor.make("batch norm \(shape)") {
            mt_batch_norm(handle, weight?.handle, bias?.handle, runningMean?.handle, runningVar?.handle, training ? 1 : 0, momentum, eps)
        }
    }
    public func maxPool2d(kernel: Int, stride: Int, padding: Int = 0) throws -> Tensor {
        try Tensor.make("max pool") { mt_max_pool2d(handle, Int64(kernel), Int64(stride), Int64(padding)) }
    }
    public func avgPool2d(kernel: Int, stride: Int, padding: Int = 0) throws -> Tensor {
        try Tensor.make("average pool") { mt_avg_pool2d(handle, Int64(kernel), Int64(stride), Int64(padding)) }
    }
    public func adaptiveAvgPool2d(_ height: Int, _ width: Int) throws -> Tensor {
        try Tensor.make("adaptive average pool") { mt_adaptive_avg_pool2d(handle, Int64(height), Int64(width)) }
    }
    public func dropout(_ p: Double, training: Bool) throws -> Tensor {
        try Tensor.make("dropout") { mt_dropout(handle, p, training ? 1 : 0) }
    }
    public func softmax(_ dim: Int) throws -> Tensor { try Tensor.make("softmax") { mt_softmax(handle, Int64(dim)) } }
    public func logSoftmax(_ dim: Int) throws -> Tensor { try Tensor.make("log softmax") { mt_log_softmax(handle, Int64(dim)) } }
    /// ReLU in place: for inference, where autograd does not need the input.
    public func reluInPlace() throws { try Tensor.check(mt_relu_(handle), "relu in place") }
}

// MARK: - in place (optimizers)

extension Tensor {
    /// `self += alpha * other`
    public func add(_ other: Tensor, alpha: Double = 1) throws { try Tensor.check(mt_add_(handle, other.handle, alpha), "add in place") }
    /// `self *= s`
    public func scale(by s: Double) throws { try Tensor.check(mt_mul_scalar_(handle, s), "scale in place") }
    /// `self += value * a * b`
    public func addProduct(_ a: Tensor, _ b: Tensor, value: Double) throws {
        try Tensor.check(mt_addcmul_(handle, a.handle, b.handle, value), "addcmul")
    }
    /// `self += value * a / b`
    public func addQuotient(_ a: Tensor, _ b: Tensor, value: Double) throws {
        try Tensor.check(mt_addcdiv_(handle, a.handle, b.handle, value), "addcdiv")
    }
    /// Replaces the values by a copy in `dtype` (the same tensor object; requires-gradient is kept).
    public func convert(to dtype: DType) throws { try Tensor.check(mt_convert_(handle, dtype.rawValue), "convert to \(dtype)") }

    /// Copies the values of `other` (same shape) into this tensor.
    public func assign(_ other: Tensor) throws {
        guard shape == other.shape else {
            throw MorphoError.engine(operation: "assign", problem: "shape \(other.shape) into \(shape)")
        }
        try Tensor.check(mt_copy_(handle, other.handle), "assign")
    }
    public func fill(_ value: Double) throws { try Tensor.check(mt_fill_(handle, value), "fill") }
}

// MARK: - autograd

extension Tensor {
    /// Whether autograd records operations on this (leaf) tensor and accumulates its gradient.
    public var requiresGradient: Bool {
        get { mt_requires_grad(handle) != 0 }
        set { _ = mt_set_requires_grad(handle, newValue ? 1 : 0) }
    }
    /// Back-propagates from this scalar, accumulating `gradient` of every leaf that requires one.
    public func backward() throws { try Tensor.check(mt_backward(handle), "backward") }
    /// The accumulated gradient, if any.
    public var gradient: Tensor? {
        mt_grad(handle).map { Tensor($0) }
    }
    public func zeroGradient() { _ = mt_zero_grad(handle) }

    /// Whether operations on this thread are recorded for autograd.
    public static var gradientsEnabled: Bool { mt_grad_enabled() != 0 }

    /// Runs `body` with gradient recording off on this thread (inference, optimizer updates).
    public static func withoutGradients<T>(_ body: () throws -> T) rethrows -> T {
        let previous = mt_set_grad_enabled(0)
        defer { _ = mt_set_grad_enabled(previous) }
        return try body()
    }
}
