"""Writes the TIFF format-matrix fixtures of Tests/MorphoIOTests/Fixtures/tiff with tifffile.

Pixel values follow formulas that the Swift tests recompute on their own, so the fixtures test
Morpho's reader against tifffile's writer without trusting either's reader. Run once:
    .venv-test/bin/python scripts/make_tiff_fixtures.py
"""
import json, pathlib
import numpy as np
import tifffile

OUT = pathlib.Path(__file__).resolve().parent.parent / "Tests/MorphoIOTests/Fixtures/tiff"
W, H = 40, 30


def values(dtype, pages, samples):
    y, x = np.mgrid[0:H, 0:W].astype(np.int64)
    planes = []
    for p in range(pages):
        for s in range(samples):
            if dtype == "uint8":
                v = (x * 7 + y * 13 + p * 31 + s * 17) % 251
            elif dtype == "uint16":
                v = (x * 1031 + y * 257 + p * 4099 + s * 97) % 65521
            elif dtype == "int16":
                v = (x * 1031 + y * 257 + p * 4099 + s * 97) % 60000 - 30000
            else:  # float32
                v = np.sin(x * 0.3) * np.cos(y * 0.2) * 100.0 + p + s * 0.5
            planes.append(v.astype(dtype))
    return planes


def write(name, dtype, compression=None, tile=None, pages=1, samples=1, planar=None, predictor=None, byteorder="<"):
    planes = values(dtype, pages, samples)
    path = OUT / name
    kw = dict(compression=compression, byteorder=byteorder, metadata=None)
    if tile:
        kw["tile"] = tile
    else:
        kw["rowsperstrip"] = 7
    if predictor:
        kw["predictor"] = predictor
    with tifffile.TiffWriter(path, byteorder=byteorder) as tw:
        for p in range(pages):
            page = planes[p * samples:(p + 1) * samples]
            if samples == 1:
                data = page[0]
                tw.write(data, photometric="minisblack", **{k: v for k, v in kw.items() if k != "byteorder"})
            elif planar == "separate":
                tw.write(np.stack(page, 0), photometric="rgb", planarconfig="separate", **{k: v for k, v in kw.items() if k != "byteorder"})
            else:
                tw.write(np.stack(page, -1), photometric="rgb", planarconfig="contig", **{k: v for k, v in kw.items() if k != "byteorder"})
    return dict(file=name, dtype=dtype, width=W, height=H, pages=pages, samples=samples)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    cases = []
    for dtype in ["uint8", "uint16", "int16", "float32"]:
        for comp in [None, "lzw", "zlib", "packbits"]:
            for tile in [None, (16, 16)]:
                name = f"{dtype}_{comp or 'none'}_{'tiled' if tile else 'stripped'}.tif"
                cases.append(write(name, dtype, compression=comp, tile=tile))
    cases.append(write("uint16_lzw_predictor.tif", "uint16", compression="lzw", predictor=True))
    cases.append(write("float32_zlib_predictor.tif", "float32", compression="zlib", predictor=True))
    cases.append(write("uint16_bigendian.tif", "uint16", byteorder=">"))
    cases.append(write("float32_bigendian_zlib.tif", "float32", compression="zlib", byteorder=">"))
    cases.append(write("uint16_multipage_zlib.tif", "uint16", compression="zlib", pages=3))
    cases.append(write("uint8_multipage_tiled.tif", "uint8", tile=(16, 16), pages=2))
    cases.append(write("uint8_rgb_contig.tif", "uint8", samples=3))
    cases.append(write("uint16_rgb_planar_lzw.tif", "uint16", compression="lzw", samples=3, planar="separate"))
    # Unsupported sample formats: the reader must refuse them with a clear error.
    tifffile.imwrite(OUT / "unsupported_float16.tif", np.ones((H, W), np.float16))
    tifffile.imwrite(OUT / "unsupported_complex64.tif", np.ones((H, W), np.complex64))
    (OUT / "cases.json").write_text(json.dumps(cases, indent=1) + "\n")
    print(f"{len(cases)} fixtures in {OUT}")


main()
