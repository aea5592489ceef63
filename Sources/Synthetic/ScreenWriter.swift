import Foundation
import MorphoCore
import MorphoIO

/// Writes a synthetic screen in BBBC021's own layout:
///
/// ```
/// <out>/screen.json                              config, seed, design source, Morpho version
/// <out>/images/<batch>/<plate>/<Well>_s<k>_w1<UUID>.tif   DAPI    (16-bit, deflate)
///                                  ..._w2<UUID>.tif        Tubulin
///                                  ..._w4<UUID>.tif        Actin
/// <out>/image.csv                                BBBC021_v1_image.csv columns
/// <out>/moa.csv                                  BBBC021_v1_moa.csv columns
/// <out>/truth/nuclei/<plate>/<Well>_s<k>.tif     nucleus labels (16-bit, 0 = background)
/// <out>/truth/nuclei/<plate>/<Well>_s<k>.csv     per nucleus: label, centre, area, rounded
/// <out>/truth/nuclei.csv.gz                      all nuclei, pycytominer/DeepProfiler columns
/// <out>/truth/illumination/<plate>_<channel>.tif true illumination field (float32, max 1)
/// <out>/truth/treatments.csv                     per treatment: MoA, EC50 and dose effect (0 = DMSO, 1 = full)
/// ```
///
/// Every file is written atomically and a field's truth CSV last, so a rerun into the same folder with
/// the same config skips finished fields and redoes only what a crash interrupted.
public struct ScreenWriter: Sendable {
    public static let channelSuffixes = ["w1", "w2", "w4"]

    public let config: SyntheticConfig
    public let design: ScreenDesign
    /// Describes where the design came from ("synthetic" or the layout file), recorded in screen.json.
    public let source: String

    public init(config: SyntheticConfig, design: ScreenDesign, source: String) {
        self.config = config
        self.design = design
        self.source = source
    }

    public struct Summary: Sendable {
        public var plates: Int, wells: Int, fields: Int, fieldsRendered: Int, nuclei: Int
        public var seconds: Double
    }

    struct FieldJob: Sendable {
        var plate: DesignPlate, well: DesignWell, site: Int
    }

    struct Manifest: Codable, Equatable {
        var morphoVersion: String
        var source: String
        var config: SyntheticConfig
    }

    /// Renders and writes everything under `out`. Throws `MorphoError.config` if `out` holds a screen
    /// made with another config (pass `overwrite` to replace it).
    @discardableResult
    public func write(to out: URL, overwrite: Bool = false, progress: Bool = true) throws -> Summary {
        let start = Date()
        let manifestURL = out.appendingPathComponent("screen.json")
        let manifest = Manifest(morphoVersion: MorphoVersion.current, source: source, config: config)
        if !overwrite, let data = try? Data(contentsOf: manifestURL) {
            let existing = try? JSONDecoder().decode(Manifest.self, from: data)
            if existing != manifest {
                throw MorphoError.config(key: "out", problem: "\(out.path) holds a screen made with another config or source; choose another folder or pass --overwrite")
            }
        } else if overwrite {
            for sub in ["images", "truth", "image.csv", "moa.csv", "screen.json"] {
                try? FileManager.default.removeItem(at: out.appendingPathComponent(sub))
            }
        }
        AtomicFile.removeStaleTemporaries(under: out)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(manifest), to: manifestURL)

        // Illumination fields per plate x channel, and compound EC50s.
        let renderer = FieldRenderer(config: config)
        let illumination = try concurrentMap(design.plates.count) { p -> [Image] in
            let plate = design.plates[p]
            let fields = (0..<3).map { renderer.illumination(plate: plate.name, channel: $0) }
            for (c, field) in fields.enumerated() {
                let url = out.appendingPathComponent("truth/illumination/\(plate.name)_\(BBBC021Layout.channels[c]).tif")
                if !FileManager.default.fileExists(atPath: url.path) { try TIFF.write(field, to: url) }
            }
            return fields
        }
        let ec50 = compoundEC50s()
        let shifts = Dictionary(uniqueKeysWithValues: Set(design.plates.map(\.batch)).map {
            ($0, BatchShift(batch: $0, seed: config.seed, strength: config.batchEffect))
        })

        let jobs = design.plates.flatMap { plate in
            plate.wells.flatMap { well in (0..<well.sites).map { FieldJob(plate: plate, well: well, site: $0 + 1) } }
        }
        let reporter = ProgressReporter("synth fields", total: jobs.count, enabled: progress)
        let rendered = try concurrentMap(jobs.count) { j -> Bool in
            defer { reporter.advance() }
            let job = jobs[j]
            let truthCSV = truthURL(out, job).appendingPathExtension("csv")
            // Done when its truth table (written last) and every channel image exist; else rendered again.
            if FileManager.default.fileExists(atPath: truthCSV.path),
               Self.channelSuffixes.indices.allSatisfy({ FileManager.default.fileExists(atPath: imageURL(out, job, channel: $0).path) }) { return false }
            let plateIndex = design.plates.firstIndex { $0.name == job.plate.name }!
            let phenotype = try Phenotype.of(job.well.treatment, control: design.control,
                                             ec50: ec50[job.well.treatment.compound] ?? 1)
            var rng = SeededGenerator(seed: config.seed, stream: "field/\(job.plate.name)/\(job.well.well)/\(job.site)")
            let field = renderer.render(phenotype: phenotype, batch: shifts[job.plate.batch]!,
                                        illumination: illumination[plateIndex], rng: &rng)
            for (c, image) in field.channels.enumerated() {
                try TIFF.write(image, to: imageURL(out, job, channel: c))
            }
            try TIFF.write(field.labels, to: truthURL(out, job).appendingPathExtension("tif"))
            let csv = CSV.render(header: ["Label", "Nuclei_Location_Center_X", "Nuclei_Location_Center_Y", "Area", "Rounded"],
                                 rowCount: field.nuclei.count) { r, f in
                let n = field.nuclei[r]
                f += [String(n.label), String(format: "%.3f", n.x), String(format: "%.3f", n.y), String(n.area), n.rounded ? "1" : "0"]
            }
            try AtomicFile.write(csv, to: truthCSV)
            return true
        }
        reporter.finish()

        let nuclei = try writeTruthTable(out, jobs: jobs)
        try writeImageTable(out, jobs: jobs)
        try writeMoATable(out)
        try writeTreatmentTruth(out, ec50: ec50)
        return Summary(plates: design.plates.count, wells: design.plates.reduce(0) { $0 + $1.wells.count },
                       fields: jobs.count, fieldsRendered: rendered.filter { $0 }.count, nuclei: nuclei,
                       seconds: Date().timeIntervalSince(start))
    }

    /// EC50 per compound: the geometric mean of its concentrations in the design, times a stable
    /// compound-specific factor in [10^-0.5, 10^0.5].
    func compoundEC50s() -> [String: Double] {
        var concs = [String: [Double]]()
        for p in design.plates { for w in p.wells where w.treatment.concentration > 0 {
            concs[w.treatment.compound, default: []].append(w.treatment.concentration)
        } }
        var out = [String: Double]()
        for (compound, c) in concs {
            let geometricMean = exp(c.map { log($0) }.reduce(0, +) / Double(c.count))
            let u = Double(stableHash("ec50/\(compound)") % 1000) / 999 - 0.5
            out[compound] = geometricMean * pow(10, u)
        }
        return out
    }

    /// A stable UUID-like tag for a file, as BBBC021's names carry.
    static func tag(_ text: String) -> String {
        var rng = SeededGenerator(seed: stableHash(text))
        let a = rng.next(), b = rng.next()
        let hex = String(format: "%016llX%016llX", a, b)
        let c = Array(hex)
        return "\(String(c[0..<8]))-\(String(c[8..<12]))-\(String(c[12..<16]))-\(String(c[16..<20]))-\(String(c[20..<32]))"
    }

    func folder(_ job: FieldJob) -> String { "\(job.plate.batch)/\(job.plate.name)" }

    func fileName(_ job: FieldJob, channel c: Int) -> String {
        let stem = "\(job.well.well)_s\(job.site)_\(ScreenWriter.channelSuffixes[c])"
        return stem + ScreenWriter.tag("\(config.seed)/\(job.plate.name)/\(stem)") + ".tif"
    }

    func imageURL(_ out: URL, _ job: FieldJob, channel c: Int) -> URL {
        out.appendingPathComponent("images/\(folder(job))/\(fileName(job, channel: c))")
    }

    func truthURL(_ out: URL, _ job: FieldJob) -> URL {
        out.appendingPathComponent("truth/nuclei/\(job.plate.name)/\(job.well.well)_s\(job.site)")
    }

    private func writeImageTable(_ out: URL, jobs: [FieldJob]) throws {
        let header = ["TableNumber", "ImageNumber", "Image_FileName_DAPI", "Image_PathName_DAPI", "Image_FileName_Tubulin",
                      "Image_PathName_Tubulin", "Image_FileName_Actin", "Image_PathName_Actin", "Image_Metadata_Plate_DAPI",
                      "Image_Metadata_Well_DAPI", "Replicate", "Image_Metadata_Compound", "Image_Metadata_Concentration"]
        let tables = Dictionary(uniqueKeysWithValues: design.plates.enumerated().map { ($1.name, $0 + 1) })
        let data = CSV.render(header: header, rowCount: jobs.count) { r, f in
            let job = jobs[r]
            f.append(String(tables[job.plate.name]!))
            f.append(String(r + 1))
            for c in 0..<3 { f += [fileName(job, channel: c), folder(job)] }
            f += [job.plate.name, job.well.well.description, String(job.well.replicate),
                  job.well.treatment.compound, formatNumber(job.well.treatment.concentration)]
        }
        try CSV.writeData(data, to: out.appendingPathComponent("image.csv"))
    }

    /// The design's treatments that pass `include`, each once, by compound then concentration.
    private func distinctTreatments(where include: (Treatment) -> Bool) -> [Treatment] {
        var seen = Set<String>()
        var rows = [Treatment]()
        for p in design.plates { for w in p.wells where include(w.treatment) && seen.insert(w.treatment.key).inserted {
            rows.append(w.treatment)
        } }
        return rows.sorted { ($0.compound, $0.concentration) < ($1.compound, $1.concentration) }
    }

    private func writeMoATable(_ out: URL) throws {
        let rows = distinctTreatments { $0.moa != nil }
        var text = "\"compound\",concentration,\"moa\"\n"
        for t in rows { text += "\"\(t.compound)\",\(String(format: "%.6f", t.concentration)),\"\(t.moa!)\"\n" }
        try AtomicFile.write(Data(text.utf8), to: out.appendingPathComponent("moa.csv"))
    }

    /// Every treated compound and concentration with its mechanism (empty when unannotated), the compound's
    /// EC50 and the dose effect `Phenotype.effect`: how strong a phenotype a perfect method could see.
    private func writeTreatmentTruth(_ out: URL, ec50: [String: Double]) throws {
        let rows = distinctTreatments { $0.compound != design.control }
        let csv = CSV.render(header: ["compound", "concentration", "moa", "ec50", "effect"], rowCount: rows.count) { r, f in
            let t = rows[r], e = ec50[t.compound] ?? 1
            f += [t.compound, String(format: "%.6f", t.concentration), t.moa ?? "", String(format: "%.6g", e),
                  String(format: "%.4f", Phenotype.effect(concentration: t.concentration, ec50: e))]
        }
        try AtomicFile.write(csv, to: out.appendingPathComponent("truth/treatments.csv"))
    }

    private func writeTruthTable(_ out: URL, jobs: [FieldJob]) throws -> Int {
        var plate = [String](), well = [String](), site = [String](), label = [String](), x = [String](), y = [String](), area = [String](), rounded = [String]()
        for job in jobs {
            let t = try CSV.read(truthURL(out, job).appendingPathExtension("csv"))
            let n = t.rowCount
            plate += Array(repeating: job.plate.name, count: n)
            well += Array(repeating: job.well.well.description, count: n)
            site += Array(repeating: String(job.site), count: n)
            label += try t.column("Label"); x += try t.column("Nuclei_Location_Center_X"); y += try t.column("Nuclei_Location_Center_Y")
            area += try t.column("Area"); rounded += try t.column("Rounded")
        }
        let table = CSVTable(header: ["Metadata_Plate", "Metadata_Well", "Metadata_Site", "Label", "Nuclei_Location_Center_X",
                                      "Nuclei_Location_Center_Y", "Area", "Rounded"],
                             columns: [plate, well, site, label, x, y, area, rounded], source: "truth")
        try CSV.write(table, to: out.appendingPathComponent("truth/nuclei.csv.gz"))
        return plate.count
    }
}
