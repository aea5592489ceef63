"""The image stages of `morpho bench image-stages` in scikit-image, on the same files.

For each field: read 3 uint16 TIFFs (tifffile), divide by the illumination functions, segment the DNA
channel (gaussian sigma 1, threshold_otsu, ndimage.binary_fill_holes, intensity declumping with
peak_local_max on gaussian(min_diameter / 3.5) + watershed on the inverted smoothed image, size
filter), regionprops (centroid, area, bbox, mean intensity), 96 px crops of all channels (skip at the
edges, divide each channel by the crop maximum). Runs all fields --repeats times (workers started and
illumination functions read once, before timing) and prints "<best seconds> <cells>".
Usage: bench_skimage.py DIR [--threads N] [--repeats R] [--min-diameter D] [--max-diameter D]
"""
import argparse
import glob
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import tifffile
from scipy import ndimage as ndi
from skimage.feature import peak_local_max
from skimage.filters import gaussian, threshold_otsu
from skimage.measure import label, regionprops
from skimage.segmentation import watershed

ARGS = None
ILLUM = None


def init(directory, min_d, max_d):
    global ARGS, ILLUM
    ARGS = (min_d, max_d)
    ILLUM = [tifffile.imread(os.path.join(directory, f"illum_c{c}.tif")).astype(np.float32) for c in range(3)]


def field(prefix):
    min_d, max_d = ARGS
    channels = [tifffile.imread(f"{prefix}_c{c}.tif").astype(np.float32) / ILLUM[c] for c in range(3)]
    dna = channels[0]
    smoothed = gaussian(dna, sigma=1, mode="nearest", preserve_range=True)
    mask = ndi.binary_fill_holes(smoothed > threshold_otsu(smoothed))
    seeds_surface = gaussian(dna, sigma=min_d / 3.5, mode="nearest", preserve_range=True)
    radius = max(1, int(round(min_d / 1.5 - 0.5)))
    components = label(mask, connectivity=2)
    peaks = peak_local_max(seeds_surface, min_distance=radius, labels=components, exclude_border=False)
    markers = np.zeros(dna.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    labels = watershed(-seeds_surface, markers, mask=mask, connectivity=2)
    cells = 0
    h, w = dna.shape
    for region in regionprops(labels, intensity_image=dna):
        d = 2 * np.sqrt(region.area / np.pi)
        if d < min_d or d > max_d:
            continue
        _ = region.bbox, region.intensity_mean
        cy, cx = region.centroid
        x0, y0 = int(round(cx)) - 48, int(round(cy)) - 48
        if x0 < 0 or y0 < 0 or x0 + 96 > w or y0 + 96 > h:
            continue
        crop = np.stack([c[y0:y0 + 96, x0:x0 + 96] for c in channels])
        top = crop.reshape(3, -1).max(axis=1)
        crop = np.where(top[:, None, None] > 0, crop / np.maximum(top, 1e-30)[:, None, None], 0)
        cells += 1
    return cells


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--min-diameter", type=float, default=12)
    parser.add_argument("--max-diameter", type=float, default=60)
    parser.add_argument("--repeats", type=int, default=1)
    a = parser.parse_args()
    prefixes = sorted({p[:-7] for p in glob.glob(os.path.join(a.dir, "f*_c0.tif"))})
    times = []
    if a.threads == 1:
        init(a.dir, a.min_diameter, a.max_diameter)
        for _ in range(a.repeats):
            start = time.perf_counter()
            cells = sum(field(p) for p in prefixes)
            times.append(time.perf_counter() - start)
    else:
        with ProcessPoolExecutor(a.threads, initializer=init, initargs=(a.dir, a.min_diameter, a.max_diameter)) as pool:
            list(pool.map(time.sleep, [0] * a.threads))  # start the workers before timing
            for _ in range(a.repeats):
                start = time.perf_counter()
                cells = sum(pool.map(field, prefixes))
                times.append(time.perf_counter() - start)
    print(f"{min(times):.3f} {cells}")


if __name__ == "__main__":
    main()
