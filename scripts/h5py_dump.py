"""Reads an HDF5 file with h5py and prints every dataset and attribute as JSON (for the tests).

    python scripts/h5py_dump.py FILE.h5
"""
import json, sys
import h5py
import numpy as np

out = {"datasets": {}, "attrs": {}}


def attrs(name, obj):
    for k, v in obj.attrs.items():
        out["attrs"][f"{name}@{k}"] = v.decode() if isinstance(v, bytes) else (v.item() if hasattr(v, "item") else v)


def visit(name, obj):
    attrs("/" + name, obj)
    if isinstance(obj, h5py.Dataset):
        if h5py.check_string_dtype(obj.dtype):
            values = [s for s in obj.asstr()[()]]
        else:
            values = np.asarray(obj[()], dtype=np.float64).ravel().tolist()
        out["datasets"]["/" + name] = {"shape": list(obj.shape), "dtype": str(obj.dtype), "values": values,
                                        "chunks": list(obj.chunks) if obj.chunks else None,
                                        "compression": obj.compression}


with h5py.File(sys.argv[1], "r") as f:
    attrs("/", f)
    f.visititems(visit)
print(json.dumps(out, allow_nan=True))
