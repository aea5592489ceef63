"""The scikit-image baseline of `morpho bench segmentation`: the textbook recipe, fixed settings.

For each DIR/case<k>.tif (float32): gaussian(sigma=1), threshold_otsu, binary_fill_holes, Euclidean
distance transform, seeds = peak_local_max(distance, min_distance=7, labels=connected components),
watershed(-distance, seeds, mask), objects under 30 px removed. Writes DIR/case<k>_labels.tif.
Usage: segment_skimage.py DIR COUNT
"""
import os
import sys

import numpy as np
import tifffile
from scipy import ndimage as ndi
from skimage.feature import peak_local_max
from skimage.filters import gaussian, threshold_otsu
from skimage.measure import label
from skimage.morphology import remove_small_objects
from skimage.segmentation import watershed


def segment(image):
    smoothed = gaussian(image, sigma=1, mode="nearest", preserve_range=True)
    mask = ndi.binary_fill_holes(smoothed > threshold_otsu(smoothed))
    distance = ndi.distance_transform_edt(mask)
    components = label(mask, connectivity=2)
    peaks = peak_local_max(distance, min_distance=7, labels=components, exclude_border=False)
    markers = np.zeros(image.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    labels = watershed(-distance, markers, mask=mask, connectivity=2)
    return remove_small_objects(labels, 30)


def main():
    directory, count = sys.argv[1], int(sys.argv[2])
    for k in range(count):
        image = tifffile.imread(os.path.join(directory, f"case{k}.tif")).astype(np.float32)
        tifffile.imwrite(os.path.join(directory, f"case{k}_labels.tif"), segment(image).astype(np.float32))


if __name__ == "__main__":
    main()
