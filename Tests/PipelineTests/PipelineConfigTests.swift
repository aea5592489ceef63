import Foundation
import MorphoCore
import MorphoTestSupport
import Pipeline
import Testing

@Suite struct PipelineConfigTests {
    let file = URL(fileURLWithPath: "/tmp/test.yaml")

    func parse(_ text: String, overrides: [String] = []) throws -> Pipeline {
        try Pipeline.parse(text, file: file, overrides: overrides)
    }

    static let base = """
    name: t
    output: /tmp/run
    experiment:
      synthetic: {preset: tiny, seed: 3}
    stages:
      - illumination: {median_filter_size: 31}
      - segmentation:
          min_diameter: 6
      - crop: {box_size: 32}
      - embed: {model: random, width: 4}
      - profile: {}
      - match: {similarity: pearson}
    """

    func config(_ p: Pipeline, _ stage: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: p.stages.first { $0.name == stage }!.configJSON) as! [String: Any]
    }

    @Test func settingsOverrideDefaults() throws {
        let p = try parse(Self.base)
        #expect(p.stages.map(\.name) == ["illumination", "segmentation", "crop", "embed", "profile", "match"])
        #expect(try config(p, "illumination")["median_filter_size"] as? Int == 31)
        #expect(try config(p, "illumination")["downscale"] as? Int == 4)          // default kept
        #expect(try config(p, "segmentation")["min_diameter"] as? Double == 6)
        #expect(try config(p, "segmentation")["save_labels"] as? Bool == false)   // pipeline-only setting
        #expect(try config(p, "match")["similarity"] as? String == "pearson")
        guard case .synthetic(let s, _) = p.source else { Issue.record("not synthetic"); return }
        #expect(s.seed == 3 && s.fieldWidth == 256)
    }

    func error(_ text: String, overrides: [String] = []) -> String {
        do { _ = try parse(text, overrides: overrides); return "no error" } catch { return "\(error)" }
    }

    /// Nested aliases ("billion laughs": 542 bytes that expand to 10^9 strings) are refused at once,
    /// as are anchors anywhere, in the file or in an override.
    @Test func anchorsAndAliasesAreRefused() {
        let inner = ["&a0 [x, x, x, x, x, x, x, x, x, x]"] + (1..<9).map { k in "&a\(k) [" + Array(repeating: "*a\(k - 1)", count: 10).joined(separator: ", ") + "]" }
        let bomb = Self.base.replacingOccurrences(of: "min_diameter: 6", with: "drop_flagged: [\(inner.joined(separator: ", "))]")
        let e = error(bomb)
        #expect(e.contains("anchors and aliases") && e.contains("&a0") && e.contains("line 8"), "\(e)")
        let o = error(Self.base, overrides: ["stages.segmentation.drop_flagged=[&x empty, *x]"])
        #expect(o.contains("anchors and aliases"), "\(o)")
    }

    @Test func nonUTF8PipelineFilesAreNamedErrors() throws {
        let file = TestPaths.temporaryDirectory("yaml-latin1").appendingPathComponent("p.yaml")
        try (Data("name: t\noutput: /tmp/caf".utf8) + Data([0xE9]) + Data("\n".utf8)).write(to: file)
        do { _ = try Pipeline.load(file); Issue.record("loaded") } catch {
            #expect("\(error)".contains("p.yaml") && "\(error)".contains("line 2, byte offset 24 is not UTF-8"), "\(error)")
        }
    }

    /// An empty `output:` (which wrote into the working folder) and one naming a file are errors
    /// naming the key and line.
    @Test func outputMustNameAFolder() throws {
        for empty in ["output:", "output: ''"] {
            let e = error(Self.base.replacingOccurrences(of: "output: /tmp/run", with: empty))
            #expect(e.contains("'output'") && e.contains("line 2") && e.contains("empty"), "\(e)")
        }
        let file = TestPaths.temporaryDirectory("output-file").appendingPathComponent("run.txt")
        try Data("x".utf8).write(to: file)
        let e = error(Self.base.replacingOccurrences(of: "output: /tmp/run", with: "output: \(file.path)"))
        #expect(e.contains("'output'") && e.contains("is a file"), "\(e)")
    }

    @Test func unknownKeysNameTheKeyAndLine() {
        let e = error(Self.base.replacingOccurrences(of: "min_diameter: 6", with: "min_diametre: 6"))
        #expect(e.contains("stages.segmentation.min_diametre") && e.contains("line 8") && e.contains("unknown key") && e.contains("min_diameter"), "\(e)")
        let top = error(Self.base + "\nthreds: 2")
        #expect(top.contains("threds") && top.contains("line 13"), "\(top)")
        let exp = error(Self.base.replacingOccurrences(of: "seed: 3", with: "sead: 3"))
        #expect(exp.contains("experiment.synthetic.sead") && exp.contains("line 4"), "\(exp)")
    }

    @Test func wrongTypesNameTheKeyAndLine() {
        let e = error(Self.base.replacingOccurrences(of: "box_size: 32", with: "box_size: big"))
        #expect(e.contains("stages.crop.box_size") && e.contains("line 9") && e.contains("integer"), "\(e)")
        let b = error(Self.base.replacingOccurrences(of: "{median_filter_size: 31}", with: "{median_filter_size: [1, 2]}"))
        #expect(b.contains("median_filter_size") && b.contains("line 6"), "\(b)")
        let enumValue = error(Self.base.replacingOccurrences(of: "pearson", with: "euclid"))
        #expect(enumValue.contains("stages.match.similarity") && enumValue.contains("line 12") && enumValue.contains("invalid"), "\(enumValue)")
        let null = error(Self.base.replacingOccurrences(of: "min_diameter: 6", with: "min_diameter:"))
        #expect(null.contains("min_diameter") && null.contains("no value"), "\(null)")
    }

    @Test func stagesMustBeKnownOnceAndFed() {
        #expect(error(Self.base.replacingOccurrences(of: "- crop:", with: "- cropp:")).contains("unknown stage"))
        #expect(error(Self.base + "\n  - match: {}").contains("listed twice"))
        let fed = error(Self.base.replacingOccurrences(of: "  - segmentation:\n      min_diameter: 6\n", with: ""))
        #expect(fed.contains("stages.crop") && fed.contains("needs locations"), "\(fed)")
        // A trained model needs a train stage before the embed stage.
        #expect(error(Self.base.replacingOccurrences(of: "model: random", with: "model: trained")).contains("needs model"))
        #expect(error(Self.base.replacingOccurrences(of: "output: /tmp/run\n", with: "")).contains("output"))
        #expect(error("a: [").contains("not valid YAML"))
    }

    @Test func overridesSetKeysByPathAndStageName() throws {
        let p = try parse(Self.base, overrides: ["stages.crop.box_size=40", "output=/tmp/other", "experiment.synthetic.seed=9", "stages.train.epochs=1"].dropLast())
        #expect(try config(p, "crop")["box_size"] as? Int == 40)
        #expect(p.output.path == "/tmp/other")
        guard case .synthetic(let s, _) = p.source else { Issue.record("not synthetic"); return }
        #expect(s.seed == 9)
        #expect(error(Self.base, overrides: ["stages.train.epochs=1"]).contains("no stage 'train'"))
        #expect(error(Self.base, overrides: ["stages.crop.box_size=x"]).contains("stages.crop.box_size"))
    }

    @Test func validationNamesTheKey() {
        let e = error(Self.base.replacingOccurrences(of: "profile: {}", with: "profile: {normalization: whiten}"))
        #expect(e.contains("stages.profile.normalization") && e.contains("whiten"), "\(e)")
    }
}

@Suite struct ContentHashTests {
    @Test func sameBytesSameHashAnyChunking() {
        var bytes = [UInt8]()
        var rng = SeededGenerator(seed: 5)
        for _ in 0..<1001 { bytes.append(UInt8.random(in: 0...255, using: &rng)) }
        let whole = ContentHash.of(Data(bytes))
        #expect(whole.count == 32)
        for cut in [1, 7, 8, 9, 500, 1000] {
            var h = ContentHash.Hasher()
            h.update(Data(bytes[..<cut])); h.update(Data(bytes[cut...]))
            #expect(h.digest() == whole, "split at \(cut)")
        }
        var changed = bytes
        changed[999] ^= 1
        #expect(ContentHash.of(Data(changed)) != whole)
        #expect(ContentHash.of(Data(bytes + [0])) != whole)   // a trailing zero byte is not padding
        #expect(ContentHash.of(Data()) != ContentHash.of(Data([0])))
    }

    @Test func unitKeysFollowContentNotTimes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("morpho-hash-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in.bin"), output = dir.appendingPathComponent("out.bin")
        try Data([1, 2, 3]).write(to: input)
        let k1 = try UnitKey(config: ["a": 1], inputs: [input], output: output)
        try Data().write(to: output)
        try k1.finish(stage: "s", unit: "u", outputs: [output], counts: [:], seconds: 0)
        #expect(try UnitKey(config: ["a": 1], inputs: [input], output: output).current != nil)
        // Rewritten with the same bytes (new time): still current. Other bytes or config: not.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 60)], ofItemAtPath: input.path)
        #expect(try UnitKey(config: ["a": 1], inputs: [input], output: output).current != nil)
        #expect(try UnitKey(config: ["a": 2], inputs: [input], output: output).current == nil)
        try Data([1, 2, 4]).write(to: input)
        #expect(try UnitKey(config: ["a": 1], inputs: [input], output: output).current == nil)
        // A missing input is an error naming it.
        #expect(throws: MorphoError.self) { try UnitKey(config: ["a": 1], inputs: [dir.appendingPathComponent("gone.tif")], output: output) }
    }
}

@Suite struct ShippedPipelineTests {
    @Test func everyShippedPipelineLoads() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Pipelines").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files == ["bbbc014-wholeimage-synthetic.yaml", "bbbc014-wholeimage.yaml", "bbbc021-cellprofiler.yaml", "bbbc021-wholeimage-synthetic.yaml", "bbbc021-wholeimage.yaml", "bbbc021.yaml",
                          "quickstart.yaml", "rxrx1-deepnoise.yaml"])
        for f in files {
            let p = try Pipeline.load(folder.appendingPathComponent(f))
            #expect(p.stages.last?.name == (f.hasPrefix("rxrx1") || f.contains("wholeimage") ? "classify" : "match"), "\(f)")
        }
        // The classify stage's method picks its implementation and settings; an unknown method is named.
        let wholeImage = try Pipeline.load(folder.appendingPathComponent("bbbc021-wholeimage.yaml"))
        #expect(wholeImage.stages[0].scope == .custom)
        #expect(try Pipeline.load(folder.appendingPathComponent("rxrx1-deepnoise.yaml")).stages[0].scope == .all)
        #expect { try Pipeline.load(folder.appendingPathComponent("rxrx1-deepnoise.yaml"), overrides: ["stages.classify.method=magic"]) } throws: {
            "\($0)".contains("'magic' is not one of deepnoise, wholeimage")
        }
        // A DeepNoise setting is unknown to the whole-image method.
        #expect { try Pipeline.load(folder.appendingPathComponent("bbbc021-wholeimage.yaml"), overrides: ["stages.classify.arcface_scale=3"]) } throws: {
            "\($0)".contains("arcface_scale")
        }
        // BBBC014: a folder or a synthetic screen, not both; layout keys are checked.
        let translocation = folder.appendingPathComponent("bbbc014-wholeimage.yaml")
        guard case .bbbc014(let images, let layout, nil) = try Pipeline.load(translocation).source else { Issue.record("not a BBBC014 source"); return }
        #expect(images?.path.hasSuffix("Data/bbbc014/BBBC014_v1_images") == true && layout.cellLines == ["MCF7", "A549"])
        #expect { try Pipeline.load(translocation, overrides: ["experiment.bbbc014.synthetic.seed=2"]) } throws: { "\($0)".contains("not both") }
        #expect { try Pipeline.load(translocation, overrides: ["experiment.bbbc014.cell_line=A549"]) } throws: { "\($0)".contains("cell_line") }
        #expect { try Pipeline.load(translocation, overrides: ["experiment.bbbc014.positive_columns=[13]"]) } throws: { "\($0)".contains("positive_columns") }
        let seed = try Pipeline.load(folder.appendingPathComponent("bbbc021.yaml"))
        #expect(seed.stages.map(\.name) == ["illumination", "segmentation", "crop", "train", "embed", "profile", "match"])
    }
}
