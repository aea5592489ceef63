// A small C API over OpenCV core + imgproc (and imgcodecs, to read PNG) for Morpho's image stages.
// Every image is a contiguous, row-major, single-channel raster of width x height (mcv_read_image
// returns its channels as consecutive such planes). Every function returns 0 on success and -1 on
// failure, with OpenCV's message in mcv_last_error() (per thread); no C++ exception crosses this API.
// OpenCV's own thread pool is switched off (cv::setNumThreads(1)) when the library loads: Morpho
// parallelizes over images, and nested pools only oversubscribe the cores.
#ifndef MORPHO_OPENCV_BRIDGE_H
#define MORPHO_OPENCV_BRIDGE_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The message of the last failure on the calling thread ("" if none).
const char *mcv_last_error(void);

/// Reads an image file (PNG, JPEG, ... through OpenCV's imgcodecs, native bit depth kept) into a
/// malloc'd planar float buffer *pixels (channel-major; free it with mcv_free). depth: 8 or 16 bits.
/// Fails for a missing, corrupt or unsupported file and for depths other than 8 and 16 bits.
int mcv_read_image(const char *path, int *width, int *height, int *channels, int *depth, float **pixels);
void mcv_free(void *pointer);

/// Gaussian blur of a float image with standard deviation sigma (kernel radius 4 sigma, edges
/// replicated, as scikit-image's gaussian(mode="nearest", truncate=4)). src and dst may alias.
int mcv_gaussian_blur_f32(const float *src, float *dst, int width, int height, double sigma);

/// Resizes a float image: area averaging when shrinking (interpolation 3 = INTER_AREA), bilinear
/// when enlarging (1 = INTER_LINEAR).
int mcv_resize_f32(const float *src, int width, int height, float *dst, int dstWidth, int dstHeight,
                   int interpolation);

/// OpenCV's elliptic structuring element of size (2 radius + 1)^2 (MORPH_ELLIPSE): writes 1 for the
/// disk's pixels and 0 elsewhere, row-major, into out.
int mcv_disk_kernel(int radius, uint8_t *out);

/// Connected components of a binary mask (non-zero = foreground) with 4- or 8-connectivity.
/// Writes labels 0 (background), 1...n-1 and returns n (the count including background), or -1.
int mcv_connected_components(const uint8_t *mask, int width, int height, int connectivity, int32_t *labels);

/// Euclidean distance from every foreground pixel of a mask to the nearest background pixel: exact
/// when `precise`, else OpenCV's 5x5 chamfer approximation (within about 2%, several times faster).
int mcv_distance_transform(const uint8_t *mask, float *dst, int width, int height, int precise);

#ifdef __cplusplus
}
#endif
#endif
