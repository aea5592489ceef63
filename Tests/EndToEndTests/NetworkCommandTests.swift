import Foundation
import MorphoCore
import MorphoIO
import MorphoTestSupport
import Testing

@Suite struct NetworkCommandTests {
    /// segment -> crop -> train (killed after one epoch, then resumed) -> embed with the trained model, a
    /// random one and a TorchScript file, all from the command line; h5py reads the model and embeddings.
    @Test func trainAndEmbedFromTheCommandLine() throws {
        let dir = TestPaths.temporaryDirectory("cli-network")
        defer { try? FileManager.default.removeItem(at: dir) }
        let screen = TinyScreen.folder
        let experiment = ["--bbbc021", screen.appendingPathComponent("image.csv").path, "--moa", screen.appendingPathComponent("moa.csv").path,
                          "--images", screen.appendingPathComponent("images").path]
        let loc = dir.appendingPathComponent("loc").path, crops = dir.appendingPathComponent("crops").path
        let model = dir.appendingPathComponent("model").path
        #expect(try MorphoBinary.run(["segment"] + experiment + ["--out", loc, "--quiet"]).status == 0)
        #expect(try MorphoBinary.run(["crop"] + experiment + ["--locations", loc, "--out", crops, "--box-size", "40", "--edge", "pad", "--quiet"]).status == 0)
        let train = ["train"] + experiment + ["--crops", crops, "--out", model, "--width", "4", "--epochs", "2", "--steps", "3", "--batch-size", "16", "--threads", "2"]
        let first = try MorphoBinary.run(train + ["--stop-after", "1"])
        #expect(first.status == 0 && first.stdout.contains("stopped after epoch 1 of 2"), "\(first.stderr)")
        #expect(first.stderr.contains("train: epoch 1/2 loss"))
        let resumed = try MorphoBinary.run(train)
        #expect(resumed.status == 0 && resumed.stderr.contains("resuming from epoch 1") && resumed.stdout.contains("model.h5"), "\(resumed.stderr)")

        let emb = dir.appendingPathComponent("emb").path
        let e = try MorphoBinary.run(["embed"] + experiment + ["--crops", crops, "--model", model + "/model.h5", "--taps", "layer2,pool",
                                                            "--out", emb, "--match", "--wells-csv", dir.appendingPathComponent("wells.csv").path])
        #expect(e.status == 0 && e.stdout.contains("NSC") && e.stderr.contains("cells/s"), "\(e.stderr)")
        let wells = try CSV.read(dir.appendingPathComponent("wells.csv"))
        #expect(wells.header.contains("Metadata_MoA") && wells.header.contains("layer2_0"))
        let random = try MorphoBinary.run(["embed"] + experiment + ["--crops", crops, "--random", "--width", "4", "--out", dir.appendingPathComponent("r").path, "--quiet"])
        #expect(random.status == 0, "\(random.stderr)")
        // The TorchScript fixture is a width-4 ResNet18 with 3 input channels.
        let script = TestPaths.repoRoot.appendingPathComponent("Tests/NeuralNetworkTests/Fixtures/resnet18_w4.pt").path
        let ts = try MorphoBinary.run(["embed"] + experiment + ["--crops", crops, "--model", script, "--width", "4", "--out", dir.appendingPathComponent("ts").path, "--quiet"])
        #expect(ts.status == 0 && ts.stdout.contains("cells"), "\(ts.stderr)")

        if Peers.available {
            let dump = try Peers.run([TestPaths.repoRoot.appendingPathComponent("scripts/h5py_dump.py").path,
                                      URL(fileURLWithPath: emb).appendingPathComponent("Week1_22123.h5").path])
            #expect(dump.contains("embeddings/pool"))
            let card = try Peers.run([TestPaths.repoRoot.appendingPathComponent("scripts/h5py_dump.py").path, model + "/model.h5"])
            #expect(card.contains("tensors/layer1.0.conv1.weight"))
        }
        let wrongWidth = try MorphoBinary.run(["embed"] + experiment + ["--crops", crops, "--model", script, "--width", "8", "--out", dir.appendingPathComponent("bad").path])
        #expect(wrongWidth.status == 1 && wrongWidth.stderr.contains("conv1.weight"), "\(wrongWidth.stderr)")
        let noModel = try MorphoBinary.run(["embed"] + experiment + ["--crops", crops, "--out", dir.appendingPathComponent("bad").path])
        #expect(noModel.status == 1 && noModel.stderr.contains("--random"))
    }
}
