"""pycytominer reference values for Tests/ProfilingTests (an independent implementation).

    python scripts/pycytominer_profiling.py INPUT.csv OUT_DIR

Writes: aggregate_mean.csv, aggregate_median.csv (by Metadata_Plate + Metadata_Well),
standardize.csv (per-plate z-score against Metadata_Compound == 'DMSO', pycytominer's StandardScaler,
population sd) and robust.csv (mad_robustize against DMSO).
"""
import json, pathlib, sys
import pandas as pd
import pycytominer

src, out = sys.argv[1], pathlib.Path(sys.argv[2])
df = pd.read_csv(src)
features = [c for c in df.columns if not c.startswith("Metadata_")]
meta = [c for c in df.columns if c.startswith("Metadata_")]
for op in ["mean", "median"]:
    pycytominer.aggregate(df, strata=["Metadata_Plate", "Metadata_Well"], features=features, operation=op).to_csv(
        out / f"aggregate_{op}.csv", index=False)
for method, name in [("standardize", "standardize"), ("mad_robustize", "robust")]:
    parts = []
    for plate, group in df.groupby("Metadata_Plate", sort=True):
        parts.append(pycytominer.normalize(group, features=features, meta_features=meta, method=method,
                                           samples="Metadata_Compound == 'DMSO'", mad_robustize_epsilon=0))
    pd.concat(parts).sort_index().to_csv(out / f"{name}.csv", index=False)
print(json.dumps({"features": len(features), "rows": len(df)}))
