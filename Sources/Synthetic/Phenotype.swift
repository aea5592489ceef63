import MorphoCore

/// The morphology of a cell population, as multipliers and weights relative to untreated (DMSO)
/// cells. Each mechanism of action moves some of these; a compound moves them by its dose-response.
public struct Phenotype: Sendable, Equatable, Codable {
    /// Nucleus radius (x base radius), DNA intensity, DNA texture contrast, nucleus aspect ratio.
    public var nucleusSize = 1.0
    public var nucleusIntensity = 1.0
    public var nucleusTexture = 0.15
    public var nucleusElongation = 1.2
    /// Cell body radius (x base radius) and aspect ratio.
    public var cellSize = 1.0
    public var cellElongation = 1.35
    /// Tubulin: intensity, contrast of radial microtubule filaments, weight of a perinuclear ring.
    public var tubulinIntensity = 1.0
    public var tubulinFibres = 0.45
    public var tubulinPerinuclear = 0.1
    /// Actin: intensity, cortical ring weight, stress-fibre contrast, punctate aggregates weight.
    public var actinIntensity = 1.0
    public var actinCortical = 0.35
    public var actinFibres = 0.4
    public var actinPuncta = 0.0
    /// Fraction of rounded (mitotic-arrest) cells: small, bright, condensed nucleus; round cell.
    public var roundFraction = 0.03
    /// Fraction of cells with two nuclei.
    public var multinucleateFraction = 0.02
    /// Cell count relative to DMSO (toxicity < 1).
    public var density = 1.0

    public init() {}

    // Key paths are immutable values; the array is never mutated.
    nonisolated(unsafe) static let keyPaths: [WritableKeyPath<Phenotype, Double>] = [
        \.nucleusSize, \.nucleusIntensity, \.nucleusTexture, \.nucleusElongation, \.cellSize, \.cellElongation,
        \.tubulinIntensity, \.tubulinFibres, \.tubulinPerinuclear, \.actinIntensity, \.actinCortical,
        \.actinFibres, \.actinPuncta, \.roundFraction, \.multinucleateFraction, \.density,
    ]

    /// `self + f * (target - self)` on every parameter: f = 0 gives self, f = 1 gives target.
    public func interpolated(to target: Phenotype, by f: Double) -> Phenotype {
        var out = self
        for k in Phenotype.keyPaths { out[keyPath: k] = self[keyPath: k] + f * (target[keyPath: k] - self[keyPath: k]) }
        return out
    }

    /// The untreated phenotype.
    public static let control = Phenotype()

    private static func with(_ edit: (inout Phenotype) -> Void) -> Phenotype {
        var p = Phenotype()
        edit(&p)
        return p
    }

    /// Full-effect phenotypes of the 12 BBBC021 mechanisms of action, modelled on their published
    /// descriptions (Caie et al. 2010; Ljosa et al. 2013). Cholesterol-lowering, kinase inhibitors and
    /// epithelial are deliberately subtle.
    public static let byMoA: [String: Phenotype] = [
        "Actin disruptors": with { $0.actinFibres = 0.02; $0.actinCortical = 0.1; $0.actinPuncta = 1.0; $0.cellSize = 0.85; $0.actinIntensity = 1.2 },
        "Aurora kinase inhibitors": with { $0.nucleusSize = 1.45; $0.multinucleateFraction = 0.45; $0.cellSize = 1.3; $0.density = 0.7; $0.nucleusIntensity = 1.15 },
        "Cholesterol-lowering": with { $0.cellSize = 1.08; $0.tubulinIntensity = 0.9; $0.actinIntensity = 1.12; $0.cellElongation = 1.25 },
        "DNA damage": with { $0.nucleusSize = 1.25; $0.nucleusIntensity = 0.85; $0.nucleusTexture = 0.32; $0.cellSize = 1.15; $0.density = 0.75 },
        "DNA replication": with { $0.nucleusSize = 0.88; $0.nucleusIntensity = 1.25; $0.nucleusTexture = 0.26; $0.density = 0.7; $0.nucleusElongation = 1.05 },
        "Eg5 inhibitors": with { $0.roundFraction = 0.55; $0.tubulinPerinuclear = 1.0; $0.tubulinFibres = 0.2 },
        "Epithelial": with { $0.cellElongation = 1.02; $0.actinCortical = 0.75; $0.actinFibres = 0.22; $0.cellSize = 0.93 },
        "Kinase inhibitors": with { $0.cellElongation = 1.7; $0.actinFibres = 0.6; $0.nucleusElongation = 1.35 },
        "Microtubule destabilizers": with { $0.tubulinFibres = 0.0; $0.tubulinIntensity = 0.75; $0.roundFraction = 0.35; $0.cellSize = 0.85 },
        "Microtubule stabilizers": with { $0.tubulinFibres = 1.0; $0.tubulinIntensity = 1.5; $0.tubulinPerinuclear = 0.5; $0.roundFraction = 0.2 },
        "Protein degradation": with { $0.nucleusTexture = 0.3; $0.cellSize = 0.9; $0.tubulinIntensity = 1.2; $0.actinPuncta = 0.35 },
        "Protein synthesis": with { $0.cellSize = 0.8; $0.actinIntensity = 0.8; $0.tubulinIntensity = 0.8; $0.density = 0.8; $0.nucleusSize = 0.92 },
    ]

    /// BBBC021's mechanisms in a fixed order; synthetic screens take the first k.
    public static let moaOrder = [
        "Microtubule destabilizers", "Actin disruptors", "Aurora kinase inhibitors", "DNA damage",
        "Eg5 inhibitors", "Protein synthesis", "Microtubule stabilizers", "DNA replication",
        "Protein degradation", "Kinase inhibitors", "Epithelial", "Cholesterol-lowering",
    ]

    /// The phenotype of `treatment`: control for the control compound; otherwise the MoA's full-effect
    /// phenotype reached by the Hill dose-response f = c^h / (c^h + EC50^h), h = 1.5, with the
    /// compound's EC50 = `ec50`. Unannotated treatments get a stable, compound-specific mixture of two
    /// mechanisms, so they are neither controls nor a known class.
    public static func of(_ treatment: Treatment, control: String, ec50: Double) throws -> Phenotype {
        if treatment.compound == control { return .control }
        let target: Phenotype
        if let moa = treatment.moa {
            guard let p = byMoA[moa] else {
                throw MorphoError.config(key: "moa", problem: "no synthetic phenotype for mechanism '\(moa)' (known: \(moaOrder.joined(separator: ", ")))")
            }
            target = p
        } else {
            let h = stableHash(treatment.compound)
            let a = byMoA[moaOrder[Int(h % 12)]]!, b = byMoA[moaOrder[Int((h >> 8) % 12)]]!
            target = a.interpolated(to: b, by: Double((h >> 16) % 100) / 100)
        }
        return Phenotype.control.interpolated(to: target, by: effect(concentration: treatment.concentration, ec50: ec50))
    }

    /// How far a dose moves cells from DMSO towards the full phenotype: the Hill curve
    /// f = c^h / (c^h + EC50^h), h = 1.5 (0 for c <= 0).
    public static func effect(concentration: Double, ec50: Double) -> Double {
        let c = max(concentration, 0), hill = 1.5
        return c <= 0 ? 0 : pow(c, hill) / (pow(c, hill) + pow(ec50, hill))
    }
}

import Foundation
