import Foundation
import MorphoCore
import TorchBridge

/// A TorchScript model written by PyTorch's `torch.jit.save`, run on the CPU in eval mode: how Morpho
/// takes pretrained networks. Its parameters and buffers can also be copied into a Morpho `ResNet` of the
/// same layout (`load(_:context:)` with `namedTensors`).
///
/// ```swift
/// let model = try TorchScriptModel(contentsOf: URL(fileURLWithPath: "resnet.pt"))
/// let y = try model(x)
/// ```
public final class TorchScriptModel: @unchecked Sendable {
    private let handle: mt_module
    public let url: URL

    public init(contentsOf url: URL) throws {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw MorphoError.file(path: url.path, problem: "no such TorchScript file")
        }
        guard let h = mt_jit_load(url.path) else {
            throw MorphoError.file(path: url.path, problem: "not a loadable TorchScript model: \(String(cString: mt_last_error()).prefix(400))")
        }
        handle = h
        self.url = url
    }
    deinit { mt_jit_free(handle) }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        guard let h = mt_jit_forward(handle, x.handle) else {
            throw MorphoError.engine(operation: "TorchScript forward of \(url.lastPathComponent)", problem: String(cString: mt_last_error()))
        }
        return Tensor(h)
    }

    /// Parameters and buffers by their PyTorch names (`layer1.0.conv1.weight`).
    public var namedTensors: [String: Tensor] {
        var out: [String: Tensor] = [:]
        for i in 0..<mt_jit_tensor_count(handle) {
            var name: UnsafePointer<CChar>?
            if let t = mt_jit_tensor(handle, i, &name), let name { out[String(cString: name)] = Tensor(t) }
        }
        return out
    }
}
