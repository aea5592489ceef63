// LibTorch behind a C API (see include/TorchBridge.h). The only translation unit that includes LibTorch.
#include "TorchBridge.h"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/script.h>

#include <atomic>
#include <cstring>
#include <dlfcn.h>
#include <string>
#include <vector>

struct mt_tensor_s {
    at::Tensor t;
};

struct mt_module_s {
    torch::jit::Module module;
    std::vector<std::string> names;
    std::vector<at::Tensor> tensors;
};

namespace {

thread_local std::string lastError;

void fail(const char *what) { lastError = what ? what : "unknown LibTorch error"; }

mt_tensor wrap(at::Tensor t) { return new mt_tensor_s{std::move(t)}; }

at::ScalarType scalarType(int dtype) {
    switch (dtype) {
    case MT_FLOAT32: return at::kFloat;
    case MT_FLOAT64: return at::kDouble;
    case MT_INT64: return at::kLong;
    case MT_BOOL: return at::kBool;
    }
    throw std::invalid_argument("unknown dtype code " + std::to_string(dtype));
}

size_t elementSize(int dtype) { return dtype == MT_BOOL ? 1 : (dtype == MT_FLOAT32 ? 4 : 8); }

std::vector<int64_t> dims(const int64_t *values, int n) {
    if (n < 0) throw std::invalid_argument("negative dimension count");
    return std::vector<int64_t>(values, values + n);
}

c10::optional<at::Tensor> optional(mt_tensor t) {
    return t ? c10::optional<at::Tensor>(t->t) : c10::nullopt;
}

// Runs body, turning every exception into lastError and the failure value.
template <typename Body>
mt_tensor guarded(Body body) {
    try {
        lastError.clear();
        return wrap(body());
    } catch (const c10::Error &e) {
        fail(e.what_without_backtrace());
    } catch (const std::exception &e) {
        fail(e.what());
    }
    return nullptr;
}

template <typename Body>
int guardedStatus(Body body) {
    try {
        lastError.clear();
        return body();
    } catch (const c10::Error &e) {
        fail(e.what_without_backtrace());
    } catch (const std::exception &e) {
        fail(e.what());
    }
    return -1;
}

} // namespace

extern "C" {

const char *mt_last_error(void) { return lastError.c_str(); }
void mt_free(mt_tensor t) { delete t; }

int mt_set_num_threads(int n) {
    return guardedStatus([&] {
        at::set_num_threads(n);
        // Debian's LibTorch multiplies matrices with OpenBLAS, whose own thread pool (one thread per
        // core) busy-waits with sched_yield after every product, beside the OpenMP pool running the next
        // operator: DeepNoise training steps ran up to 1.6x slower. The engine's products are small
        // (heads, cosines), so OpenBLAS runs them on the calling thread.
        using SetThreads = void (*)(int);
        if (auto setBLASThreads = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) setBLASThreads(1);
        return 0;
    });
}
int mt_num_threads(void) { return at::get_num_threads(); }
void mt_manual_seed(uint64_t seed) { at::manual_seed(seed); }
int mt_set_grad_enabled(int enabled) {
    bool previous = at::GradMode::is_enabled();
    at::GradMode::set_enabled(enabled != 0);
    return previous ? 1 : 0;
}
int mt_grad_enabled(void) { return at::GradMode::is_enabled() ? 1 : 0; }

static std::unique_ptr<torch::autograd::profiler::RecordProfile> trace;
int mt_trace_start(const char *path) {
    return guardedStatus([&] {
        if (trace) throw std::runtime_error("a trace is already being recorded");
        trace = std::make_unique<torch::autograd::profiler::RecordProfile>(std::string(path));
        return 0;
    });
}
int mt_trace_stop(void) {
    return guardedStatus([&] {
        trace.reset();  // the destructor writes the file
        return 0;
    });
}

mt_tensor mt_from_data(const void *data, int dtype, int64_t count, const int64_t *shape, int ndim) {
    return guarded([&] {
        auto sizes = dims(shape, ndim);
        int64_t n = 1;
        for (auto s : sizes) {
            if (s < 0) throw std::invalid_argument("negative size in shape");
            n *= s;
        }
        if (n != count)
            throw std::invalid_argument("shape holds " + std::to_string(n) + " elements but " +
                                        std::to_string(count) + " were given");
        auto t = at::empty(sizes, at::TensorOptions().dtype(scalarType(dtype)));
        if (n > 0) std::memcpy(t.data_ptr(), data, size_t(n) * elementSize(dtype));
        return t;
    });
}

int mt_copy_data(mt_tensor t, void *out, int dtype, int64_t count) {
    return guardedStatus([&] {
        if (t->t.numel() != count)
            throw std::invalid_argument("tensor holds " + std::to_string(t->t.numel()) + " elements, buffer " +
                                        std::to_string(count));
        auto c = t->t.detach().to(scalarType(dtype)).contiguous();
        if (count > 0) std::memcpy(out, c.data_ptr(), size_t(count) * elementSize(dtype));
        return 0;
    });
}

int mt_ndim(mt_tensor t) { return int(t->t.dim()); }
int mt_shape(mt_tensor t, int64_t *out, int max) {
    auto sizes = t->t.sizes();
    for (int i = 0; i < int(sizes.size()) && i < max; i++) out[i] = sizes[i];
    return int(sizes.size());
}
int mt_dtype(mt_tensor t) {
    switch (t->t.scalar_type()) {
    case at::kFloat: return MT_FLOAT32;
    case at::kDouble: return MT_FLOAT64;
    case at::kLong: return MT_INT64;
    case at::kBool: return MT_BOOL;
    default: return -1;
    }
}
int mt_is_channels_last(mt_tensor t) {
    return t->t.dim() == 4 && t->t.is_contiguous(at::MemoryFormat::ChannelsLast) ? 1 : 0;
}

mt_tensor mt_zeros(const int64_t *shape, int ndim, int dtype) {
    return guarded([&] { return at::zeros(dims(shape, ndim), at::TensorOptions().dtype(scalarType(dtype))); });
}
mt_tensor mt_full(const int64_t *shape, int ndim, double value, int dtype) {
    return guarded([&] { return at::full(dims(shape, ndim), value, at::TensorOptions().dtype(scalarType(dtype))); });
}
mt_tensor mt_randn(const int64_t *shape, int ndim) { return guarded([&] { return at::randn(dims(shape, ndim)); }); }
mt_tensor mt_rand(const int64_t *shape, int ndim) { return guarded([&] { return at::rand(dims(shape, ndim)); }); }
mt_tensor mt_arange(int64_t n, int dtype) {
    return guarded([&] { return at::arange(n, at::TensorOptions().dtype(scalarType(dtype))); });
}

mt_tensor mt_unary(mt_tensor a, int op) {
    return guarded([&] {
        const at::Tensor &x = a->t;
        switch (op) {
        case MT_NEG: return at::neg(x);
        case MT_EXP: return at::exp(x);
        case MT_LOG: return at::log(x);
        case MT_SQRT: return at::sqrt(x);
        case MT_RELU: return at::relu(x);
        case MT_SIGMOID: return at::sigmoid(x);
        case MT_TANH: return at::tanh(x);
        case MT_ABS: return at::abs(x);
        case MT_COS: return at::cos(x);
        case MT_SIN: return at::sin(x);
        case MT_ACOS: return at::acos(x);
        case MT_SQUARE: return at::square(x);
        case MT_RSQRT: return at::rsqrt(x);
        case MT_SIGN: return at::sign(x);
        case MT_FLOOR: return at::floor(x);
        case MT_LOGICAL_NOT: return at::logical_not(x);
        }
        throw std::invalid_argument("unknown unary operation " + std::to_string(op));
    });
}

mt_tensor mt_binary(mt_tensor a, mt_tensor b, int op) {
    return guarded([&] {
        const at::Tensor &x = a->t, &y = b->t;
        switch (op) {
        case MT_ADD: return at::add(x, y);
        case MT_SUB: return at::sub(x, y);
        case MT_MUL: return at::mul(x, y);
        case MT_DIV: return at::div(x, y);
        case MT_POW: return at::pow(x, y);
        case MT_MAXIMUM: return at::maximum(x, y);
        case MT_MINIMUM: return at::minimum(x, y);
        case MT_EQ: return at::eq(x, y);
        case MT_GT: return at::gt(x, y);
        case MT_LT: return at::lt(x, y);
        case MT_GE: return at::ge(x, y);
        case MT_LE: return at::le(x, y);
        }
        throw std::invalid_argument("unknown binary operation " + std::to_string(op));
    });
}

mt_tensor mt_binary_scalar(mt_tensor a, double s, int op) {
    return guarded([&] {
        const at::Tensor &x = a->t;
        switch (op) {
        case MT_ADD: return at::add(x, s);
        case MT_SUB: return at::sub(x, s);
        case MT_MUL: return at::mul(x, s);
        case MT_DIV: return at::div(x, s);
        case MT_POW: return at::pow(x, s);
        case MT_MAXIMUM: return at::clamp_min(x, s);
        case MT_MINIMUM: return at::clamp_max(x, s);
        case MT_EQ: return at::eq(x, s);
        case MT_GT: return at::gt(x, s);
        case MT_LT: return at::lt(x, s);
        case MT_GE: return at::ge(x, s);
        case MT_LE: return at::le(x, s);
        }
        throw std::invalid_argument("unknown scalar operation " + std::to_string(op));
    });
}

mt_tensor mt_where(mt_tensor c, mt_tensor a, mt_tensor b) { return guarded([&] { return at::where(c->t, a->t, b->t); }); }
mt_tensor mt_clamp(mt_tensor a, double lo, double hi) { return guarded([&] { return at::clamp(a->t, lo, hi); }); }
int mt_convert_(mt_tensor a, int dtype) {
    return guardedStatus([&] {
        bool grad = a->t.requires_grad();
        a->t = a->t.detach().to(scalarType(dtype)).set_requires_grad(grad);
        return 0;
    });
}
mt_tensor mt_to_dtype(mt_tensor a, int dtype) { return guarded([&] { return a->t.to(scalarType(dtype)); }); }

int mt_add_(mt_tensor a, mt_tensor b, double alpha) { return guardedStatus([&] { a->t.add_(b->t, alpha); return 0; }); }
int mt_mul_scalar_(mt_tensor a, double s) { return guardedStatus([&] { a->t.mul_(s); return 0; }); }
int mt_addcmul_(mt_tensor a, mt_tensor b, mt_tensor c, double v) {
    return guardedStatus([&] { a->t.addcmul_(b->t, c->t, v); return 0; });
}
int mt_addcdiv_(mt_tensor a, mt_tensor b, mt_tensor c, double v) {
    return guardedStatus([&] { a->t.addcdiv_(b->t, c->t, v); return 0; });
}
int mt_copy_(mt_tensor a, mt_tensor b) { return guardedStatus([&] { a->t.copy_(b->t); return 0; }); }
int mt_fill_(mt_tensor a, double v) { return guardedStatus([&] { a->t.fill_(v); return 0; }); }

mt_tensor mt_reduce(mt_tensor a, int op, const int64_t *d, int ndims, int keepdim) {
    return guarded([&] {
        const at::Tensor &x = a->t;
        auto ds = dims(d, ndims);
        if (ds.empty()) {
            for (int64_t i = 0; i < x.dim(); i++) ds.push_back(i);
            if (op == MT_ARGMAX) return at::argmax(x);
        }
        bool keep = keepdim != 0;
        switch (op) {
        case MT_SUM: return at::sum(x, ds, keep);
        case MT_MEAN: return at::mean(x, ds, keep);
        case MT_AMAX: return at::amax(x, ds, keep);
        case MT_AMIN: return at::amin(x, ds, keep);
        case MT_ARGMAX:
            if (ds.size() != 1) throw std::invalid_argument("argmax takes one dimension");
            return at::argmax(x, ds[0], keep);
        case MT_VAR: return at::var(x, ds, /*unbiased=*/false, keep);
        case MT_LOGSUMEXP: return at::logsumexp(x, ds, keep);
        }
        throw std::invalid_argument("unknown reduction " + std::to_string(op));
    });
}

mt_tensor mt_reshape(mt_tensor a, const int64_t *s, int n) { return guarded([&] { return a->t.reshape(dims(s, n)); }); }
mt_tensor mt_permute(mt_tensor a, const int64_t *d, int n) { return guarded([&] { return a->t.permute(dims(d, n)); }); }
mt_tensor mt_transpose(mt_tensor a, int64_t d0, int64_t d1) { return guarded([&] { return a->t.transpose(d0, d1); }); }
mt_tensor mt_contiguous(mt_tensor a, int format) {
    return guarded([&] {
        return a->t.contiguous(format == 1 ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous);
    });
}
mt_tensor mt_narrow(mt_tensor a, int64_t dim, int64_t start, int64_t length) {
    return guarded([&] { return a->t.narrow(dim, start, length); });
}
mt_tensor mt_index_select(mt_tensor a, int64_t dim, mt_tensor index) {
    return guarded([&] { return at::index_select(a->t, dim, index->t); });
}
mt_tensor mt_cat(const mt_tensor *tensors, int n, int64_t dim) {
    return guarded([&] {
        std::vector<at::Tensor> list;
        for (int i = 0; i < n; i++) list.push_back(tensors[i]->t);
        return at::cat(list, dim);
    });
}
mt_tensor mt_flip(mt_tensor a, const int64_t *d, int n) { return guarded([&] { return at::flip(a->t, dims(d, n)); }); }
mt_tensor mt_rot90(mt_tensor a, int64_t k, int64_t d0, int64_t d1) {
    return guarded([&] { return at::rot90(a->t, k, {d0, d1}); });
}
mt_tensor mt_roll(mt_tensor a, const int64_t *shifts, const int64_t *d, int n) {
    return guarded([&] { return at::roll(a->t, dims(shifts, n), dims(d, n)); });
}
mt_tensor mt_one_hot(mt_tensor labels, int64_t classes) { return guarded([&] { return at::one_hot(labels->t, classes); }); }
mt_tensor mt_pad2d(mt_tensor a, int64_t l, int64_t r, int64_t t, int64_t b) {
    return guarded([&] { return at::constant_pad_nd(a->t, {l, r, t, b}, 0); });
}
mt_tensor mt_clone(mt_tensor a) { return guarded([&] { return a->t.clone(); }); }
mt_tensor mt_detach(mt_tensor a) { return guarded([&] { return a->t.detach(); }); }

mt_tensor mt_matmul(mt_tensor a, mt_tensor b) { return guarded([&] { return at::matmul(a->t, b->t); }); }
mt_tensor mt_linear(mt_tensor x, mt_tensor w, mt_tensor b) {
    return guarded([&] { return at::linear(x->t, w->t, optional(b)); });
}
mt_tensor mt_conv2d(mt_tensor x, mt_tensor w, mt_tensor b, const int64_t *stride, const int64_t *padding,
                    const int64_t *dilation, int64_t groups) {
    return guarded([&] {
        auto s = dims(stride, 2), p = dims(padding, 2);
        const at::Tensor &weight = w->t;
        // oneDNN 2.6's AVX2 1x1 kernel with a stride (it first copies every s-th pixel, "reduce to unit
        // stride") writes past its buffer when a channels-last input has fewer than 8 channels: heap
        // corruption at one thread, silently different numbers at two (Debian's LibTorch 1.13; not on
        // AVX-512). A 1x1 convolution with stride s and no padding is exactly the stride-1 convolution of
        // every s-th pixel, so the subsampling is done here and oneDNN never takes that path.
        if (weight.dim() == 4 && weight.size(2) == 1 && weight.size(3) == 1 && p[0] == 0 && p[1] == 0 &&
            (s[0] > 1 || s[1] > 1) && x->t.dim() == 4) {
            auto sub = x->t.slice(2, 0, c10::nullopt, s[0]).slice(3, 0, c10::nullopt, s[1]);
            return at::conv2d(sub, weight, optional(b), {1, 1}, {0, 0}, dims(dilation, 2), groups);
        }
        return at::conv2d(x->t, weight, optional(b), s, p, dims(dilation, 2), groups);
    });
}
mt_tensor mt_batch_norm(mt_tensor x, mt_tensor weight, mt_tensor bias, mt_tensor running_mean, mt_tensor running_var,
                        int training, double momentum, double eps) {
    return guarded([&] {
        return at::batch_norm(x->t, optional(weight), optional(bias), optional(running_mean), optional(running_var),
                              training != 0, momentum, eps, /*cudnn_enabled=*/false);
    });
}
mt_tensor mt_max_pool2d(mt_tensor x, int64_t k, int64_t s, int64_t p) {
    return guarded([&] { return at::max_pool2d(x->t, {k, k}, {s, s}, {p, p}); });
}
mt_tensor mt_avg_pool2d(mt_tensor x, int64_t k, int64_t s, int64_t p) {
    return guarded([&] { return at::avg_pool2d(x->t, {k, k}, {s, s}, {p, p}); });
}
mt_tensor mt_adaptive_avg_pool2d(mt_tensor x, int64_t h, int64_t w) {
    return guarded([&] { return at::adaptive_avg_pool2d(x->t, {h, w}); });
}
mt_tensor mt_dropout(mt_tensor x, double p, int training) { return guarded([&] { return at::dropout(x->t, p, training != 0); }); }
mt_tensor mt_softmax(mt_tensor x, int64_t dim) { return guarded([&] { return at::softmax(x->t, dim); }); }
mt_tensor mt_log_softmax(mt_tensor x, int64_t dim) { return guarded([&] { return at::log_softmax(x->t, dim); }); }
int mt_relu_(mt_tensor x) { return guardedStatus([&] { at::relu_(x->t); return 0; }); }

int mt_set_requires_grad(mt_tensor t, int flag) {
    return guardedStatus([&] { t->t.set_requires_grad(flag != 0); return 0; });
}
int mt_requires_grad(mt_tensor t) { return t->t.requires_grad() ? 1 : 0; }
int mt_backward(mt_tensor t) { return guardedStatus([&] { t->t.backward(); return 0; }); }
mt_tensor mt_grad(mt_tensor t) {
    lastError.clear();
    if (!t->t.grad().defined()) return nullptr;
    return guarded([&] { return t->t.grad(); });
}
int mt_zero_grad(mt_tensor t) {
    return guardedStatus([&] {
        t->t.mutable_grad().reset();
        return 0;
    });
}

mt_module mt_jit_load(const char *path) {
    try {
        lastError.clear();
        auto m = new mt_module_s{torch::jit::load(path, c10::Device(c10::kCPU)), {}, {}};
        m->module.eval();
        for (const auto &p : m->module.named_parameters(/*recurse=*/true)) {
            m->names.push_back(p.name);
            m->tensors.push_back(p.value);
        }
        for (const auto &b : m->module.named_buffers(/*recurse=*/true)) {
            m->names.push_back(b.name);
            m->tensors.push_back(b.value);
        }
        return m;
    } catch (const c10::Error &e) {
        fail(e.what_without_backtrace());
    } catch (const std::exception &e) {
        fail(e.what());
    }
    return nullptr;
}
void mt_jit_free(mt_module m) { delete m; }
mt_tensor mt_jit_forward(mt_module m, mt_tensor x) {
    return guarded([&] {
        std::vector<c10::IValue> inputs{x->t};
        auto out = m->module.forward(inputs);
        if (!out.isTensor()) throw std::invalid_argument("TorchScript forward did not return a tensor");
        return out.toTensor();
    });
}
int mt_jit_tensor_count(mt_module m) { return int(m->names.size()); }
mt_tensor mt_jit_tensor(mt_module m, int i, const char **name) {
    if (i < 0 || i >= int(m->names.size())) {
        fail("TorchScript tensor index out of range");
        return nullptr;
    }
    *name = m->names[i].c_str();
    return wrap(m->tensors[i]);
}

} // extern "C"
