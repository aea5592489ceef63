import Foundation
import Illumination
import ImageProcessing
import MorphoCore
import MorphoIO
import Profiling
import Segmentation

/// `report.html` of a run folder, self-contained (inline SVG, PNG data URIs, no network): pipeline
/// summary and timings; QC (cells per well, fields with their segmentation outlines, illumination
/// functions); MoA results (accuracy table, per-MoA bars, confusion matrix); a 2-D map (PCA) of the
/// treatment profiles coloured by MoA. Sections whose stage is not in the pipeline are left out.
public struct RunReport {
    public let runner: PipelineRunner
    public let experiment: Experiment
    public let manifest: RunManifest

    public init(runner: PipelineRunner, experiment: Experiment, manifest: RunManifest) {
        self.runner = runner; self.experiment = experiment; self.manifest = manifest
    }

    public static func url(run: URL) -> URL { run.appendingPathComponent("report.html") }

    var run: URL { runner.pipeline.output }
    func folder(_ a: Artifact) -> URL { run.appendingPathComponent(a.name) }

    /// Writes `report.html` atomically and returns its URL.
    @discardableResult
    public func write() throws -> URL {
        var body = summary()
        body += try qualityControl()
        body += try moaResults()
        body += try profileMap()
        let html = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>Morpho report: \(Charts.escape(manifest.pipeline))</title>
        <style>
        body{font-family:system-ui,sans-serif;margin:24px;max-width:1200px;color:#222}
        table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;font-size:13px}
        th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
        .row{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}figure{margin:0}figcaption{font-size:12px;color:#555}
        h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}
        </style></head>
        <body>
        <h1>Morpho report: \(Charts.escape(manifest.pipeline))</h1>
        \(body)
        <p style="font-size:12px;color:#777">Morpho \(Charts.escape(manifest.morphoVersion)), \(Charts.escape(manifest.created)), pipeline file \(Charts.escape(manifest.pipelineFile)) (hash \(Charts.escape(manifest.pipelineHash))).</p>
        <script>
        window.addEventListener('load', function () {
          var imgs = Array.prototype.slice.call(document.images);
          var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
          document.body.setAttribute('data-images', ok + '/' + imgs.length);
          document.body.setAttribute('data-svgs', String(document.querySelectorAll('svg').length));
        });
        </script>
        </body></html>
        """
        let url = Self.url(run: run)
        try AtomicFile.write(Data(html.utf8), to: url)
        return url
    }

    func summary() -> String {
        var s = "<h2>Pipeline</h2><p>\(experiment.plates.count) plates, \(experiment.wellCount) wells, \(experiment.siteCount) fields, channels \(Charts.escape(experiment.channels.joined(separator: ", "))); "
        s += "\(manifest.threads) threads on \(manifest.cores) cores. Compute time of all units: \(String(format: "%.1f", manifest.computeSeconds)) s.</p>"
        s += "<table><tr><th>stage</th><th>units</th><th>reused now</th><th>seconds</th><th>counts</th><th>results</th></tr>"
        for stage in manifest.stages {
            var counts = [String: Int]()
            for u in stage.units { for (k, v) in u.counts { counts[k, default: 0] += v } }
            let reused = stage.units.filter { $0.reusedNow == true }.count
            let metrics = stage.metrics.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.isNaN ? "n/a" : String(format: "%.3g", $0.value))" }
            s += "<tr><td>\(Charts.escape(stage.stage))</td><td>\(stage.units.count)</td><td>\(reused)</td><td>\(String(format: "%.1f", stage.seconds))</td>"
            s += "<td>\(Charts.escape(counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))</td><td>\(Charts.escape(metrics.joined(separator: ", ")))</td></tr>"
        }
        return s + "</table>"
    }

    func qualityControl() throws -> String {
        var s = ""
        let locations = folder(.locations)
        let hasLocations = FileManager.default.fileExists(atPath: SegmentationStage.fieldsURL(folder: locations, plate: experiment.plates[0].name).path)
        if hasLocations {
            s += "<h2>Quality control</h2><h3>Nuclei per well</h3><div class=\"row\">"
            for plate in experiment.plates {
                let url = SegmentationStage.fieldsURL(folder: locations, plate: plate.name)
                guard FileManager.default.fileExists(atPath: url.path) else { continue }
                let t = try CSV.read(url)
                let wells = try t.column("Metadata_Well"), counts = try t.column("Count_Nuclei")
                var perWell = [String: Double]()
                for (w, c) in zip(wells, counts) { perWell[w, default: 0] += Double(c) ?? 0 }
                s += plateMap(plate, perWell, title: "nuclei per well, \(plate.name)", showValues: true,
                              caption: "\(plate.name) (\(plate.batch)): nuclei per well, \(Int(perWell.values.reduce(0, +))) in all")
            }
            s += "</div>" + (try fieldQC())
            s += "<h3>Segmentation</h3><div class=\"row\">"
            s += try fieldsWithOutlines()
            s += "</div>"
        }
        let illumination = folder(.illumination)
        if FileManager.default.fileExists(atPath: IlluminationStore.url(folder: illumination, plate: experiment.plates[0].name).path) {
            s += "<h3>Illumination functions</h3><div class=\"row\">"
            let plate = experiment.plates[0].name
            let functions = try IlluminationStore.read(folder: illumination, plate: plate)
            for channel in experiment.channels {
                guard let f = functions[channel] else { continue }
                let r = f.image.range
                s += "<figure>" + Charts.img(Charts.falseColour(f.image.pixels, width: f.image.width, height: f.image.height), alt: "illumination \(plate) \(channel)", width: 220)
                s += "<figcaption>\(Charts.escape(plate)) \(Charts.escape(channel)): \(String(format: "%.2f", r.min))...\(String(format: "%.2f", r.max)) (max/min \(String(format: "%.2f", r.max / max(r.min, 1e-9))))</figcaption></figure>"
            }
            s += "</div>"
        }
        return s
    }

    /// Up to three fields of the first plate (different wells), DNA channel with outlines or centres.
    /// A plate map (rows x columns of the plate's wells) of one value per well, with a caption.
    func plateMap(_ plate: Plate, _ perWell: [String: Double], title: String, showValues: Bool = false, caption: String) -> String {
        let ids = plate.wells.map(\.id)
        let rows = Array(Set(ids.map(\.row))).sorted(), cols = Array(Set(ids.map(\.column))).sorted()
        let values = rows.map { r in cols.map { c in perWell["\(WellID(row: r, column: c))"] ?? .nan } }
        let rowLabels = rows.map { String(WellID(row: $0, column: 1).description.prefix { $0.isLetter }) }
        return "<figure>" + Charts.heatmap(values, rowLabels: rowLabels, columnLabels: cols.map(String.init), title: title, showValues: showValues)
            + "<figcaption>\(Charts.escape(caption))</figcaption></figure>"
    }

    /// Per plate, from the fields tables: fields, those dropped by QC and why, and the medians (and
    /// extremes) of the segmentation diameter, focus, contrast and saturation; then plate maps of the
    /// median focus per well, where blurred wells stand out, and of the most saturated field per well
    /// when any field has saturated pixels.
    func fieldQC() throws -> String {
        var table = "<h3>Field QC</h3><table><tr><th>plate</th><th>fields</th><th>dropped</th><th>diameter (px)</th><th>focus, median (lowest)</th><th>contrast, median (lowest)</th><th>saturated, highest</th></tr>"
        var maps = ""
        func numbers(_ t: CSVTable, _ c: String) throws -> [Double] { try t.column(c).compactMap { Double($0) } }
        func median(_ v: [Double]) -> String { v.isEmpty ? "-" : String(format: "%.3g", Double(percentile(v.map(Float.init), 50))) }
        for plate in experiment.plates {
            let url = SegmentationStage.fieldsURL(folder: folder(.locations), plate: plate.name)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            let t = try CSV.read(url)
            let flags = try t.column("QC_Flags"), dropped = try t.column("QC_Dropped")
            var why = [String: Int]()
            for (f, d) in zip(flags, dropped) where d == "1" { why[f.split(separator: ";").first.map(String.init) ?? "flagged", default: 0] += 1 }
            let droppedText = why.isEmpty ? "0" : "\(why.values.reduce(0, +)) (" + why.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ") + ")"
            let focus = try numbers(t, "QC_Focus"), contrast = try numbers(t, "QC_Contrast"), saturated = try numbers(t, "QC_SaturatedFraction")
            table += "<tr><td>\(Charts.escape(plate.name))</td><td>\(t.rowCount)</td><td>\(Charts.escape(droppedText))</td><td>\(median(try numbers(t, "Segmentation_Diameter")))</td>"
            table += "<td>\(median(focus)) (\(focus.min().map { String(format: "%.3g", $0) } ?? "-"))</td><td>\(median(contrast)) (\(contrast.min().map { String(format: "%.3g", $0) } ?? "-"))</td>"
            table += "<td>\(saturated.max().map { String(format: "%.2g", $0) } ?? "-")</td></tr>"
            func perWell(_ column: String, _ summary: ([Double]) -> Double) throws -> [String: Double] {
                var values = [String: [Double]]()
                for (w, f) in zip(try t.column("Metadata_Well"), try t.column(column)) { if let v = Double(f) { values[w, default: []].append(v) } }
                return values.mapValues(summary)
            }
            let focusMap = try perWell("QC_Focus") { Double(percentile($0.map(Float.init), 50)) }
            if !focusMap.isEmpty {
                maps += plateMap(plate, focusMap, title: "median focus per well, \(plate.name)",
                                 caption: "\(plate.name): focus (1 / edge width in px) per well; lower is blurrier")
            }
            if saturated.contains(where: { $0 > 0 }) {
                maps += plateMap(plate, try perWell("QC_SaturatedFraction") { $0.max() ?? .nan }, title: "saturated fraction per well, \(plate.name)",
                                 caption: "\(plate.name): the most saturated field's fraction of pixels at the image's maximum, per well")
            }
        }
        return table + "</table><div class=\"row\">" + maps + "</div>"
    }

    func fieldsWithOutlines() throws -> String {
        let plate = experiment.plates[0]
        // The channel segmentation used: its setting, else the one named DNA (never the first channel).
        let segmentation = try runner.context(experiment, plates: nil).config(of: SegmentationPipelineStage.self)
        let dna = try SegmentationStage.dnaChannel(segmentation?.base.dnaChannel, among: experiment.channels)
        let nuclei = try SegmentationStage.readLocations(SegmentationStage.locationsURL(folder: folder(.locations), plate: plate.name))
        var s = ""
        for well in plate.wells.prefix(3) {
            guard let site = well.sites.first, let file = site.files[dna] else { continue }
            let image = try ImageFile.readImage(file, plane: site.planes[dna])
            let labelsURL = SegmentationStage.labelsURL(folder: folder(.locations), plate: plate.name, well: "\(well.id)", site: site.index)
            let labels = FileManager.default.fileExists(atPath: labelsURL.path) ? try TIFF.readImage(labelsURL).pixels : nil
            let field = nuclei.first { $0.well == "\(well.id)" && $0.site == site.index }
            let centres = field?.nuclei.map { ($0.centerX, $0.centerY) } ?? []
            let png = Charts.outlines(image.pixels, width: image.width, height: image.height, labels: labels, centres: centres)
            s += "<figure>" + Charts.img(png, alt: "field \(plate.name) \(well.id) s\(site.index)", width: min(image.width, 320))
            s += "<figcaption>\(Charts.escape(plate.name)) \(well.id) site \(site.index): \(centres.count) nuclei\(labels == nil ? " (centres)" : "")</figcaption></figure>"
        }
        return s
    }

    func moaResults() throws -> String {
        let url = folder(.moa).appendingPathComponent("moa.json")
        guard let data = FileManager.default.contents(atPath: url.path),
              let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { return "" }
        var s = "<h2>Mechanism-of-action matching</h2><p>1-nearest-neighbour over treatment profiles, \(Charts.escape("\(json["similarity"] ?? "")")) similarity. NSC: the neighbour is another compound; NSCB: another compound in another batch.</p>"
        s += "<table><tr><th>protocol</th><th>correct</th><th>scored</th><th>accuracy</th><th>mAP</th></tr>"
        for p in ["NSC", "NSCB"] {
            guard let r = json[p] as? [String: Any] else { continue }
            let acc = (r["accuracy"] as? NSNumber)?.doubleValue, map = (r["mAP"] as? NSNumber)?.doubleValue
            s += "<tr><td>\(p)</td><td>\(Charts.escape("\(r["correct"] ?? 0)"))</td><td>\(Charts.escape("\(r["scored"] ?? 0)"))</td><td>\(acc.map { String(format: "%.3f", $0) } ?? "n/a")</td><td>\(map.map { String(format: "%.3f", $0) } ?? "n/a")</td></tr>"
        }
        s += "</table>"
        guard let nsc = json["NSC"] as? [String: Any], let moas = nsc["moas"] as? [String] else { return s }
        let perMoA = nsc["perMoA"] as? [String: [String: Int]] ?? [:]
        s += "<div class=\"row\"><figure>" + Charts.bars(moas.map { ($0, perMoA[$0]?["correct"] ?? 0, perMoA[$0]?["scored"] ?? 0) }, title: "NSC accuracy per MoA")
        s += "<figcaption>NSC: treatments matched correctly per MoA</figcaption></figure>"
        if let confusion = nsc["confusion"] as? [[Int]], confusion.count == moas.count {
            s += "<figure>" + Charts.heatmap(confusion.map { $0.map(Double.init) }, rowLabels: moas, columnLabels: moas, cell: 26, title: "NSC confusion matrix", showValues: true)
            s += "<figcaption>NSC confusion: rows true MoA, columns predicted</figcaption></figure>"
        }
        return s + "</div>"
    }

    func profileMap() throws -> String {
        let url = folder(.profiles).appendingPathComponent("treatments.csv")
        guard FileManager.default.fileExists(atPath: url.path) else { return "" }
        let table = try FeatureTableCSV.read(url)
        guard let moa = table.metadataColumn("Metadata_MoA")?.texts, table.rowCount >= 3, table.featureCount >= 2 else { return "" }
        let names = table.metadataColumn("Metadata_Compound")?.texts ?? moa
        let doses = table.metadataColumn("Metadata_Concentration")?.texts ?? []
        let d = table.featureCount, n = table.rowCount
        let cov = LinearAlgebra.covariance(table.features, rows: Array(0..<n), cols: d)
        let (values, vectors) = try LinearAlgebra.symmetricEigen(cov, n: d)
        // Eigenvalues come in descending order; column k of `vectors` is the k-th principal axis.
        let total = values.reduce(0) { $0 + max($1, 0) }
        var mean = [Double](repeating: 0, count: d)
        for r in 0..<n { for j in 0..<d { mean[j] += Double(table.features[r * d + j]) / Double(n) } }
        func project(_ r: Int, _ k: Int) -> Double {
            var s = 0.0
            for j in 0..<d { s += (Double(table.features[r * d + j]) - mean[j]) * vectors[j * d + k] }
            return s
        }
        let points = (0..<n).map { r in (x: project(r, 0), y: project(r, 1), group: moa[r].isEmpty ? "control" : moa[r],
                                         label: names[r] + (doses.isEmpty ? "" : " @ \(doses[r])")) }
        let pc = { (k: Int) in String(format: "PC%d (%.0f%%)", k + 1, 100 * values[k] / max(total, 1e-12)) }
        return "<h2>Treatment profiles</h2><figure>" + Charts.scatter(points, title: "treatment profiles, PCA", xLabel: pc(0), yLabel: pc(1))
            + "<figcaption>\(n) treatment profiles (normalized), first two principal components, coloured by MoA</figcaption></figure>"
    }
}
