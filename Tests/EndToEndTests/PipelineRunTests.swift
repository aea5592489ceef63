import Foundation
import MorphoCore
import MorphoIO
import MorphoTestSupport
import NeuralNetwork
import Testing

/// A small pipeline over a tiny synthetic screen: every stage, a short training.
enum TinyPipeline {
    static func text(output: URL, threads: Int = 2) -> String {
        """
        name: tiny
        output: \(output.path)
        threads: \(threads)
        experiment:
          synthetic: {preset: tiny, seed: 3}
        stages:
          - illumination: {median_filter_size: 31}
          - segmentation: {save_labels: true}
          - crop: {box_size: 32, edge: pad}
          - train: {width: 4, epochs: 2, steps_per_epoch: 4, batch_size: 16, seed: 2}
          - embed: {taps: [layer2, pool]}
          - profile: {normalization: tvn-pca}
          - match: {}
        """
    }

    /// Writes the pipeline file for a run into `folder/run` and returns the file.
    static func file(in folder: URL, threads: Int = 2) throws -> URL {
        let url = folder.appendingPathComponent("tiny.yaml")
        try text(output: folder.appendingPathComponent("run"), threads: threads).write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// One finished run shared by the tests that only read it.
    static let finished: URL = {
        let dir = TestPaths.temporaryDirectory("pipeline-finished")
        let file = try! TinyPipeline.file(in: dir)
        let r = try! MorphoBinary.run(["run", file.path, "--quiet"])
        precondition(r.status == 0, "tiny pipeline failed: \(r.stderr)")
        return dir.appendingPathComponent("run")
    }()

    /// The embeddings of every plate of a run, as arrays.
    static func embeddings(_ run: URL) throws -> [[Float]] {
        try ["Week1_22123", "Week2_22223"].flatMap { plate -> [[Float]] in
            let file = try HDF5File(opening: run.appendingPathComponent("embeddings/\(plate).h5"))
            defer { file.close() }
            return try ["layer2", "pool"].map { try file.readItems("/embeddings/\($0)").values }
        }
    }
}

@Suite struct PipelineRunTests {
    @Test func fullRunThenEverythingIsReused() throws {
        let run = TinyPipeline.finished
        for f in ["manifest.json", "report.html", "moa/moa.json", "profiles/treatments.csv", "model/model.h5", "embeddings/Week2_22223.h5"] {
            #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent(f).path), "\(f)")
        }
        let again = try MorphoBinary.run(["run", run.deletingLastPathComponent().appendingPathComponent("tiny.yaml").path])
        #expect(again.status == 0, "\(again.stderr)")
        for stage in ["illumination", "segmentation", "crop", "embed"] {
            #expect(again.stderr.contains("\(stage): 0 unit(s) run, 2 up to date"), "\(stage): \(again.stderr)")
        }
        #expect(again.stderr.contains("train: 0 unit(s) run, 1 up to date") && again.stdout.contains("MoA matching: NSC"))
        // Threads change how fast, not what (DeterminismTests): no unit is redone for another count.
        let oneThread = try MorphoBinary.run(["run", run.deletingLastPathComponent().appendingPathComponent("tiny.yaml").path, "--set", "threads=1"])
        for stage in ["illumination", "segmentation", "crop", "train", "embed", "profile", "match"] {
            #expect(oneThread.stderr.contains("\(stage): 0 unit(s) run"), "\(stage): \(oneThread.stderr)")
        }
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("manifest.json"))) as! [String: Any]
        #expect((manifest["seeds"] as? [String: Any])?["stages.train"] as? Int == 2)
        let stages = manifest["stages"] as! [[String: Any]]
        #expect(stages.map { $0["stage"] as! String } == ["illumination", "segmentation", "crop", "train", "embed", "profile", "match"])
        let illum = (stages[0]["units"] as! [[String: Any]])[0]
        #expect(illum["inputs"] as? Int == 84 && (illum["inputs_hash"] as? String)?.count == 32)   // 28 fields x 3 channels
    }

    @Test func killedRunResumesWithIdenticalOutputs() throws {
        let dir = TestPaths.temporaryDirectory("pipeline-kill")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = try TinyPipeline.file(in: dir)
        let run = dir.appendingPathComponent("run")
        let process = Process()
        process.executableURL = MorphoBinary.url
        process.arguments = ["run", file.path, "--quiet"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let marker = run.appendingPathComponent("crops/Week1_22123.h5.done.json")
        while process.isRunning, !FileManager.default.fileExists(atPath: marker.path) { usleep(10_000) }
        // While it runs (stopped, so it cannot finish first), a second run on the folder is refused,
        // naming the holder; a single-stage unit run is refused too.
        kill(process.processIdentifier, SIGSTOP)
        for extra in [[], ["--stage", "segmentation", "--plates", "Week1_22123"]] {
            let second = try MorphoBinary.run(["run", file.path, "--quiet"] + extra)
            #expect(second.status == 1 && second.stderr.contains("in use by another morpho run (PID \(process.processIdentifier): ")
                    && second.stderr.contains("tiny.yaml"), "\(second.stderr)")
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the run finished before it could be killed")
        #expect(!FileManager.default.fileExists(atPath: run.appendingPathComponent("manifest.json").path))

        let resumed = try MorphoBinary.run(["run", file.path])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("illumination: 0 unit(s) run, 2 up to date"), "\(resumed.stderr)")
        let reference = TinyPipeline.finished
        for f in ["profiles/treatments.csv", "moa/moa.json", "locations/Week2_22223.csv"] {
            #expect(try Data(contentsOf: run.appendingPathComponent(f)) == Data(contentsOf: reference.appendingPathComponent(f)), "\(f) differs")
        }
        #expect(try TinyPipeline.embeddings(run) == TinyPipeline.embeddings(reference))
    }

    @Test func aBadImageStopsTheRunNamingStageAndFileThenTheRunResumes() throws {
        let dir = TestPaths.temporaryDirectory("pipeline-bad")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = try TinyPipeline.file(in: dir)
        #expect(try MorphoBinary.run(["run", file.path, "--until", "illumination", "--quiet"]).status == 0)
        let images = dir.appendingPathComponent("run/screen/images")
        let victim = try FileManager.default.subpathsOfDirectory(atPath: images.path).filter { $0.contains("Week2") && $0.hasSuffix(".tif") }.sorted()[0]
        try Data("not a tiff".utf8).write(to: images.appendingPathComponent(victim))
        let bad = try MorphoBinary.run(["run", file.path, "--quiet"])
        #expect(bad.status == 1 && bad.stderr.contains("stage illumination") && bad.stderr.contains((victim as NSString).lastPathComponent), "\(bad.stderr)")
        // Removing the broken file lets the generator render it again; only the broken plate is redone.
        try FileManager.default.removeItem(at: images.appendingPathComponent(victim))
        let fixed = try MorphoBinary.run(["run", file.path, "--until", "segmentation"])
        #expect(fixed.status == 0 && fixed.stderr.contains("illumination: 0 unit(s) run, 2 up to date"), "\(fixed.stderr)")
    }

    /// `morpho table` and `morpho profile` read Morpho's own embeddings files: one row per cell, its
    /// metadata, and every layer's embedding as features (layer2_*, pool_*), values as stored.
    @Test func tableAndProfileReadTheEmbeddingsFiles() throws {
        let run = TinyPipeline.finished
        let dir = TestPaths.temporaryDirectory("embeddings-table")
        let plate = run.appendingPathComponent("embeddings/Week1_22123.h5").path, cells = dir.appendingPathComponent("cells.csv")
        let t = try MorphoBinary.run(["table", plate, "--out", cells.path])
        #expect(t.status == 0, "\(t.stderr)")
        let table = try FeatureTableCSV.read(cells)
        let file = try HDF5File(opening: URL(fileURLWithPath: plate))
        let layer2 = try file.readItems("/embeddings/layer2"), pool = try file.readItems("/embeddings/pool")
        file.close()
        let (n, d2, dp) = (layer2.shape[0], layer2.shape[1], pool.shape[1])
        #expect(table.rowCount == n && table.featureNames.first == "layer2_0" && table.featureNames.last == "pool_\(dp - 1)")
        #expect(table.metadataNames.contains("Metadata_Well") && table.metadataNames.contains("Metadata_Nuclei_Location_Center_X"))
        #expect(table[row: n - 1, feature: 0] == layer2.values[(n - 1) * d2] && table[row: n - 1, feature: d2] == pool.values[(n - 1) * dp])
        let wells = dir.appendingPathComponent("wells.csv")
        let p = try MorphoBinary.run(["profile", plate, "--aggregate-by", "Metadata_Plate,Metadata_Well", "--normalization", "none",
                                      "--treatment-by", "none", "--out", wells.path])
        #expect(p.status == 0, "\(p.stderr)")
        let wellRows = try FeatureTableCSV.read(wells).rowCount
        #expect(wellRows == Set(table.metadataColumn("Metadata_Well")!.texts).count)
    }

    @Test func reportRendersInChromiumWithEveryImage() throws {
        let report = TinyPipeline.finished.appendingPathComponent("report.html")
        let html = try String(contentsOf: report, encoding: .utf8)
        for section in ["Pipeline", "Nuclei per well", "Field QC", "Segmentation", "Illumination functions", "Mechanism-of-action matching", "Treatment profiles"] {
            #expect(html.contains(section), "\(section)")
        }
        #expect(!html.contains("http://") || !html.contains("src=\"http"), "the report must not load anything from the network")
        guard let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            #expect(!Peers.required, "make test installs chromium; it is missing")
            return
        }
        let r = try runProcessCapturing(URL(fileURLWithPath: chromium), ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                                                                        "--dump-dom", report.absoluteString])
        let images = html.components(separatedBy: "<img ").count - 1
        #expect(images >= 6)   // 3 fields + 3 illumination functions
        #expect(r.stdout.contains("data-images=\"\(images)/\(images)\""), "rendered DOM: \(r.stdout.prefix(300)) \(r.stderr.suffix(300))")
        // Plate maps (nuclei, focus, saturation when any), MoA bars, confusion, PCA: every one renders.
        let svgs = html.components(separatedBy: "<svg ").count - 1
        #expect(svgs >= 7 && r.stdout.contains("data-svgs=\"\(svgs)\""), "\(svgs)")
    }
}

@Suite struct WorkflowEngineTests {
    /// The Snakefile runs every unit as its own `morpho run` job and gives what `morpho run` gives.
    @Test func snakemakeRunEqualsMorphoRun() throws {
        guard let python = Peers.python, FileManager.default.isExecutableFile(atPath: python.deletingLastPathComponent().appendingPathComponent("snakemake").path) else {
            #expect(!Peers.required, "make test installs snakemake into the test venv; it is missing")
            return
        }
        let dir = TestPaths.temporaryDirectory("snakemake")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = try TinyPipeline.file(in: dir)
        let snakemake = python.deletingLastPathComponent().appendingPathComponent("snakemake")
        let r = try runProcessCapturing(snakemake, ["-s", TestPaths.repoRoot.appendingPathComponent("Pipelines/Snakefile").path, "--cores", "2",
                                                    "--directory", dir.path, "--config", "pipeline=\(file.path)", "morpho=\(MorphoBinary.url.path)"])
        #expect(r.status == 0, "\(r.stderr.suffix(2000))")
        #expect(r.stderr.contains("13 of 13 steps (100%) done"), "\(r.stderr.suffix(1000))")   // 2+2+2+1+2+1+1 units and the finish
        let run = dir.appendingPathComponent("run"), reference = TinyPipeline.finished
        for f in ["profiles/treatments.csv", "moa/moa.json", "locations/Week1_22123.csv"] {
            #expect(try Data(contentsOf: run.appendingPathComponent(f)) == Data(contentsOf: reference.appendingPathComponent(f)), "\(f) differs")
        }
        #expect(try TinyPipeline.embeddings(run) == TinyPipeline.embeddings(reference))
        #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent("report.html").path))
        // Without --config morpho and without morpho on PATH, the Snakefile finds the binary this
        // repository built (a dry run plans every unit through it).
        let dry = try runProcessCapturing(URL(fileURLWithPath: "/usr/bin/env"),
                                          ["PATH=/usr/bin:/bin", snakemake.path, "-n", "-s", TestPaths.repoRoot.appendingPathComponent("Pipelines/Snakefile").path,
                                           "--cores", "1", "--directory", dir.path, "--config", "pipeline=\(file.path)", "set=output=\(dir.path)/dry"])
        #expect(dry.status == 0 && (dry.stdout + dry.stderr).contains("finish"), "\(dry.stdout.suffix(1000)) \(dry.stderr.suffix(1000))")
    }
}

@Suite struct QuickstartTests {
    /// The shipped demo pipeline (on the tiny screen, one short epoch) runs, and both notebooks execute against its run folder.
    @Test func quickstartPipelineRunsAndTheNotebooksExecuteOnIt() throws {
        let dir = TestPaths.temporaryDirectory("quickstart")
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = dir.appendingPathComponent("run")
        let r = try MorphoBinary.run(["run", "Pipelines/quickstart.yaml", "--quiet", "--set", "experiment.synthetic.preset=tiny",
                                      "--set", "output=\(run.path)", "--set", "stages.train.epochs=1", "--set", "stages.crop.box_size=32"])
        #expect(r.status == 0 && r.stdout.contains("MoA matching: NSC"), "\(r.stderr)")
        guard let python = Peers.python, Peers.available else {
            #expect(!Peers.required, "the notebooks need the test venv")
            return
        }
        for notebook in ["qc_and_illumination", "embeddings_and_moa"] {
            let path = TestPaths.repoRoot.appendingPathComponent("Notebooks/\(notebook).ipynb").path
            let e = try runProcessCapturing(URL(fileURLWithPath: "/usr/bin/env"), ["MORPHO_RUN=\(run.path)", python.path, "-c", """
                import nbformat, nbclient, sys
                nb = nbformat.read(sys.argv[1], 4)
                nbclient.NotebookClient(nb, timeout=300, kernel_name="python3").execute()
                images = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
                print("executed", sys.argv[1], "images", images)
                """, path], cwd: dir)
            #expect(e.status == 0 && e.stdout.contains("executed"), "\(notebook): \(e.stderr.suffix(2000))")
            #expect(!e.stdout.contains("images 0"), "\(notebook) drew no figure")
        }
    }
}

@Suite struct BBBC021PipelineTests {
    /// bbbc021-cellprofiler.yaml on the real per-well profiles gives what `morpho profile` + `morpho match` give.
    @Test func cellProfilerPipelineMatchesTheProfileAndMatchCommands() throws {
        let dir = TestPaths.temporaryDirectory("bbbc021-cp")
        defer { try? FileManager.default.removeItem(at: dir) }
        let shared = TestPaths.bbbc021.path
        let r = try MorphoBinary.run(["run", "Pipelines/bbbc021-cellprofiler.yaml", "--quiet", "--set", "output=\(dir.appendingPathComponent("run").path)",
                                      "--set", "experiment.bbbc021.image_csv=\(shared)/BBBC021_v1_image.csv.gz",
                                      "--set", "experiment.bbbc021.moa_csv=\(shared)/BBBC021_v1_moa.csv",
                                      "--set", "stages.profile.table=\(shared)/ljosa2013_per_well_mean.csv.gz"])
        #expect(r.status == 0, "\(r.stderr)")
        let wells = dir.appendingPathComponent("wells.csv").path, moa = dir.appendingPathComponent("moa.json").path
        // The commands' defaults are the pipeline's (normalization, shrinkage, similarity): only what the
        // pipeline file sets is given.
        #expect(try MorphoBinary.run(["profile", TestPaths.ljosaProfiles.path, "--bbbc021", shared,
                                      "--align-batches", "Metadata_Batch", "--select", "--treatment-by", "none", "--out", wells]).status == 0)
        #expect(try MorphoBinary.run(["match", wells, "--out", moa]).status == 0)
        let a = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("run/moa/moa.json"))) as! [String: Any]
        let b = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: moa))) as! [String: Any]
        for p in ["NSC", "NSCB"] {
            let x = a[p] as! [String: Any], y = b[p] as! [String: Any]
            #expect(x["correct"] as? Int == y["correct"] as? Int && x["scored"] as? Int == y["scored"] as? Int, "\(p)")
        }
        #expect((a["NSC"] as! [String: Any])["scored"] as? Int == 103)   // the 103 annotated treatments
        #expect(r.stdout.contains("MoA matching: NSC 0.8"), "\(r.stdout)")
    }
}

@Suite struct ClassifyPipelineTests {
    /// The shipped DeepNoise pipeline on the tiny RxRx1-like screen (short training): predictions per
    /// well and per image, held-out accuracy in the metrics and the report, and a rerun that trains nothing.
    @Test func deepNoisePipelineWritesPredictionsAndResumes() throws {
        let dir = TestPaths.temporaryDirectory("classify")
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = dir.appendingPathComponent("run")
        let args = ["run", "Pipelines/rxrx1-deepnoise.yaml", "--quiet", "--set", "experiment.rxrx1.synthetic.preset=tiny",
                    "--set", "output=\(run.path)", "--set", "stages.classify.epochs=3", "--set", "stages.classify.width=8",
                    "--set", "stages.classify.wide_width=8", "--set", "stages.classify.pseudo_labels=true",
                    "--set", "stages.classify.pseudo_label_epochs=1"]
        let r = try MorphoBinary.run(args)
        #expect(r.status == 0, "\(r.stderr)")
        let wells = try CSV.read(run.appendingPathComponent("predictions/wells.csv"))
        // tiny: 2 cell types x 2 experiments x 4 plates x (4 treatments + 4 controls + 1 untreated).
        #expect(wells.rowCount == 2 * 2 * 4 * 9)
        let sets = try wells.column("set"), types = try wells.column("well_type"), predicted = try wells.column("predicted")
        let testTreatments = wells.rowCount > 0 ? (0..<wells.rowCount).filter { sets[$0] == "test" && types[$0] == "treatment" } : []
        #expect(testTreatments.count == 32)
        // Post-processing gives each test plate's treatment wells distinct classes.
        let plates = try wells.column("experiment").indices.map { try "\(wells.column("experiment")[$0])/\(wells.column("plate")[$0])" }
        for plate in Set(testTreatments.map { plates[$0] }) {
            let classes = testTreatments.filter { plates[$0] == plate }.map { predicted[$0] }
            #expect(Set(classes).count == classes.count, "plate \(plate): \(classes)")
        }
        let images = try CSV.read(run.appendingPathComponent("predictions/images.csv"))
        #expect(images.rowCount == wells.rowCount)  // tiny: one site per well
        let metrics = try JSONDecoder().decode([String: Double].self, from: Data(contentsOf: run.appendingPathComponent("predictions/metrics.json")))
        #expect((0...1).contains(metrics["accuracy"] ?? -1) && (0...1).contains(metrics["accuracy_raw"] ?? -1))
        #expect(metrics["pseudo_labelled_wells"] == 32)
        let report = try String(contentsOf: run.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(report.contains("classify") && report.contains("accuracy"))
        // Both ensemble members leave a checkpoint of their last epoch (what a crashed run resumes from),
        // and one of their pseudo-label round.
        for member in 1...2 {
            for (suffix, epochs) in [("", 3), ("-pseudo", 1)] {
                let state = Checkpoint.trainingState(run.appendingPathComponent("predictions/checkpoints/deepnoise-model\(member)-w8\(suffix).h5"))
                #expect(state?.contains("\"epochsDone\":\(epochs)") == true, "model \(member)\(suffix): \(state ?? "no checkpoint")")
            }
        }
        let again = try MorphoBinary.run(args)
        #expect(again.status == 0 && again.stderr.contains("classify: 0 unit(s) run, 1 up to date"), "\(again.stderr)")
    }
}

@Suite struct WholeImagePipelineTests {
    /// The shipped synthetic whole-image pipeline, shrunk (2 plates of 2 batches, 2 compounds, 1 epoch):
    /// its units are the tiles and one fold per compound and holdout, each runnable alone; a full run
    /// writes the per-treatment predictions, conformal sets and metrics, and a rerun trains nothing.
    @Test func wholeImagePipelineRunsFoldsAsUnits() throws {
        let dir = TestPaths.temporaryDirectory("wholeimage")
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = dir.appendingPathComponent("run")
        let shared = TestPaths.bbbc021.path
        let args = ["run", "Pipelines/bbbc021-wholeimage-synthetic.yaml", "--quiet", "--set", "output=\(run.path)",
                    "--set", "experiment.plates=[Week1_22123,Week2_24121]", "--set", "experiment.synthetic.field_width=128",
                    "--set", "experiment.synthetic.field_height=128", "--set", "experiment.synthetic.cells_per_field=10",
                    "--set", "experiment.synthetic.layout.max_sites=1",
                    "--set", "experiment.synthetic.layout.image_csv=\(shared)/BBBC021_v1_image.csv.gz",
                    "--set", "experiment.synthetic.layout.moa_csv=\(shared)/BBBC021_v1_moa.csv",
                    "--set", "stages.classify.compounds=[cytochalasin B,ALLN]", "--set", "stages.classify.input_size=32",
                    "--set", "stages.classify.width=4", "--set", "stages.classify.epochs=1", "--set", "stages.classify.batch_size=8"]
        let plan = try MorphoBinary.run(args + ["--list-units"])
        #expect(plan.status == 0, "\(plan.stderr)")
        let units = try JSONDecoder().decode(UnitPlanView.self, from: Data(plan.stdout.utf8)).units
        #expect(units.map(\.unit) == ["tiles", "nsc-ALLN", "nsc-cytochalasin_B", "nscb-ALLN", "nscb-cytochalasin_B"])
        #expect(units[1].arguments == ["--stage", "classify", "--units", "nsc-ALLN"] && units[1].needs == [units[0].done])

        // One fold alone (it makes the tiles it needs first), then the full run reuses both.
        let one = try MorphoBinary.run(args + ["--stage", "classify", "--units", "nsc-ALLN"])
        #expect(one.status == 0, "\(one.stderr)")
        #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent("predictions/folds/nsc-ALLN.csv").path))
        #expect(!FileManager.default.fileExists(atPath: run.appendingPathComponent("predictions/metrics.json").path))
        let bad = try MorphoBinary.run(args + ["--stage", "classify", "--units", "nsc-aspirin"])
        #expect(bad.status != 0 && bad.stderr.contains("no unit 'nsc-aspirin'"), "\(bad.stderr)")

        let full = try MorphoBinary.run(args)
        #expect(full.status == 0, "\(full.stderr)")
        let treatments = try CSV.read(run.appendingPathComponent("predictions/treatments.csv"))
        // ALLN (Protein degradation, Week2) and cytochalasin B (Actin disruptors, Week1): 1 and 2 annotated doses here.
        let compounds = try treatments.column("compound"), holdouts = try treatments.column("holdout")
        #expect(Set(compounds) == ["ALLN", "cytochalasin B"] && Set(holdouts) == ["nsc", "nscb"])
        // With one or two calibration treatments per fold no finite threshold reaches 90%: every set is every class
        // (the mechanisms of these two plates).
        let classes = try CSV.read(run.appendingPathComponent("predictions/confusion_nsc.csv")).header.count - 1
        #expect(classes >= 4 && classes < 12)
        let sets = try treatments.column("conformal_set"), moas = try treatments.column("moa"), scored = try treatments.column("scored")
        for i in 0..<treatments.rowCount where scored[i] == "yes" {
            #expect(sets[i].split(separator: ";").count == classes && sets[i].contains(moas[i]), "\(sets[i])")
        }
        let conformal = try CSV.read(run.appendingPathComponent("predictions/conformal.csv"))
        #expect(conformal.rowCount >= 2)
        let metrics = try JSONDecoder().decode([String: Double].self, from: Data(contentsOf: run.appendingPathComponent("predictions/metrics.json")))
        #expect((0...1).contains(metrics["nsc_treatment_accuracy"] ?? -1) && (0...1).contains(metrics["nsc_image_accuracy"] ?? -1))
        #expect(metrics["coverage_target"] == 0.9)
        #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent("predictions/confusion_nsc.csv").path))
        // Accuracy by dose effect (the screen's truth table): its "all" row agrees with treatments.csv.
        if Peers.available {
            let predicted = try treatments.column("predicted")
            for holdout in ["nsc", "nscb"] {
                let rows = (0..<treatments.rowCount).filter { holdouts[$0] == holdout && scored[$0] == "yes" }
                let output = try Peers.run(["scripts/accuracy_by_effect.py", run.path])
                let fields: [[Substring]] = output.split(separator: "\n").map { $0.split(separator: " ") }
                let line = fields.first { $0.count >= 3 && $0[0] == holdout && $0[1] == "all" }
                let correct = rows.filter { predicted[$0] == moas[$0] }.count
                #expect(line.map { String($0[2]) } == "\(correct)/\(rows.count)", "\(output)")
            }
        }
        let again = try MorphoBinary.run(args)
        #expect(again.status == 0 && again.stderr.contains("classify: 0 unit(s) run, 5 up to date"), "\(again.stderr)")
    }

    /// The shipped synthetic BBBC014 pipeline, shrunk (128 x 96 fields, 4 tiles, a width-8 ResNet18, 10 epochs):
    /// the units are the tiles and one fold per cell line; trained on one cell line, the network tells the four
    /// highest TNF-alpha doses of the other from the four lowest (chance 0.5); a rerun trains nothing.
    @Test func translocationPipelineLeavesOneCellLineOut() throws {
        let dir = TestPaths.temporaryDirectory("bbbc014")
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = dir.appendingPathComponent("run")
        let args = ["run", "Pipelines/bbbc014-wholeimage-synthetic.yaml", "--quiet", "--set", "output=\(run.path)",
                    "--set", "experiment.bbbc014.synthetic.field_width=128", "--set", "experiment.bbbc014.synthetic.field_height=96",
                    "--set", "experiment.bbbc014.synthetic.cells_per_field=8", "--set", "stages.classify.tiles=4",
                    "--set", "stages.classify.input_size=64", "--set", "stages.classify.width=8", "--set", "stages.classify.batch_size=16"]
        let plan = try MorphoBinary.run(args + ["--list-units"])
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(try JSONDecoder().decode(UnitPlanView.self, from: Data(plan.stdout.utf8)).units.map(\.unit) == ["tiles", "batch-A549", "batch-MCF7"])
        let full = try MorphoBinary.run(args)
        #expect(full.status == 0, "\(full.stderr)")
        #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent("screen/images/Channel2-96-H-12.BMP").path))
        let treatments = try CSV.read(run.appendingPathComponent("predictions/treatments.csv"))
        let folds = try treatments.column("fold"), moas = try treatments.column("moa")
        #expect(treatments.rowCount == 16 && Set(folds) == ["batch-A549", "batch-MCF7"] && Set(moas) == ["nuclear", "cytoplasmic"])
        let metrics = try JSONDecoder().decode([String: Double].self, from: Data(contentsOf: run.appendingPathComponent("predictions/metrics.json")))
        #expect((metrics["batch_treatment_accuracy"] ?? 0) >= 0.75 && (metrics["batch_image_accuracy"] ?? 0) >= 0.75, "\(metrics)")
        let again = try MorphoBinary.run(args)
        #expect(again.status == 0 && again.stderr.contains("classify: 0 unit(s) run, 3 up to date"), "\(again.stderr)")
    }

    struct UnitPlanView: Decodable {
        struct Unit: Decodable { var unit: String; var done: String; var needs: [String]; var arguments: [String] }
        var units: [Unit]
    }
}

@Suite struct RealPlatePipelineTests {
    /// `morpho run` on a JUMP-style LoadData CSV: the real JUMP field and a blank field. The run
    /// finishes, drops the blank field by QC and says so; plate, batch and channel names carrying
    /// markup reach report.html escaped.
    @Test func blankFieldIsDroppedAndMarkupInMetadataIsEscaped() throws {
        let dir = TestPaths.temporaryDirectory("pipeline-jump")
        let jump = TestPaths.realData.appendingPathComponent("jump_cpg0000_A01_1").path
        try TIFF.write(Image(width: 1080, height: 1080, value: 120, bitDepth: .uint16), to: dir.appendingPathComponent("blank.tif"))
        try TIFF.write(Image(width: 1080, height: 1080, value: 65535, bitDepth: .uint16), to: dir.appendingPathComponent("clipped.tif"))
        let plate = "BR<img src=x onerror=alert(1)>", batch = "<script>alert('batch')</script>", other = "AGP<b onmouseover=alert(2)>"
        let header = "Metadata_Batch,Metadata_Plate,Metadata_Well,Metadata_Site,FileName_OrigDNA,PathName_OrigDNA,FileName_\(other),PathName_\(other)"
        let rows = ["\"\(batch)\",\"\(plate)\",A01,1,r01c01f01p01-ch5sk1fk1fl1.tiff,\(jump),r01c01f01p01-ch1sk1fk1fl1.tiff,\(jump)",
                    "\"\(batch)\",\"\(plate)\",A02,1,blank.tif,\(dir.path),blank.tif,\(dir.path)",
                    "\"\(batch)\",\"\(plate)\",A03,1,clipped.tif,\(dir.path),clipped.tif,\(dir.path)"]
        let csv = dir.appendingPathComponent("load_data.csv")
        try Data(([header] + rows).joined(separator: "\n").utf8 + Data("\n".utf8)).write(to: csv)
        let yaml = dir.appendingPathComponent("jump.yaml")
        try """
        name: jump
        output: \(dir.appendingPathComponent("run").path)
        experiment:
          loaddata: {csv: \(csv.path)}
        stages:
          - illumination: {median_filter_size: 31}
          - segmentation: {save_labels: true}
        """.write(to: yaml, atomically: true, encoding: .utf8)
        let r = try MorphoBinary.run(["run", yaml.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect((r.stdout + r.stderr).contains("2 fields dropped by QC (2 empty)"), "\(r.stdout)\n\(r.stderr)")
        let fields = try CSV.read(dir.appendingPathComponent("run/locations/\(plate)_fields.csv"))
        #expect(try fields.column("QC_Flags") == ["", "empty", "empty;saturated"] && fields.column("Count_Nuclei")[1...] == ["0", "0"])
        let report = try String(contentsOf: dir.appendingPathComponent("run/report.html"), encoding: .utf8)
        for raw in [plate, batch, other, "<script>alert", "<img src=x", "<b onmouseover"] { #expect(!report.contains(raw), "\(raw)") }
        #expect(report.contains("&lt;script&gt;alert(&#39;batch&#39;)&lt;/script&gt;") && report.contains("BR&lt;img src=x onerror=alert(1)&gt;"))
        // The QC table says which fields were dropped and why; focus and saturation maps per plate.
        #expect(report.contains("<h3>Field QC</h3>") && report.contains("<td>2 (2 empty)</td>") && report.contains("median focus per well")
                && report.contains("saturated fraction per well"), "\(report)")
    }
}
