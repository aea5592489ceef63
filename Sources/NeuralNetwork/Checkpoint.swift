import Foundation
import MorphoCore
import MorphoIO

/// What a saved model is: enough to rebuild it and to use it on the right inputs.
public struct ModelCard: Codable, Equatable, Sendable {
    public static let format = "morpho-model/1"
    public var format = ModelCard.format
    public var architecture: ResNetConfig
    /// Channel names in input order (e.g. DNA, Tubulin, Actin).
    public var channels: [String]
    /// Side of the square crops the model sees.
    public var cropSize: Int
    /// How crops were normalized before the network (the crop stage's `normalization`).
    public var cropNormalization: String
    /// Class names of the head, in logit order (treatments for weak supervision).
    public var classNames: [String]
    /// What the model was trained on ("random initialization", an experiment, a TorchScript file).
    public var trainingData: String
    public var seed: UInt64
    public var morphoVersion = MorphoVersion.current

    public init(architecture: ResNetConfig, channels: [String], cropSize: Int, cropNormalization: String,
                classNames: [String] = [], trainingData: String, seed: UInt64) {
        self.architecture = architecture
        self.channels = channels
        self.cropSize = cropSize
        self.cropNormalization = cropNormalization
        self.classNames = classNames
        self.trainingData = trainingData
        self.seed = seed
    }

    /// A short identity (architecture and a hash of the card) stored next to embeddings.
    public var identity: String {
        let json = (try? JSONEncoder.sorted.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        return "resnet\(architecture.depth)-w\(architecture.width)-\(String(stableHash(json), radix: 16))"
    }
}

/// A model on disk: an HDF5 file with every named tensor under `/tensors/<name>` (PyTorch's state-dict
/// names, so h5py can read it into a `state_dict`), the model card as JSON in the root attribute
/// `model_card`, and optional extra state (optimizer slots under `/state/<name>`, JSON `training_state`).
/// Written atomically.
public enum Checkpoint {
    public struct Contents {
        public var card: ModelCard
        public var tensors: [String: Tensor]
        public var state: [String: Tensor]
        public var trainingState: String?
    }

    public static func write(to url: URL, card: ModelCard, model: ParameterContainer, state: [String: Tensor] = [:],
                             trainingState: String? = nil) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try HDF5File.writeAtomically(to: url) { file in
            try writeGroup("tensors", model.namedTensors.map { ($0.name, $0.tensor) }, to: file)
            try writeGroup("state", state.map { ($0.key, $0.value) }, to: file)
            try file.setAttribute("model_card", String(decoding: try JSONEncoder.sorted.encode(card), as: UTF8.self))
            if let trainingState { try file.setAttribute("training_state", trainingState) }
        }
    }

    public static func read(_ url: URL) throws -> Contents {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw MorphoError.file(path: url.path, problem: "no such model checkpoint")
        }
        let file = try HDF5File(opening: url)
        defer { file.close() }
        guard let json = try file.stringAttribute("model_card") else {
            throw MorphoError.hdf5(path: url.path, object: "/", problem: "no model_card attribute: not a Morpho checkpoint")
        }
        let card: ModelCard
        do { card = try JSONDecoder().decode(ModelCard.self, from: Data(json.utf8)) } catch {
            throw MorphoError.hdf5(path: url.path, object: "model_card", problem: "unreadable model card: \(error)")
        }
        guard card.format == ModelCard.format else {
            throw MorphoError.hdf5(path: url.path, object: "model_card", problem: "format '\(card.format)', expected '\(ModelCard.format)'")
        }
        return Contents(card: card, tensors: try readGroup("tensors", from: file), state: try readGroup("state", from: file),
                        trainingState: try file.stringAttribute("training_state"))
    }

    /// Writes named tensors as float arrays under /`group`, in name order (the same tensors give the same
    /// file bytes, whatever order a dictionary lists them in).
    public static func writeGroup(_ group: String, _ tensors: [(String, Tensor)], to file: HDF5File) throws {
        for (name, t) in tensors.sorted(by: { $0.0 < $1.0 }) { try file.writeArray("/\(group)/\(name)", try t.floats(), shape: t.shape) }
    }

    /// The tensors under /`group` (empty when there is no such group).
    public static func readGroup(_ group: String, from file: HDF5File) throws -> [String: Tensor] {
        guard file.exists("/" + group) else { return [:] }
        var out: [String: Tensor] = [:]
        for member in try file.members(of: "/" + group) {
            let (values, shape) = try file.readItems("/\(group)/\(member)")
            out[member] = try Tensor(values, shape: shape)
        }
        return out
    }

    /// Only the `training_state` JSON of a checkpoint (nil when the file or the attribute is missing),
    /// without reading its tensors.
    public static func trainingState(_ url: URL) -> String? {
        guard FileManager.default.fileExists(atPath: url.path), let file = try? HDF5File(opening: url) else { return nil }
        defer { file.close() }
        return try? file.stringAttribute("training_state")
    }

    /// Rebuilds the ResNet a checkpoint holds.
    public static func loadResNet(_ url: URL) throws -> (model: ResNet, card: ModelCard) {
        let contents = try read(url)
        var rng = SeededGenerator(seed: contents.card.seed)
        let model = try ResNet(contents.card.architecture, rng: &rng)
        try model.load(contents.tensors, context: url.path)
        return (model, contents.card)
    }
}
