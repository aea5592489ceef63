// Swift-callable wrappers over libtiff. libtiff's field accessors are variadic and its default
// error handler is process-global and prints to stderr; these wrappers give typed accessors and
// capture every error of one open file into a per-file buffer (libtiff >= 4.5 TIFFOpenOptions).
#ifndef MORPHO_CTIFF_SHIM_H
#define MORPHO_CTIFF_SHIM_H
#include <tiffio.h>
#include <stdio.h>
#include <string.h>
#include <stdarg.h>

typedef struct {
    char message[1024];
    int count;
} MorphoTIFFErrorBuffer;

static int morpho_tiff_error_handler(TIFF *tif, void *user_data, const char *module, const char *fmt, va_list ap) {
    (void)tif;
    MorphoTIFFErrorBuffer *buf = (MorphoTIFFErrorBuffer *)user_data;
    if (buf == NULL) return 1;
    if (buf->count == 0) {  // keep the first error: later ones are usually consequences
        char text[900];
        vsnprintf(text, sizeof text, fmt, ap);
        snprintf(buf->message, sizeof buf->message, "%s%s%s", module ? module : "", module ? ": " : "", text);
    }
    buf->count += 1;
    return 1;
}

static int morpho_tiff_warning_handler(TIFF *tif, void *user_data, const char *module, const char *fmt, va_list ap) {
    (void)tif; (void)user_data; (void)module; (void)fmt; (void)ap;
    return 1;  // warnings (unknown private tags and the like) are not errors
}

/// Opens `path` with `mode` ("r", "w", "w8" for BigTIFF), routing errors into `errors`.
static inline TIFF *morpho_tiff_open(const char *path, const char *mode, MorphoTIFFErrorBuffer *errors) {
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (opts == NULL) return NULL;
    TIFFOpenOptionsSetErrorHandlerExtR(opts, morpho_tiff_error_handler, errors);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, morpho_tiff_warning_handler, NULL);
    TIFF *tif = TIFFOpenExt(path, mode, opts);
    TIFFOpenOptionsFree(opts);
    return tif;
}

static inline int morpho_tiff_get_u16(TIFF *tif, uint32_t tag, uint16_t *value) {
    return TIFFGetFieldDefaulted(tif, tag, value);
}
static inline int morpho_tiff_get_u32(TIFF *tif, uint32_t tag, uint32_t *value) {
    return TIFFGetFieldDefaulted(tif, tag, value);
}
static inline int morpho_tiff_set_u16(TIFF *tif, uint32_t tag, uint16_t value) {
    return TIFFSetField(tif, tag, (unsigned)value);
}
static inline int morpho_tiff_set_u32(TIFF *tif, uint32_t tag, uint32_t value) {
    return TIFFSetField(tif, tag, value);
}
static inline int morpho_tiff_set_string(TIFF *tif, uint32_t tag, const char *value) {
    return TIFFSetField(tif, tag, value);
}
#endif
