// Implementation of OpenCVBridge.h over OpenCV 4 core + imgproc + imgcodecs.
#include "OpenCVBridge.h"
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <cmath>
#include <cstdlib>
#include <vector>
#include <exception>
#include <string>

namespace {
thread_local std::string lastError;

template <typename F> int guarded(F body) {
    try {
        lastError.clear();
        return body();
    } catch (const cv::Exception &e) {
        lastError = e.what();
    } catch (const std::exception &e) {
        lastError = e.what();
    } catch (...) {
        lastError = "unknown C++ exception";
    }
    return -1;
}

[[maybe_unused]] const int singleThreaded = (cv::setNumThreads(1), 0);

bool badSize(int width, int height) {
    if (width > 0 && height > 0) return false;
    lastError = "image size must be positive, got " + std::to_string(width) + "x" + std::to_string(height);
    return true;
}
}  // namespace

extern "C" const char *mcv_last_error(void) { return lastError.c_str(); }

extern "C" int mcv_read_image(const char *path, int *width, int *height, int *channels, int *depth, float **pixels) {
    *pixels = nullptr;
    return guarded([&] {
        cv::Mat image = cv::imread(path, cv::IMREAD_UNCHANGED);
        if (image.empty()) {
            lastError = "cannot decode (missing, corrupt or unsupported file)";
            return -1;
        }
        if (image.depth() != CV_8U && image.depth() != CV_16U) {
            lastError = "unsupported sample depth (only 8 and 16 bits)";
            return -1;
        }
        *width = image.cols; *height = image.rows; *channels = image.channels();
        *depth = image.depth() == CV_8U ? 8 : 16;
        std::vector<cv::Mat> planes;
        cv::split(image, planes);
        if (planes.size() >= 3) std::swap(planes[0], planes[2]);  // OpenCV's BGR(A) order -> RGB(A)
        const size_t plane = size_t(image.cols) * size_t(image.rows);
        float *out = static_cast<float *>(std::malloc(plane * planes.size() * sizeof(float)));
        if (out == nullptr) { lastError = "out of memory"; return -1; }
        for (size_t c = 0; c < planes.size(); c++) {
            cv::Mat target(image.rows, image.cols, CV_32F, out + c * plane);
            planes[c].convertTo(target, CV_32F);
        }
        *pixels = out;
        return 0;
    });
}

extern "C" void mcv_free(void *pointer) { std::free(pointer); }

extern "C" int mcv_gaussian_blur_f32(const float *src, float *dst, int width, int height, double sigma) {
    if (badSize(width, height)) return -1;
    return guarded([&] {
        cv::Mat in(height, width, CV_32F, const_cast<float *>(src));
        cv::Mat out(height, width, CV_32F, dst);
        int radius = static_cast<int>(4.0 * sigma + 0.5);
        cv::GaussianBlur(in, out, cv::Size(2 * radius + 1, 2 * radius + 1), sigma, sigma, cv::BORDER_REPLICATE);
        return 0;
    });
}

extern "C" int mcv_resize_f32(const float *src, int width, int height, float *dst, int dstWidth, int dstHeight,
                              int interpolation) {
    if (badSize(width, height) || badSize(dstWidth, dstHeight)) return -1;
    return guarded([&] {
        cv::Mat in(height, width, CV_32F, const_cast<float *>(src));
        cv::Mat out(dstHeight, dstWidth, CV_32F, dst);
        cv::resize(in, out, out.size(), 0, 0, interpolation);
        return 0;
    });
}

extern "C" int mcv_disk_kernel(int radius, uint8_t *out) {
    if (radius < 0) {
        lastError = "disk radius must be >= 0, got " + std::to_string(radius);
        return -1;
    }
    return guarded([&] {
        cv::Mat disk = cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * radius + 1, 2 * radius + 1));
        disk.copyTo(cv::Mat(disk.rows, disk.cols, CV_8U, out));
        return 0;
    });
}

extern "C" int mcv_connected_components(const uint8_t *mask, int width, int height, int connectivity,
                                        int32_t *labels) {
    if (badSize(width, height)) return -1;
    return guarded([&] {
        cv::Mat in(height, width, CV_8U, const_cast<uint8_t *>(mask));
        cv::Mat out(height, width, CV_32S, labels);
        return cv::connectedComponents(in, out, connectivity, CV_32S);
    });
}

extern "C" int mcv_distance_transform(const uint8_t *mask, float *dst, int width, int height, int precise) {
    if (badSize(width, height)) return -1;
    return guarded([&] {
        cv::Mat in(height, width, CV_8U, const_cast<uint8_t *>(mask));
        cv::Mat out(height, width, CV_32F, dst);
        cv::distanceTransform(in, out, cv::DIST_L2, precise ? cv::DIST_MASK_PRECISE : cv::DIST_MASK_5, CV_32F);
        return 0;
    });
}
