// OpenBLAS (CBLAS) and LAPACKE, for the linear algebra of the profile stages.
#ifndef MORPHO_CLAPACK_SHIM_H
#define MORPHO_CLAPACK_SHIM_H
#include <cblas.h>
#include <lapacke.h>
#endif
