import Foundation
import MorphoCore

/// One well of an RxRx1 screen (Recursion's layout: `id_code` = `<experiment>_<plate>_<well>`).
public struct RxRx1Well: Sendable, Equatable {
    public enum Kind: String, Sendable { case treatment, positiveControl = "positive_control", negativeControl = "negative_control" }
    public var experiment: String
    /// The cell type: the experiment name's prefix (`HEPG2-01` -> `HEPG2`).
    public var cellType: String
    public var plate: Int
    public var well: WellID
    /// The siRNA class; nil for test treatment wells whose label is not published.
    public var sirna: Int?
    public var kind: Kind
    public var test: Bool
    public var idCode: String { "\(experiment)_\(plate)_\(well)" }

    public init(experiment: String, cellType: String, plate: Int, well: WellID, sirna: Int?, kind: Kind, test: Bool) {
        self.experiment = experiment; self.cellType = cellType; self.plate = plate; self.well = well
        self.sirna = sirna; self.kind = kind; self.test = test
    }

    /// `<root>/<train|test>/<experiment>/Plate<p>/<well>_s<site>_w<channel>.<ext>` (channel 1-based).
    public func imageURL(root: URL, site: Int, channel: Int, ext: String) -> URL {
        root.appendingPathComponent(test ? "test" : "train").appendingPathComponent(experiment)
            .appendingPathComponent("Plate\(plate)").appendingPathComponent("\(well)_s\(site)_w\(channel).\(ext)")
    }
}

/// RxRx1's metadata tables: `train.csv` (id_code, experiment, plate, well, sirna), `test.csv` (the same
/// without sirna), `train_controls.csv` / `test_controls.csv` (with sirna and well_type). Images lie
/// under `train/` and `test/` as `<experiment>/Plate<p>/<well>_s<site>_w<channel>.png`.
public enum RxRx1Layout {
    public static let channelCount = 6

    /// Writes the four tables for `wells`; test treatment labels go to `truthFile` when given (the
    /// answers of the held-out experiments, kept apart as RxRx1 kept them).
    public static func write(_ wells: [RxRx1Well], to folder: URL, truthFile: URL? = nil) throws {
        func table(_ rows: [RxRx1Well], header: [String], _ row: (RxRx1Well) -> [String]) -> CSVTable {
            let values = rows.map(row)
            return CSVTable(header: header, columns: header.indices.map { c in values.map { $0[c] } }, source: "rxrx1")
        }
        let base = { (w: RxRx1Well) in [w.idCode, w.experiment, String(w.plate), w.well.description] }
        for test in [false, true] {
            let name = test ? "test" : "train"
            let set = wells.filter { $0.test == test }
            let treatments = set.filter { $0.kind == .treatment }
            if test {
                try CSV.write(table(treatments, header: ["id_code", "experiment", "plate", "well"], base), to: folder.appendingPathComponent("test.csv"))
            } else {
                try CSV.write(table(treatments, header: ["id_code", "experiment", "plate", "well", "sirna"]) { base($0) + [String($0.sirna!)] },
                              to: folder.appendingPathComponent("train.csv"))
            }
            try CSV.write(table(set.filter { $0.kind != .treatment }, header: ["id_code", "experiment", "plate", "well", "sirna", "well_type"]) {
                base($0) + [String($0.sirna!), $0.kind.rawValue]
            }, to: folder.appendingPathComponent("\(name)_controls.csv"))
        }
        if let truthFile {
            try CSV.write(table(wells.filter { $0.test && $0.kind == .treatment }, header: ["id_code", "sirna"]) { [$0.idCode, String($0.sirna!)] },
                          to: truthFile)
        }
    }

    /// Reads the tables in `folder` (a missing test table is allowed); `truthFile` fills in test labels.
    public static func read(_ folder: URL, truthFile: URL? = nil) throws -> [RxRx1Well] {
        var truth = [String: Int]()
        if let truthFile {
            let t = try CSV.read(truthFile)
            for (id, s) in zip(try t.column("id_code"), try t.column("sirna")) {
                guard let v = Int(s) else { throw MorphoError.table(file: truthFile.path, line: nil, column: "sirna", problem: "'\(s)' for \(id) is not a class number") }
                truth[id] = v
            }
        }
        var wells = [RxRx1Well]()
        for (name, test, controls) in [("train.csv", false, false), ("train_controls.csv", false, true), ("test.csv", true, false), ("test_controls.csv", true, true)] {
            let url = folder.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else {
                if name == "train.csv" { throw MorphoError.file(path: url.path, problem: "file not found (an RxRx1 folder holds train.csv, train_controls.csv, test.csv, test_controls.csv)") }
                continue
            }
            let t = try CSV.read(url)
            let experiments = try t.column("experiment"), plates = try t.column("plate"), wellNames = try t.column("well")
            let sirnas = t.hasColumn("sirna") ? try t.column("sirna") : nil
            let types = controls ? try t.column("well_type") : nil
            for r in 0..<t.rowCount {
                let line = t.lineNumber(ofRow: r)
                guard let plate = Int(plates[r]) else { throw MorphoError.table(file: url.path, line: line, column: "plate", problem: "'\(plates[r])' is not a plate number") }
                guard let well = WellID(wellNames[r]) else { throw MorphoError.table(file: url.path, line: line, column: "well", problem: "'\(wellNames[r])' is not a well name") }
                var sirna: Int?
                if let sirnas {
                    guard let v = Int(sirnas[r]) else { throw MorphoError.table(file: url.path, line: line, column: "sirna", problem: "'\(sirnas[r])' is not a class number") }
                    sirna = v
                }
                var kind = RxRx1Well.Kind.treatment
                if let types {
                    guard let k = RxRx1Well.Kind(rawValue: types[r]), k != .treatment else {
                        throw MorphoError.table(file: url.path, line: line, column: "well_type", problem: "'\(types[r])' is not positive_control or negative_control")
                    }
                    kind = k
                }
                var w = RxRx1Well(experiment: experiments[r], cellType: String(experiments[r].prefix { $0 != "-" }), plate: plate, well: well,
                                  sirna: sirna, kind: kind, test: test)
                if w.sirna == nil { w.sirna = truth[w.idCode] }
                wells.append(w)
            }
        }
        return wells
    }
}

extension RxRx1Layout {
    public static let channelNames = ["nucleus", "nucleolus", "mitochondria", "ER", "actin", "Golgi"]
    public static let untreated = "EMPTY"

    /// The plate name Morpho uses for an RxRx1 plate: `<experiment>_<plate>` (`HEPG2-01_1`).
    public static func plateName(_ w: RxRx1Well) -> String { "\(w.experiment)_\(w.plate)" }

    /// Sites per well: those of the first well whose first channel exists (s1, s2, ...).
    public static func siteCount(root: URL, wells: [RxRx1Well], ext: String) throws -> Int {
        guard let w = wells.first else { return 0 }
        var n = 0
        while FileManager.default.fileExists(atPath: w.imageURL(root: root, site: n + 1, channel: 1, ext: ext).path) { n += 1 }
        guard n > 0 else { throw MorphoError.file(path: w.imageURL(root: root, site: 1, channel: 1, ext: ext).path, problem: "file not found (first image of the screen)") }
        return n
    }

    /// The screen as an `Experiment`: plates `<experiment>_<plate>` in batch `<experiment>`, treatment
    /// `sirna_<k>` (the untreated well `EMPTY`, the control), no treatment where the label is unknown.
    public static func experiment(_ wells: [RxRx1Well], root: URL, sites: Int, ext: String) -> Experiment {
        let byPlate = Dictionary(grouping: wells, by: plateName)
        let plates = byPlate.keys.sorted(by: naturalLess).map { name -> Plate in
            let members = byPlate[name]!.sorted { $0.well < $1.well }
            return Plate(name: name, batch: members[0].experiment, wells: members.map { w in
                let treatment = w.kind == .negativeControl ? Treatment(compound: untreated, concentration: 0)
                    : w.sirna.map { Treatment(compound: "sirna_\($0)", concentration: 0) }
                let siteList = (1...max(1, sites)).map { s in
                    Site(index: s, files: Dictionary(uniqueKeysWithValues: channelNames.enumerated().map { ($0.element, w.imageURL(root: root, site: s, channel: $0.offset + 1, ext: ext)) }))
                }
                return Well(id: w.well, treatment: treatment, sites: siteList)
            })
        }
        return Experiment(channels: channelNames, plates: plates, controlCompound: untreated)
    }
}
