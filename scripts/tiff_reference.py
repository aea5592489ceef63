"""Prints reference values of TIFF files as read by tifffile (an independent reader), as JSON.

For each file and each plane (page x sample): shape, dtype, sum, sum of squares, a position-weighted
checksum sum(v * ((i mod 1009) + 1)) over the row-major pixel index i, and 16 sampled pixels.
Used live by the tests when the test venv exists, and once to record
Tests/MorphoIOTests/Fixtures/real_tiffs.json:
    .venv-test/bin/python scripts/tiff_reference.py ../shared/data/real --relative-to ../shared/data/real
"""
import json, pathlib, sys
import numpy as np
import tifffile


def planes(path):
    with tifffile.TiffFile(path) as tf:
        for page in tf.pages:
            a = page.asarray()
            spp = page.samplesperpixel
            if spp == 1:
                yield a.reshape(page.imagelength, page.imagewidth)
            elif page.planarconfig == 2:  # separate
                for s in range(spp):
                    yield a[s]
            else:
                for s in range(spp):
                    yield a[..., s]


def describe(a):
    flat = a.astype(np.float64).ravel()
    idx = np.arange(flat.size)
    h, w = a.shape
    samples = [(int(x), int(y)) for x, y in zip(np.linspace(0, w - 1, 4).astype(int).repeat(4),
                                                 np.tile(np.linspace(0, h - 1, 4).astype(int), 4))]
    return dict(width=w, height=h, dtype=str(a.dtype), sum=float(flat.sum()), sumsq=float((flat * flat).sum()),
                weighted=float((flat * ((idx % 1009) + 1)).sum()),
                samples=[[x, y, float(a[y, x])] for x, y in samples])


def main():
    args = sys.argv[1:]
    rel = None
    if "--relative-to" in args:
        i = args.index("--relative-to")
        rel = pathlib.Path(args[i + 1]).resolve()
        args = args[:i] + args[i + 2:]
    files = []
    for a in args:
        p = pathlib.Path(a)
        files += sorted(q for q in p.rglob("*") if q.suffix.lower() in (".tif", ".tiff")) if p.is_dir() else [p]
    out = {}
    for f in files:
        key = str(f.resolve().relative_to(rel)) if rel else str(f)
        out[key] = [describe(a) for a in planes(f)]
    json.dump(out, sys.stdout, indent=1)
    print()


main()
