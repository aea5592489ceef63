// A small C API over LibTorch (ATen + autograd + TorchScript loading) for Morpho's neural-network engine,
// in the style of TorchSharp or tch: tensors are opaque handles owned by the caller (free with mt_free);
// every function catches C++ exceptions. On failure a handle-returning function returns NULL and an
// int-returning one returns -1, with LibTorch's message (without backtrace) in mt_last_error(), per thread.
// Models, losses, optimizers and training loops are written in Swift on top of this.
#ifndef MORPHO_TORCH_BRIDGE_H
#define MORPHO_TORCH_BRIDGE_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_tensor_s *mt_tensor;
typedef struct mt_module_s *mt_module;

/// Element types crossing the bridge.
enum { MT_FLOAT32 = 0, MT_FLOAT64 = 1, MT_INT64 = 2, MT_BOOL = 3 };

/// The message of the last failure on the calling thread ("" if none).
const char *mt_last_error(void);
void mt_free(mt_tensor t);

// MARK: runtime
int mt_set_num_threads(int n);
int mt_num_threads(void);
void mt_manual_seed(uint64_t seed);
/// Enables or disables gradient recording on this thread; returns the previous state (0/1).
int mt_set_grad_enabled(int enabled);
int mt_grad_enabled(void);
/// Records every LibTorch operator on every thread until mt_trace_stop, which writes them to `path` as a
/// Chrome trace (chrome://tracing, Perfetto). One recording at a time.
int mt_trace_start(const char *path);
int mt_trace_stop(void);

// MARK: data in and out
/// A new tensor of `shape` holding a copy of `count` elements of `dtype` from `data`; `count` must equal
/// the product of the shape.
mt_tensor mt_from_data(const void *data, int dtype, int64_t count, const int64_t *shape, int ndim);
/// Copies the tensor's elements (converted to `dtype`, in logical row-major order) into `out`, which
/// holds `count` elements; `count` must equal the tensor's element count.
int mt_copy_data(mt_tensor t, void *out, int dtype, int64_t count);
int mt_ndim(mt_tensor t);
/// Writes up to `max` sizes into `out`; returns the number of dimensions.
int mt_shape(mt_tensor t, int64_t *out, int max);
int mt_dtype(mt_tensor t);
/// 1 when the tensor is laid out channels-last (NHWC strides), else 0.
int mt_is_channels_last(mt_tensor t);

// MARK: factories (the global generator for random ones; see mt_manual_seed)
mt_tensor mt_zeros(const int64_t *shape, int ndim, int dtype);
mt_tensor mt_full(const int64_t *shape, int ndim, double value, int dtype);
mt_tensor mt_randn(const int64_t *shape, int ndim);
mt_tensor mt_rand(const int64_t *shape, int ndim);
mt_tensor mt_arange(int64_t n, int dtype);

// MARK: element-wise
enum {
    MT_NEG = 0, MT_EXP, MT_LOG, MT_SQRT, MT_RELU, MT_SIGMOID, MT_TANH, MT_ABS, MT_COS, MT_SIN, MT_ACOS,
    MT_SQUARE, MT_RSQRT, MT_SIGN, MT_FLOOR, MT_LOGICAL_NOT
};
mt_tensor mt_unary(mt_tensor a, int op);
enum { MT_ADD = 0, MT_SUB, MT_MUL, MT_DIV, MT_POW, MT_MAXIMUM, MT_MINIMUM, MT_EQ, MT_GT, MT_LT, MT_GE, MT_LE };
/// Broadcasting binary operation.
mt_tensor mt_binary(mt_tensor a, mt_tensor b, int op);
/// Binary operation with a scalar on the right (MT_ADD ... MT_LE as above).
mt_tensor mt_binary_scalar(mt_tensor a, double s, int op);
/// where(condition, a, b).
mt_tensor mt_where(mt_tensor condition, mt_tensor a, mt_tensor b);
mt_tensor mt_clamp(mt_tensor a, double lo, double hi);
/// Replaces the tensor by a copy in `dtype` (same handle, same requires-grad; the gradient is dropped).
int mt_convert_(mt_tensor a, int dtype);
mt_tensor mt_to_dtype(mt_tensor a, int dtype);

// MARK: in place (optimizers, running statistics; never recorded by autograd when grad is disabled)
/// a += alpha * b
int mt_add_(mt_tensor a, mt_tensor b, double alpha);
/// a *= s
int mt_mul_scalar_(mt_tensor a, double s);
/// a += value * b * c
int mt_addcmul_(mt_tensor a, mt_tensor b, mt_tensor c, double value);
/// a += value * b / c
int mt_addcdiv_(mt_tensor a, mt_tensor b, mt_tensor c, double value);
/// a <- b (same element count; broadcasting as copy_)
int mt_copy_(mt_tensor a, mt_tensor b);
int mt_fill_(mt_tensor a, double value);

// MARK: reductions (ndims == 0 reduces over all dimensions)
enum { MT_SUM = 0, MT_MEAN, MT_AMAX, MT_AMIN, MT_ARGMAX, MT_VAR, MT_LOGSUMEXP };
mt_tensor mt_reduce(mt_tensor a, int op, const int64_t *dims, int ndims, int keepdim);

// MARK: shapes and indexing
mt_tensor mt_reshape(mt_tensor a, const int64_t *shape, int ndim);
mt_tensor mt_permute(mt_tensor a, const int64_t *dims, int ndim);
mt_tensor mt_transpose(mt_tensor a, int64_t d0, int64_t d1);
/// memory_format 0 = contiguous (row-major), 1 = channels_last (4-D only).
mt_tensor mt_contiguous(mt_tensor a, int memory_format);
mt_tensor mt_narrow(mt_tensor a, int64_t dim, int64_t start, int64_t length);
mt_tensor mt_index_select(mt_tensor a, int64_t dim, mt_tensor index);
mt_tensor mt_cat(const mt_tensor *tensors, int n, int64_t dim);
mt_tensor mt_flip(mt_tensor a, const int64_t *dims, int ndims);
mt_tensor mt_rot90(mt_tensor a, int64_t k, int64_t d0, int64_t d1);
mt_tensor mt_roll(mt_tensor a, const int64_t *shifts, const int64_t *dims, int n);
mt_tensor mt_one_hot(mt_tensor labels, int64_t classes);
/// Zero-pads the last two dimensions (left, right, top, bottom).
mt_tensor mt_pad2d(mt_tensor a, int64_t left, int64_t right, int64_t top, int64_t bottom);
mt_tensor mt_clone(mt_tensor a);
mt_tensor mt_detach(mt_tensor a);

// MARK: neural-network operations
mt_tensor mt_matmul(mt_tensor a, mt_tensor b);
/// x W^T + b (bias may be NULL).
mt_tensor mt_linear(mt_tensor x, mt_tensor w, mt_tensor b);
/// 2-D convolution; bias may be NULL; stride/padding/dilation are (h, w) pairs.
mt_tensor mt_conv2d(mt_tensor x, mt_tensor w, mt_tensor b, const int64_t *stride, const int64_t *padding,
                    const int64_t *dilation, int64_t groups);
/// Batch normalization; in training the batch statistics normalize and the running ones are updated in
/// place with `momentum` (PyTorch's convention); weight, bias may be NULL.
mt_tensor mt_batch_norm(mt_tensor x, mt_tensor weight, mt_tensor bias, mt_tensor running_mean,
                        mt_tensor running_var, int training, double momentum, double eps);
mt_tensor mt_max_pool2d(mt_tensor x, int64_t kernel, int64_t stride, int64_t padding);
mt_tensor mt_avg_pool2d(mt_tensor x, int64_t kernel, int64_t stride, int64_t padding);
mt_tensor mt_adaptive_avg_pool2d(mt_tensor x, int64_t out_h, int64_t out_w);
mt_tensor mt_dropout(mt_tensor x, double p, int training);
mt_tensor mt_softmax(mt_tensor x, int64_t dim);
mt_tensor mt_log_softmax(mt_tensor x, int64_t dim);
/// In-place ReLU (inference only: not for tensors autograd needs).
int mt_relu_(mt_tensor x);

// MARK: autograd
int mt_set_requires_grad(mt_tensor t, int flag);
int mt_requires_grad(mt_tensor t);
/// Back-propagates from a scalar tensor.
int mt_backward(mt_tensor t);
/// The accumulated gradient, or NULL with an empty error when there is none.
mt_tensor mt_grad(mt_tensor t);
/// Forgets the accumulated gradient.
int mt_zero_grad(mt_tensor t);

// MARK: TorchScript
/// Loads a TorchScript file written by torch.jit.save, on the CPU, in eval mode.
mt_module mt_jit_load(const char *path);
void mt_jit_free(mt_module m);
/// Calls forward with one tensor; the result must be a tensor.
mt_tensor mt_jit_forward(mt_module m, mt_tensor x);
/// Number of named parameters and buffers (in that order, recursively).
int mt_jit_tensor_count(mt_module m);
/// The i-th named parameter or buffer; its name (owned by the module) is written to *name.
mt_tensor mt_jit_tensor(mt_module m, int i, const char **name);

#ifdef __cplusplus
}
#endif
#endif
