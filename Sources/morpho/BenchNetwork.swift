import ArgumentParser
import Foundation
import MorphoCore
import Classification
import NeuralNetwork

/// Options shared by `morpho bench embed` and `morpho bench train`.
struct NetworkBenchOptions: ParsableArguments {
    @Option var batchSize = 64
    @Option(help: "Crop side in pixels.") var size = 96
    @Option var channels = 3
    @Option(help: "Timed batches (after 2 warm-up batches).") var batches = 10
    @Option var threads = 2
    @Option(help: "Timed runs of --batches on each side; the best counts (timings vary between runs).") var repeats = 3
    @Flag(help: "Run PyTorch with glibc's default allocator settings instead of the ones the morpho process sets (mmap threshold 32 MiB, trim threshold 1 GiB).")
    var peerDefaultMalloc = false
    @Option(help: "Python with PyTorch (CPU or CUDA wheel; never installed by Morpho), e.g. a venv made as in scripts/make_torch_fixtures.py.")
    var python = ".venv-torch/bin/python"
    @Flag(help: "Skip PyTorch.") var noPeer = false
    @Option(help: "After timing, run --batches once more with the engine's operator trace on and write it here (Chrome trace JSON; PyTorch's goes to FILE.pytorch.json; sum both with scripts/trace_summary.py).")
    var trace: String?

    var timedRuns: Int { max(1, repeats) }

    /// Times `step` over the configured batches (after two warm-up calls), `repeats` times: the best
    /// images per second.
    func imagesPerSecond(_ step: () throws -> Void) throws -> Double {
        for _ in 0..<2 { try step() }
        var best = 0.0
        for _ in 0..<timedRuns {
            let start = Date()
            for _ in 0..<batches { try step() }
            best = max(best, Double(batches * batchSize) / Date().timeIntervalSince(start))
        }
        if let trace { try Engine.tracing(to: trace) { for _ in 0..<batches { try step() } } }
        return best
    }

    /// Runs the PyTorch side and prints both lines and the ratio.
    func compare(mode: String, morpho: Double, detail: String, extra: [String] = []) throws {
        say(String(format: "Morpho  %@: %7.1f images/s (%@, best of %d), peak RSS %.0f MiB", mode, morpho, detail, timedRuns, peakResidentMiB()))
        // Determinism has no switch and no price: this is the speed of the setting that gives the same
        // bytes for the same seed and thread count (README, "Reproducible").
        say("Morpho  \(mode): deterministic (same bytes for the same seed and thread count; no slower setting is needed)")
        guard !noPeer else { return }
        // The morpho process keeps freed blocks in the heap (`morpho_keep_freed_memory`); PyTorch gets the
        // same glibc settings through its environment unless asked not to, so the allocator is not what
        // the ratio measures.
        let malloc = peerDefaultMalloc ? [:] : ["MALLOC_MMAP_THRESHOLD_": "\(32 << 20)", "MALLOC_TRIM_THRESHOLD_": "\(1 << 30)"]
        let output: String
        do {
            output = try runForStdout(python, [ScriptLocator.script("bench_torch.py"), mode, "--batch-size", "\(batchSize)", "--size", "\(size)",
                                               "--channels", "\(channels)", "--batches", "\(batches)", "--threads", "\(threads)",
                                               "--repeats", "\(timedRuns)"] + (trace.map { ["--trace", $0 + ".pytorch.json"] } ?? []) + extra,
                                      environment: malloc)
        } catch let error as MorphoError {
            say("PyTorch: \(error.description)")
            return
        }
        let parts = output.split(separator: "\n").last?.split(separator: " ") ?? []
        guard parts.count == 3, let peer = Double(parts[0]) else {
            say("PyTorch: unexpected output: \(output)")
            return
        }
        say(String(format: "PyTorch %@: %7.1f images/s (eager, best layout %@, %@ allocator settings), peak RSS %@ MiB", mode, peer, String(parts[1]),
                          peerDefaultMalloc ? "glibc's default" : "Morpho's", String(parts[2])))
        say(String(format: "ratio %@: Morpho / PyTorch = %.2fx", mode, morpho / peer))
    }

    func model(classes: Int, width: Int = 64) throws -> (ResNet, Tensor) {
        try Engine.setThreads(threads)
        var rng = SeededGenerator(seed: 1)
        let net = try ResNet(ResNetConfig(depth: 18, inputChannels: channels, width: width, classes: classes), rng: &rng)
        Engine.seed(1)
        return (net, try Tensor.randn([batchSize, channels, size, size]))
    }
}

/// Peak resident memory of this process (VmHWM) in MiB.
func peakResidentMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return .nan }
    return kb / 1024
}

/// `morpho bench embed`: ResNet18 inference against PyTorch eager.
struct BenchEmbed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "ResNet18 inference (images/s) against PyTorch eager, same shapes, same thread count.",
        discussion: "Example: morpho bench embed --python /tmp/torchvenv/bin/python"
    )
    @OptionGroup var options: NetworkBenchOptions
    @Option(help: "Stem width of the ResNet18 (64: torchvision's).") var width = 64

    func run() throws {
        try Morpho.reportingErrors {
            guard width >= 4 else { throw MorphoError.config(key: "--width", problem: "need --width >= 4") }
            let (net, x) = try options.model(classes: 0, width: width)
            try net.prepareForInference(channelsLast: true)
            let rate = try options.imagesPerSecond { _ = try net.embed(x, taps: ["pool"]) }
            try options.compare(mode: "embed", morpho: rate, detail: "width \(width), folded batch norm, channels-last, no autograd",
                                extra: ["--width", "\(width)"])
        }
    }
}

/// `morpho bench train`: one ResNet18 training step (forward, cross-entropy, backward, SGD) against PyTorch.
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "ResNet18 training steps (images/s) against PyTorch eager, same shapes, same thread count.",
        discussion: """
        Example: morpho bench train --python /tmp/torchvenv/bin/python --batches 5
        The whole-image classifier of Pipelines/bbbc014-wholeimage-synthetic.yaml:
          morpho bench train --python /tmp/torchvenv/bin/python --width 16 --channels 2 --size 96 --batch-size 32 --classes 2
        """
    )
    @OptionGroup var options: NetworkBenchOptions
    @Option(help: "Stem width of the ResNet18 (64: the embedding network; whole-image pipelines set their own).") var width = 64
    @Option var classes = 12

    func run() throws {
        try Morpho.reportingErrors {
            guard classes >= 2, width >= 4 else { throw MorphoError.config(key: "--classes", problem: "need --classes >= 2 and --width >= 4") }
            let (net, x) = try options.model(classes: classes, width: width)
            let labels = try Tensor(indices: (0..<options.batchSize).map { $0 % classes })
            let optimizer = SGD(net, learningRate: 0.01, momentum: 0.9, weightDecay: 1e-4)
            net.channelsLast = true
            let rate = try options.imagesPerSecond {
                try Loss.crossEntropy(try net.logits(x, training: true), labels: labels).backward()
                try optimizer.step()
            }
            try options.compare(mode: "train", morpho: rate, detail: "width \(width), channels-last, SGD with momentum",
                                extra: ["--width", "\(width)", "--classes", "\(classes)"])
        }
    }
}

/// `morpho bench deepnoise`: DeepNoise training steps (Xception-style net, cosine head, ArcFace, AdamW) against
/// the same network in PyTorch.
struct BenchDeepNoise: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deepnoise",
        abstract: "DeepNoise training steps (images/s): Xception-style net + ArcFace + AdamW against the same network in PyTorch.",
        discussion: "Example: morpho bench deepnoise --python /tmp/torchvenv/bin/python --size 48 --channels 6 --batch-size 32 --batches 40"
    )
    @OptionGroup var options: NetworkBenchOptions
    @Option(help: "Stem width (16: normal, 24: wide).") var width = 16
    @Option(help: "xception, resnet18, resnet34 or resnet50 (the DeepNoise backbones).") var backbone = "xception"
    @Option var classes = 47

    func run() throws {
        try Morpho.reportingErrors {
            try Engine.setThreads(options.threads)
            let net = try DeepNoiseNetwork(backbone: backbone, inputChannels: options.channels, width: width, classes: classes, cosineHead: true, seed: 1)
            Engine.seed(1)
            let x = try Tensor.randn([options.batchSize, options.channels, options.size, options.size])
            let labels = try Tensor(indices: (0..<options.batchSize).map { $0 % classes })
            let optimizer = Adam(net, learningRate: 0.002, weightDecay: 1e-4, decoupled: true)
            let rate = try options.imagesPerSecond {
                try Loss.crossEntropy(try Loss.arcFaceLogits(try net(x, training: true), labels: labels), labels: labels).backward()
                try optimizer.step()
            }
            try options.compare(mode: "deepnoise", morpho: rate, detail: "\(backbone) width \(width), ArcFace, AdamW",
                                extra: ["--width", "\(width)", "--classes", "\(classes)", "--backbone", backbone])
        }
    }
}
