"""pycytominer side of the interoperability test (Tests/MorphoIOTests/TableTests.swift).

    python scripts/pycytominer_interop.py MORPHO_CSV OUT_DIR

Loads a CSV written by Morpho with pycytominer, writes it back unchanged (read_back.csv.gz), and
writes pycytominer's own outputs for Morpho to read: per-well means (aggregate.csv.gz) and profiles
standardised against DMSO wells (normalized.csv). Prints what pycytominer inferred as JSON.
"""
import json, pathlib, sys
import pycytominer
from pycytominer.cyto_utils import infer_cp_features, load_profiles, output

source, out = sys.argv[1], pathlib.Path(sys.argv[2])
df = load_profiles(source)
features = infer_cp_features(df)
meta = infer_cp_features(df, metadata=True)
output(df, str(out / "read_back.csv.gz"))
agg = pycytominer.aggregate(df, strata=["Metadata_Plate", "Metadata_Well"], features="infer", operation="mean")
output(agg, str(out / "aggregate.csv.gz"))
norm = pycytominer.normalize(agg, features="infer", samples="Metadata_Well in ['A01', 'A02']", method="standardize")
output(norm, str(out / "normalized.csv"), compression_options=None)
print(json.dumps({"rows": len(df), "features": features, "metadata": meta, "wells": len(agg)}))
