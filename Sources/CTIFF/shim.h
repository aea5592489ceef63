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

/// A file already read into memory, read by libtiff through client procedures: one read(2) for the
/// whole file instead of one per strip, and strips decoded straight from the buffer (the "map").
typedef struct {
    const uint8_t *data;
    uint64_t size;
    uint64_t position;
} MorphoTIFFMemory;

static tmsize_t morpho_tiff_mem_read(thandle_t h, void *buf, tmsize_t n) {
    MorphoTIFFMemory *m = (MorphoTIFFMemory *)h;
    if (n <= 0 || m->position >= m->size) return 0;
    uint64_t count = (uint64_t)n < m->size - m->position ? (uint64_t)n : m->size - m->position;
    memcpy(buf, m->data + m->position, (size_t)count);
    m->position += count;
    return (tmsize_t)count;
}
static tmsize_t morpho_tiff_mem_write(thandle_t h, void *buf, tmsize_t n) { (void)h; (void)buf; (void)n; return -1; }
static toff_t morpho_tiff_mem_seek(thandle_t h, toff_t off, int whence) {
    MorphoTIFFMemory *m = (MorphoTIFFMemory *)h;
    uint64_t base = whence == SEEK_CUR ? m->position : whence == SEEK_END ? m->size : 0;
    m->position = base + off;
    return m->position;
}
static int morpho_tiff_mem_close(thandle_t h) { (void)h; return 0; }
static toff_t morpho_tiff_mem_size(thandle_t h) { return ((MorphoTIFFMemory *)h)->size; }
static int morpho_tiff_mem_map(thandle_t h, void **base, toff_t *size) {
    MorphoTIFFMemory *m = (MorphoTIFFMemory *)h;
    *base = (void *)m->data;
    *size = m->size;
    return 1;
}
static void morpho_tiff_mem_unmap(thandle_t h, void *base, toff_t size) { (void)h; (void)base; (void)size; }

/// Opens the TIFF held in `memory` for reading (`name` appears in libtiff's messages).
static inline TIFF *morpho_tiff_open_memory(MorphoTIFFMemory *memory, const char *name, MorphoTIFFErrorBuffer *errors) {
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (opts == NULL) return NULL;
    TIFFOpenOptionsSetErrorHandlerExtR(opts, morpho_tiff_error_handler, errors);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, morpho_tiff_warning_handler, NULL);
    TIFF *tif = TIFFClientOpenExt(name, "r", (thandle_t)memory, morpho_tiff_mem_read, morpho_tiff_mem_write,
                                  morpho_tiff_mem_seek, morpho_tiff_mem_close, morpho_tiff_mem_size,
                                  morpho_tiff_mem_map, morpho_tiff_mem_unmap, opts);
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
