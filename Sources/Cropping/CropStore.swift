import Foundation
import MorphoCore
import MorphoIO

/// Reads the crops of one plate written by `CropStage.run` (`<folder>/<plate>.h5`): the cell metadata at
/// once, the pixels by ranges of cells.
public final class CropStore {
    public let url: URL
    public let channels: [String]
    public let boxSize: Int
    public let normalization: String
    public let plate: String
    public let wells: [String]
    public let sites: [Double], objects: [Double], xs: [Double], ys: [Double]
    private let file: HDF5File

    public static func url(folder: URL, plate: String) -> URL { folder.appendingPathComponent("\(plate).h5") }

    public init(url: URL) throws {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw MorphoError.file(path: url.path, problem: "no crop store (run `morpho crop` first)")
        }
        self.url = url
        file = try HDF5File(opening: url)
        guard let channels = try file.stringAttribute("channels"), let box = try file.numberAttribute("box_size") else {
            throw MorphoError.hdf5(path: url.path, object: "/", problem: "no channels/box_size attributes: not a crop store")
        }
        self.channels = channels.split(separator: ",").map(String.init)
        boxSize = Int(box)
        normalization = try file.stringAttribute("normalization") ?? "unknown"
        wells = try file.readStrings("/Metadata_Well")
        plate = try file.readStrings("/Metadata_Plate").first ?? url.deletingPathExtension().lastPathComponent
        sites = try file.readDoubles("/Metadata_Site")
        objects = try file.readDoubles("/Nuclei_Number_Object_Number")
        xs = try file.readDoubles("/Nuclei_Location_Center_X")
        ys = try file.readDoubles("/Nuclei_Location_Center_Y")
        let rows = try file.readItems("/crops", 0..<0).shape.first ?? 0
        guard rows == wells.count else {
            throw MorphoError.hdf5(path: url.path, object: "/crops", problem: "\(rows) crops but \(wells.count) metadata rows")
        }
    }
    deinit { file.close() }

    public var count: Int { wells.count }

    /// Pixels of crops `range`, planar [n, C, box, box].
    public func crops(_ range: Range<Int>) throws -> [Float] { try file.readItems("/crops", range).values }
}
