// Swift-callable wrappers over libhdf5. HDF5's type and property-list identifiers are macros over
// mutable `_g` globals, which neither import into Swift nor pass Swift 6 concurrency checking; these
// static inline functions return them by value.
#ifndef MORPHO_CHDF5_SHIM_H
#define MORPHO_CHDF5_SHIM_H
#include <hdf5.h>

static inline hid_t morpho_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t morpho_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t morpho_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t morpho_h5t_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t morpho_h5t_ieee_f64le(void) { return H5T_IEEE_F64LE; }
static inline hid_t morpho_h5t_std_i64le(void) { return H5T_STD_I64LE; }
static inline hid_t morpho_h5t_c_s1(void) { return H5T_C_S1; }
static inline hid_t morpho_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t morpho_h5p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t morpho_h5p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t morpho_h5p_group_create(void) { return H5P_GROUP_CREATE; }
static inline hid_t morpho_h5s_all(void) { return H5S_ALL; }
static inline unsigned morpho_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned morpho_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned morpho_h5f_acc_rdwr(void) { return H5F_ACC_RDWR; }
static inline size_t morpho_h5t_variable(void) { return H5T_VARIABLE; }
static inline hsize_t morpho_h5s_unlimited(void) { return H5S_UNLIMITED; }

/// Silences HDF5's automatic error-stack printing; Morpho reports errors itself.
static inline void morpho_h5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
#endif
