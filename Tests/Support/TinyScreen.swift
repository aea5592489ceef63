import Foundation
import MorphoCore
import MorphoIO
import Synthetic

/// A tiny synthetic screen (preset `tiny`) generated once per test process and shared by read-only tests.
public enum TinyScreen {
    public static let config = try! SyntheticConfig.preset("tiny")
    public static let folder: URL = {
        let out = TestPaths.temporaryDirectory("tiny")
        try! ScreenWriter(config: config, design: ScreenDesign.make(config), source: "synthetic").write(to: out, progress: false)
        return out
    }()

    public static func read() throws -> Experiment {
        try BBBC021Layout.read(imageCSV: folder.appendingPathComponent("image.csv"), moaCSV: folder.appendingPathComponent("moa.csv"),
                               options: .init(imageRoot: folder.appendingPathComponent("images"), checkFiles: true)).0
    }
}
