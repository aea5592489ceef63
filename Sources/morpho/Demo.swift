import ArgumentParser
import Foundation
import MorphoCore
import Pipeline

/// `morpho demo`: the built-in example. Runs `Pipelines/quickstart.yaml`: a synthetic BBBC021-like screen
/// through illumination correction, segmentation, crops, a short weakly supervised training, embeddings,
/// TVN profiles and NSC/NSCB matching; prints the results and the report's path.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the built-in example: Pipelines/quickstart.yaml on a generated BBBC021-like screen, then print the MoA table."
    )

    @Option(help: "The pipeline to run.") var pipeline = "Pipelines/quickstart.yaml"
    @Option(name: .customLong("set"), help: "Override a setting: KEY.PATH=VALUE (repeatable).") var overrides: [String] = []
    @Flag(help: "No progress on stderr.") var quiet = false

    func run() throws {
        try Morpho.reportingErrors {
            let loaded = try Pipeline.load(URL(fileURLWithPath: pipeline), overrides: overrides)
            say("Morpho \(MorphoVersion.current) demo: \(pipeline) -> \(loaded.output.path)")
            say("stages: \(loaded.stages.map(\.name).joined(separator: " -> "))")
            var runner = PipelineRunner(pipeline: loaded)
            runner.progress = !quiet
            runner.log = { say($0) }
            let start = Date()
            try runner.run()
            say(String(format: "\nfinished in %.0f s (a rerun reuses every finished unit)", Date().timeIntervalSince(start)))
            let moa = loaded.output.appendingPathComponent("moa/moa.json")
            if let data = FileManager.default.contents(atPath: moa.path),
               let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] {
                say("\nMoA matching (1-NN, \(json["similarity"] ?? "")):")
                for p in ["NSC", "NSCB"] {
                    guard let r = json[p] as? [String: Any] else { continue }
                    let acc = (r["accuracy"] as? NSNumber).map { String(format: "%.3f", $0.doubleValue) }
                    say("  \(p.padding(toLength: 5, withPad: " ", startingAt: 0)) \(r["correct"] ?? 0)/\(r["scored"] ?? 0) = \(acc ?? "n/a (no treatment has a neighbour in another batch)")")
                }
                if let nsc = json["NSC"] as? [String: Any], let moas = nsc["moas"] as? [String], let per = nsc["perMoA"] as? [String: [String: Int]] {
                    for m in moas { say("    \(m.padding(toLength: 28, withPad: " ", startingAt: 0)) \(per[m]?["correct"] ?? 0)/\(per[m]?["scored"] ?? 0)") }
                }
            }
            say("\nreport: \(RunReport.url(run: loaded.output).path)")
        }
    }
}
