import Foundation
import MorphoCore

/// The layout of BBBC014 (Ilya Ravkin; Ljosa et al. 2012): NF-kB cytoplasm-to-nucleus translocation in one
/// 96-well plate, MCF7 cells in rows A-D and A549 cells in rows E-H, TNF-alpha in 12 concentrations (one per
/// column, column 1 the highest) with 4 replicate wells each, one field per well in two channels (DNA and
/// NF-kB) as 8-bit BMPs. Kensert et al. (2019) classify the four highest concentrations (columns 1-4) against
/// the four lowest (9-12) and leave one cell line out at a time.
///
/// Each cell line becomes a plate `<plate>-<cell line>` in batch `<cell line>`, so whole-image normalization
/// is per cell line (as Kensert et al. normalize) and `holdouts: [batch]` is leave-one-cell-line-out. Wells
/// of the middle columns keep their treatment but no class.
public struct BBBC014Layout: Codable, Sendable, Equatable {
    /// A regular expression over file names with named groups `channel` (1, 2, ...), `row` (A-H) and
    /// `column` (1-12). The default matches `Channel1-01-A-01.BMP` (Ravkin's SBS naming), any case of extension.
    public var filePattern = #"^Channel(?<channel>\d+)-\d+-(?<row>[A-Pa-p])-(?<column>\d{1,2})\.(?i:bmp|tiff?|png)$"#
    /// Channel names by channel number (1 = the nuclear counterstain).
    public var channels = ["DNA", "NFkB"]
    public var plate = "BBBC014"
    /// Cell lines, each taking an equal, consecutive share of the plate's `rows` (MCF7 A-D, A549 E-H).
    public var cellLines = ["MCF7", "A549"]
    /// Rows of the plate (8 on a 96-well plate), whatever rows the folder holds.
    public var rows = 8
    public var compound = "TNFa"
    /// TNF-alpha concentration of each column, 1 to 12. The default is the dose rank (12 for column 1, the
    /// highest, down to 1): give the plate map's concentrations to record them.
    public var concentrations: [Double] = (1...12).map { Double(13 - $0) }
    public var positiveColumns = [1, 2, 3, 4]
    public var negativeColumns = [9, 10, 11, 12]
    /// Class names of the positive (translocated) and negative columns.
    public var positiveClass = "nuclear"
    public var negativeClass = "cytoplasmic"

    public init() {}

    public func validate() throws {
        guard (try? NSRegularExpression(pattern: filePattern)) != nil else {
            throw MorphoError.config(key: "file_pattern", problem: "'\(filePattern)' is not a regular expression")
        }
        for group in ["channel", "row", "column"] where !filePattern.contains("(?<\(group)>") {
            throw MorphoError.config(key: "file_pattern", problem: "needs a named group (?<\(group)>...)")
        }
        guard channels.count >= 1, Set(channels).count == channels.count else { throw MorphoError.config(key: "channels", problem: "give distinct channel names") }
        guard !cellLines.isEmpty, Set(cellLines).count == cellLines.count else { throw MorphoError.config(key: "cell_lines", problem: "give distinct cell line names") }
        guard rows >= cellLines.count else { throw MorphoError.config(key: "rows", problem: "\(rows) rows cannot hold \(cellLines.count) cell lines") }
        guard !concentrations.isEmpty, concentrations.allSatisfy(\.isFinite) else { throw MorphoError.config(key: "concentrations", problem: "give one finite concentration per column") }
        let columns = 1...concentrations.count
        for (key, list) in [("positive_columns", positiveColumns), ("negative_columns", negativeColumns)] {
            guard !list.isEmpty, list.allSatisfy(columns.contains) else { throw MorphoError.config(key: key, problem: "give columns within 1...\(concentrations.count)") }
        }
        guard Set(positiveColumns).isDisjoint(with: negativeColumns) else { throw MorphoError.config(key: "negative_columns", problem: "overlaps positive_columns") }
        guard positiveClass != negativeClass else { throw MorphoError.config(key: "negative_class", problem: "equals positive_class") }
    }

    /// The class of a column: positive, negative, or nil (not scored).
    public func moa(column: Int) -> String? {
        positiveColumns.contains(column) ? positiveClass : negativeColumns.contains(column) ? negativeClass : nil
    }

    /// The cell line of a row (0-based).
    public func cellLine(row: Int) -> String {
        cellLines[min(cellLines.count - 1, row * cellLines.count / rows)]
    }

    /// The file name of a well's channel in the default naming (`Channel<c>-<nn>-<row>-<cc>.BMP`, nn the
    /// well's running number, row by row), as the synthetic screen writes it.
    public static func fileName(well: WellID, channel: Int, columns: Int = 12, ext: String = "BMP") -> String {
        "Channel\(channel)-" + String(format: "%02d", well.row * columns + well.column) + "-\(well.rowName)-" + String(format: "%02d", well.column) + ".\(ext)"
    }

    /// Reads the image folder into an experiment. Files that do not match `filePattern` are ignored; a well
    /// missing a channel, two files for one well and channel, a channel number without a name, a column
    /// without a concentration or a folder with no matching file are errors naming the file or well.
    public func read(folder: URL) throws -> Experiment {
        try validate()
        let regex = try NSRegularExpression(pattern: filePattern)
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() } catch {
            throw MorphoError.file(path: folder.path, problem: "cannot list the BBBC014 image folder (\(error.localizedDescription))")
        }
        var files = [WellID: [String: URL]]()
        for name in names {
            let range = NSRange(name.startIndex..., in: name)
            guard let m = regex.firstMatch(in: name, range: range) else { continue }
            func group(_ g: String) -> String { Range(m.range(withName: g), in: name).map { String(name[$0]) } ?? "" }
            let url = folder.appendingPathComponent(name)
            guard let c = Int(group("channel")), (1...channels.count).contains(c) else {
                throw MorphoError.file(path: url.path, problem: "channel \(group("channel")) has no name (channels: \(channels.joined(separator: ", ")))")
            }
            guard let well = WellID(group("row") + group("column")), well.column <= concentrations.count, well.row < rows else {
                throw MorphoError.file(path: url.path, problem: "well \(group("row"))\(group("column")) is outside the plate map (\(rows) rows, \(concentrations.count) columns)")
            }
            if let other = files[well]?[channels[c - 1]] {
                throw MorphoError.file(path: url.path, problem: "well \(well) channel \(channels[c - 1]) also has \(other.lastPathComponent)")
            }
            files[well, default: [:]][channels[c - 1]] = url
        }
        guard !files.isEmpty else { throw MorphoError.file(path: folder.path, problem: "no image file matches \(filePattern)") }
        var problems = [String]()
        for (well, byChannel) in files.sorted(by: { $0.key < $1.key }) {
            for c in channels where byChannel[c] == nil { problems.append("well \(well): no \(c) image in \(folder.path)") }
        }
        guard problems.isEmpty else { throw MorphoError.layout(problems: problems) }
        let byLine = Dictionary(grouping: files.keys) { cellLine(row: $0.row) }
        let plates = cellLines.compactMap { line -> Plate? in
            guard let wells = byLine[line] else { return nil }
            return Plate(name: "\(plate)-\(line)", batch: line, wells: wells.sorted().map { id in
                Well(id: id, treatment: Treatment(compound: compound, concentration: concentrations[id.column - 1], moa: moa(column: id.column)),
                     sites: [Site(index: 1, files: files[id]!)])
            })
        }
        return Experiment(channels: channels, plates: plates)
    }
}
