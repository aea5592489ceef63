// glibc's malloc tuning, for the command-line tool (see Morpho.main).
#ifndef MORPHO_CMALLOC_SHIM_H
#define MORPHO_CMALLOC_SHIM_H
#include <malloc.h>

/// Keeps freed blocks of up to 32 MiB (glibc's largest mmap threshold on 64-bit) in the heap and
/// trims it only above 1 GiB free, so per-image buffers are reused instead of faulted in again.
static inline void morpho_keep_freed_memory(void) {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
}
#endif
