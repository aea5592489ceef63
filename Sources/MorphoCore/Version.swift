/// Morpho's version, written into every output's provenance.
public enum MorphoVersion {
    public static let current = "0.1.0"
}
