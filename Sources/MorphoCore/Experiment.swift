import Foundation

/// What was done to a well: a compound at a concentration, with its mechanism of action when known.
public struct Treatment: Hashable, Sendable, Codable {
    public var compound: String
    /// Concentration in the layout's unit (micromolar for BBBC021).
    public var concentration: Double
    /// Mechanism of action; nil when the treatment is not annotated.
    public var moa: String?

    public init(compound: String, concentration: Double, moa: String? = nil) {
        self.compound = compound
        self.concentration = concentration
        self.moa = moa
    }

    /// "compound@concentration", the usual treatment key (concentration printed in shortest form).
    public var key: String { "\(compound)@\(formatNumber(concentration))" }
}

/// One imaged site (field of view) of a well: channel name -> image file.
public struct Site: Sendable, Hashable {
    public var index: Int
    public var files: [String: URL]
    /// Per channel, the plane of a multi-plane file (pages x samples, 0-based; LoadData's `Frame_`);
    /// absent: the file must hold one plane.
    public var planes: [String: Int]

    public init(index: Int, files: [String: URL], planes: [String: Int] = [:]) {
        self.index = index
        self.files = files
        self.planes = planes
    }
}

/// A well: its position, treatment, replicate number and imaged sites.
public struct Well: Sendable {
    public var id: WellID
    public var treatment: Treatment?
    public var replicate: Int?
    public var sites: [Site]

    public init(id: WellID, treatment: Treatment?, replicate: Int? = nil, sites: [Site]) {
        self.id = id
        self.treatment = treatment
        self.replicate = replicate
        self.sites = sites
    }
}

/// A plate: name, batch it was run in, and wells sorted by position.
public struct Plate: Sendable {
    public var name: String
    public var batch: String
    public var wells: [Well]

    public init(name: String, batch: String, wells: [Well]) {
        self.name = name
        self.batch = batch
        self.wells = wells
    }

    public var siteCount: Int { wells.reduce(0) { $0 + $1.sites.count } }

    /// The planes `channels` read from multi-plane files, site by site, for unit keys (a changed
    /// `Frame_` must redo the work); empty when every file holds one plane, so keys stay as they were.
    public func planeSignature(_ channels: [String]) -> String {
        let planes = wells.flatMap { $0.sites.flatMap { s in channels.map { s.planes[$0].map(String.init) ?? "-" } } }
        return planes.allSatisfy { $0 == "-" } ? "" : "|planes=" + planes.joined(separator: ",")
    }
}

/// A screen: plates -> wells -> sites -> channel files, with treatment annotations.
public struct Experiment: Sendable {
    /// Channel names in their canonical order (for BBBC021: DAPI, Tubulin, Actin).
    public var channels: [String]
    public var plates: [Plate]
    /// The negative-control compound (BBBC021: "DMSO"), if the layout names one.
    public var controlCompound: String?

    public init(channels: [String], plates: [Plate], controlCompound: String? = nil) {
        self.channels = channels
        self.plates = plates
        self.controlCompound = controlCompound
    }

    /// `chosen` channels checked against the experiment's (nil: all of them, in canonical order); an
    /// unknown one is a config error naming `key`.
    public func channels(selecting chosen: [String]?, key: String) throws -> [String] {
        guard let chosen else { return channels }
        for c in chosen where !channels.contains(c) {
            throw MorphoError.config(key: key, problem: "channel '\(c)' is not in the experiment (\(channels.joined(separator: ", ")))")
        }
        return chosen
    }

    public var wellCount: Int { plates.reduce(0) { $0 + $1.wells.count } }
    public var siteCount: Int { plates.reduce(0) { $0 + $1.siteCount } }
    public var batches: [String] { Set(plates.map(\.batch)).sorted(by: naturalLess) }

    /// All distinct treatments, sorted by compound then concentration.
    public var treatments: [Treatment] {
        var set = Set<Treatment>()
        for p in plates { for w in p.wells { if let t = w.treatment { set.insert(t) } } }
        return set.sorted { ($0.compound, $0.concentration) < ($1.compound, $1.concentration) }
    }

    /// A short human-readable summary: counts of plates, batches, wells, sites, files, treatments, MoAs.
    public var summary: String {
        let ts = treatments
        let annotated = ts.filter { $0.moa != nil && $0.compound != controlCompound }
        let moas = Set(annotated.compactMap(\.moa)).sorted()
        let compounds = Set(ts.map(\.compound))
        var controlWells = 0
        if let control = controlCompound {
            for p in plates { for w in p.wells where w.treatment?.compound == control { controlWells += 1 } }
        }
        var lines = [
            "plates: \(plates.count) in \(batches.count) batch(es)",
            "wells: \(wellCount) (\(controlWells) \(controlCompound ?? "control") wells)",
            "sites: \(siteCount), channels: \(channels.joined(separator: ", ")), files: \(siteCount * channels.count)",
            "treatments: \(ts.count) (\(annotated.count) annotated with a MoA) of \(compounds.count) compounds",
            "mechanisms of action: \(moas.count)",
        ]
        for moa in moas {
            let n = annotated.filter { $0.moa == moa }.count
            lines.append("  \(moa): \(n) treatment(s)")
        }
        return lines.joined(separator: "\n")
    }
}

/// Shortest text for a number: integers without ".0", others in Swift's shortest round-trip form.
public func formatNumber(_ v: Double) -> String {
    if v.isNaN { return "NaN" }
    if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
    return "\(v)"
}

/// Natural order: digit runs compare as numbers, so "Week2" < "Week10" and "s2" < "s10".
public func naturalLess(_ a: String, _ b: String) -> Bool {
    var i = a.unicodeScalars.makeIterator(), j = b.unicodeScalars.makeIterator()
    var x = i.next(), y = j.next()
    while let cx = x, let cy = y {
        let dx = ("0"..."9").contains(cx), dy = ("0"..."9").contains(cy)
        if dx && dy {
            var nx = "", ny = ""
            while let c = x, ("0"..."9").contains(c) { nx.unicodeScalars.append(c); x = i.next() }
            while let c = y, ("0"..."9").contains(c) { ny.unicodeScalars.append(c); y = j.next() }
            let tx = nx.drop { $0 == "0" }, ty = ny.drop { $0 == "0" }
            if tx.count != ty.count { return tx.count < ty.count }
            if tx != ty { return tx < ty }
        } else {
            if cx != cy { return cx < cy }
            x = i.next(); y = j.next()
        }
    }
    return x == nil && y != nil
}
