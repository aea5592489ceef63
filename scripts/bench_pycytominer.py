"""pycytominer side of `morpho bench profiles`: the same work on the same data, timed in this process.

    python scripts/bench_pycytominer.py DATA_DIR

DATA_DIR holds features.f32 (row-major float32, rows x features), features.txt (names) and
metadata.csv (Metadata_Plate, Metadata_Well, Metadata_Compound). Steps: normalize (standardize against
DMSO), normalize (spherize, ZCA-cor, fitted on DMSO), aggregate (mean per plate and well).
Prints JSON: seconds (the three steps) and peak_kb (peak resident memory of this process).
"""
import json, pathlib, resource, sys, time
import numpy as np
import pandas as pd
import pycytominer

d = pathlib.Path(sys.argv[1])
names = (d / "features.txt").read_text().split()
meta = pd.read_csv(d / "metadata.csv")
x = np.fromfile(d / "features.f32", dtype=np.float32).reshape(len(meta), len(names))
df = pd.concat([meta, pd.DataFrame(x, columns=names)], axis=1)
del x
start = time.perf_counter()
df = pycytominer.normalize(df, features=names, meta_features=list(meta.columns), method="standardize",
                           samples="Metadata_Compound == 'DMSO'")
df = pycytominer.normalize(df, features=names, meta_features=list(meta.columns), method="spherize",
                           spherize_method="ZCA-cor", samples="Metadata_Compound == 'DMSO'")
agg = pycytominer.aggregate(df, strata=["Metadata_Plate", "Metadata_Well"], features=names, operation="mean")
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "wells": len(agg), "first": float(agg[names[0]].iloc[0])}))
