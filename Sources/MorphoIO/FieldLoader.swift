import Foundation
import MorphoCore

extension FieldOfView {
    /// Reads the channel files of one site, in `channels` order, into a field of view whose channels
    /// must agree in size. Errors name the plate, well, site and the file or channel at fault.
    /// `read` reads one channel's file and plane (by default plainly; e.g. divided by its illumination function).
    public static func load(_ site: Site, channels: [String], plate: String, well: WellID,
                            read: (_ channel: String, _ url: URL, _ plane: Int?) throws -> Image = { try ImageFile.readImage($1, plane: $2) }) throws -> FieldOfView {
        let context = "plate \(plate) well \(well) site \(site.index)"
        var images = [(name: String, image: Image)]()
        for channel in channels {
            guard let url = site.files[channel] else {
                throw MorphoError.mismatchedImages(context: context, problem: "no file for channel '\(channel)'")
            }
            images.append((channel, try read(channel, url, site.planes[channel])))
        }
        return try FieldOfView(channels: images, context: context)
    }
}
