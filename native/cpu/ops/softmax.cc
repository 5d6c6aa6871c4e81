// Softmax and log-softmax along one dim, forward and backward, and dropout. The op layer
// passes contiguous tensors viewed as [outer, K, inner] with the softmax over K: inner == 1
// is the common row case (vectorised along the row); otherwise a block of inner positions
// is reduced together so that loads stay unit-stride. Float32 runs the widest instruction
// set's sweeps (softmax_kernels.inc); float64 the plain loops below. Both split the rows
// or blocks across threads.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include "../../binding/softmax_args.h"
#include "../../binding/registry.h"
#include "../cpu_features.h"
#include "../parallel.h"
#include "softmax_kernels.inc"

namespace iv {
namespace {

// Items of work per thread below which splitting costs more than it saves.
constexpr int64_t kGrainElements = 16384;

const SoftmaxKernelsF& floatKernels() {
  switch (activeIsa()) {
    case Isa::avx512: return *softmaxKernelsAvx512();
    case Isa::avx2: return *softmaxKernelsAvx2();
    default: return kSoftmaxKernels;
  }
}

// Splits a float32 softmax over [outer, K, inner] across threads: whole rows when inner is 1,
// else blocks of kSoftmaxColumns inner positions; rows(r0, r1) and columns(at, width) sweep them.
template <class Rows, class Columns>
void splitFloat(int64_t outer, int64_t K, int64_t inner, Rows&& rows, Columns&& columns) {
  if (inner == 1) {
    parallelFor(outer, std::max<int64_t>(1, kGrainElements / K), rows);
    return;
  }
  const int64_t blocks = (inner + kSoftmaxColumns - 1) / kSoftmaxColumns;
  const int64_t grain = std::max<int64_t>(1, kGrainElements / (K * kSoftmaxColumns));
  parallelFor(outer * blocks, grain, [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; q++) {
      const int64_t o = q / blocks, i0 = (q % blocks) * kSoftmaxColumns;
      columns(o * K * inner + i0, std::min(kSoftmaxColumns, inner - i0));
    }
  });
}

void forwardF(const float* x, float* y, int64_t outer, int64_t K, int64_t inner, bool log) {
  const SoftmaxKernelsF& f = floatKernels();
  splitFloat(
      outer, K, inner, [&](int64_t r0, int64_t r1) { f.forwardRows(x, y, r0, r1, K, log); },
      [&](int64_t at, int64_t width) { f.forwardColumns(x + at, y + at, K, inner, width, log); });
}

void backwardF(const float* g, const float* y, float* dx, int64_t outer, int64_t K, int64_t inner, bool log) {
  const SoftmaxKernelsF& f = floatKernels();
  splitFloat(
      outer, K, inner, [&](int64_t r0, int64_t r1) { f.backwardRows(g, y, dx, r0, r1, K, log); },
      [&](int64_t at, int64_t width) { f.backwardColumns(g + at, y + at, dx + at, K, inner, width, log); });
}

// Float64: one position of the inner dim at a time (stride inner along K).
void forwardD(const double* px, double* py, int64_t outer, int64_t K, int64_t inner, bool log) {
  parallelFor(outer * inner, std::max<int64_t>(1, kGrainElements / K), [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; q++) {
      const double* x = px + (q / inner) * K * inner + q % inner;
      double* y = py + (x - px);
      double m = -std::numeric_limits<double>::infinity(), s = 0;
      for (int64_t k = 0; k < K; k++) m = x[k * inner] > m ? x[k * inner] : m;
      for (int64_t k = 0; k < K; k++) s += (y[k * inner] = std::exp(x[k * inner] - m));
      const double shift = m + std::log(s), inv = 1 / s;
      for (int64_t k = 0; k < K; k++) y[k * inner] = log ? x[k * inner] - shift : y[k * inner] * inv;
    }
  });
}

void backwardD(const double* pg, const double* py, double* pd, int64_t outer, int64_t K, int64_t inner, bool log) {
  parallelFor(outer * inner, std::max<int64_t>(1, kGrainElements / K), [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; q++) {
      const int64_t at = (q / inner) * K * inner + q % inner;
      const double *g = pg + at, *y = py + at;
      double* d = pd + at;
      double s = 0;
      for (int64_t k = 0; k < K; k++) s += log ? g[k * inner] : g[k * inner] * y[k * inner];
      for (int64_t k = 0; k < K; k++)
        d[k * inner] = log ? g[k * inner] - std::exp(y[k * inner]) * s : y[k * inner] * (g[k * inner] - s);
    }
  });
}

Napi::Value softmaxForward(const Napi::CallbackInfo& info) {
  Args args(info, "softmaxForward", 3);
  const SoftmaxForwardArgs a = parseSoftmaxForwardArgs(args);
  const TensorArg &x = a.x, &out = a.out;
  const int64_t outer = x.shape[0], K = x.shape[1], inner = x.shape[2];
  if (x.numel() == 0) return info.Env().Undefined();
  if (x.dtype == DType::float32) forwardF(x.ptr<float>(), out.ptr<float>(), outer, K, inner, a.log);
  else forwardD(x.ptr<double>(), out.ptr<double>(), outer, K, inner, a.log);
  return info.Env().Undefined();
}

Napi::Value softmaxBackward(const Napi::CallbackInfo& info) {
  Args args(info, "softmaxBackward", 4);
  const SoftmaxBackwardArgs a = parseSoftmaxBackwardArgs(args);
  const TensorArg& y = a.y;
  const int64_t outer = y.shape[0], K = y.shape[1], inner = y.shape[2];
  if (y.numel() == 0) return info.Env().Undefined();
  if (y.dtype == DType::float32)
    backwardF(a.grad.ptr<float>(), y.ptr<float>(), a.gradX.ptr<float>(), outer, K, inner, a.log);
  else
    backwardD(a.grad.ptr<double>(), y.ptr<double>(), a.gradX.ptr<double>(), outer, K, inner, a.log);
  return info.Env().Undefined();
}

// out = x * keep / (1 - p). The same call with the same seed on the output gradient is the
// backward pass, since the mask is a pure function of (seed, element index).
template <class T>
void dropoutImpl(const T* x, T* out, int64_t n, uint64_t seed, uint32_t threshold, T scale) {
  parallelFor(n, 16384, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) out[i] = dropoutKeep(seed, static_cast<uint64_t>(i), threshold) ? x[i] * scale : T(0);
  });
}

Napi::Value dropout(const Napi::CallbackInfo& info) {
  Args args(info, "dropout", 5);
  TensorArg out = args.tensor(0, "out"), x = args.tensor(1, "x");
  const double p = args.number(2, "p");
  const int64_t lo = args.integer(3, "seedLo"), hi = args.integer(4, "seedHi");
  if (!x.contiguous() || !isFloat(x.dtype))
    args.fail("argument 'x' must be a contiguous float tensor, got " + std::string(dtypeName(x.dtype)) + " " +
              x.shapeString());
  requireLike(args, out, "out", x, "x");
  if (!(p >= 0 && p < 1)) args.fail("p must be in [0, 1), got " + std::to_string(p));
  if (lo < 0 || lo > 0xffffffffLL || hi < 0 || hi > 0xffffffffLL)
    args.fail("seedLo and seedHi must be unsigned 32-bit integers");
  const uint64_t seed = (static_cast<uint64_t>(hi) << 32) | static_cast<uint64_t>(lo);
  const uint32_t threshold = static_cast<uint32_t>(std::llround(p * 16777216.0));
  if (x.dtype == DType::float32)
    dropoutImpl(x.ptr<float>(), out.ptr<float>(), x.numel(), seed, threshold, static_cast<float>(1.0 / (1.0 - p)));
  else
    dropoutImpl(x.ptr<double>(), out.ptr<double>(), x.numel(), seed, threshold, 1.0 / (1.0 - p));
  return info.Env().Undefined();
}

}  // namespace

IV_EXPORT("softmaxForward", softmaxForward);
IV_EXPORT("softmaxBackward", softmaxBackward);
IV_EXPORT("dropout", dropout);

}  // namespace iv
