// Softmax and log-softmax along one dim, forward and backward, and dropout. The op layer
// passes contiguous tensors viewed as [outer, K, inner] with the softmax over K: inner == 1
// is the common row case (vectorised along the row); otherwise a block of inner positions
// is reduced together so that loads stay unit-stride.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include "../../binding/softmax_args.h"
#include "../../binding/registry.h"
#include "../parallel.h"
#include "vmath.h"

namespace iv {
namespace {

constexpr int64_t kInnerBlock = 256;


// exp(x - m), summed; float rows use the vector exp.
inline double expSub(const float* x, float* y, int64_t n, float m) { return expSubRow(x, y, n, m); }
inline double expSub(const double* x, double* y, int64_t n, double m) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += (y[i] = std::exp(x[i] - m));
  return s;
}
inline float rowMax(const float* x, int64_t n) { return maxRow(x, n); }
inline double rowMax(const double* x, int64_t n) {
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
  return m;
}

template <class T>
void softmaxRows(const T* px, T* py, int64_t rows, int64_t K, bool log) {
  parallelFor(rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(K, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const T* x = px + r * K;
      T* y = py + r * K;
      const T m = rowMax(x, K);
      const double s = expSub(x, y, K, m);
      if (log) {
        const T shift = static_cast<T>(m + std::log(s));
        for (int64_t k = 0; k < K; k++) y[k] = x[k] - shift;
      } else {
        const T inv = static_cast<T>(1.0 / s);
        for (int64_t k = 0; k < K; k++) y[k] *= inv;
      }
    }
  });
}

template <class T>
void softmaxColumns(const T* px, T* py, int64_t outer, int64_t K, int64_t inner, bool log) {
  const int64_t blocks = (inner + kInnerBlock - 1) / kInnerBlock;
  parallelFor(outer * blocks, 1, [&](int64_t q0, int64_t q1) {
    T m[kInnerBlock];
    double s[kInnerBlock];
    for (int64_t q = q0; q < q1; q++) {
      const int64_t o = q / blocks, i0 = (q % blocks) * kInnerBlock, n = std::min(kInnerBlock, inner - i0);
      const T* x = px + o * K * inner + i0;
      T* y = py + o * K * inner + i0;
      for (int64_t i = 0; i < n; i++) m[i] = -std::numeric_limits<T>::infinity(), s[i] = 0;
      for (int64_t k = 0; k < K; k++)
        for (int64_t i = 0; i < n; i++) m[i] = std::max(m[i], x[k * inner + i]);
      for (int64_t k = 0; k < K; k++)
        for (int64_t i = 0; i < n; i++) s[i] += (y[k * inner + i] = std::exp(x[k * inner + i] - m[i]));
      for (int64_t i = 0; i < n; i++) s[i] = log ? m[i] + std::log(s[i]) : 1.0 / s[i];
      for (int64_t k = 0; k < K; k++)
        for (int64_t i = 0; i < n; i++)
          y[k * inner + i] = log ? static_cast<T>(x[k * inner + i] - s[i]) : static_cast<T>(y[k * inner + i] * s[i]);
    }
  });
}

// softmax: dx = y * (g - sum(g * y)); log-softmax: dx = g - exp(y) * sum(g).
template <class T>
void softmaxBackwardImpl(const T* pg, const T* py, T* pd, int64_t outer, int64_t K, int64_t inner, bool log) {
  const int64_t blocks = (inner + kInnerBlock - 1) / kInnerBlock;
  parallelFor(outer * blocks, std::max<int64_t>(1, 8192 / std::max<int64_t>(K * inner, 1)), [&](int64_t q0, int64_t q1) {
    double s[kInnerBlock];
    for (int64_t q = q0; q < q1; q++) {
      const int64_t o = q / blocks, i0 = (q % blocks) * kInnerBlock, n = std::min(kInnerBlock, inner - i0);
      const int64_t base = o * K * inner + i0;
      const T *g = pg + base, *y = py + base;
      T* d = pd + base;
      for (int64_t i = 0; i < n; i++) s[i] = 0;
      for (int64_t k = 0; k < K; k++)
        for (int64_t i = 0; i < n; i++)
          s[i] += log ? static_cast<double>(g[k * inner + i]) : static_cast<double>(g[k * inner + i]) * y[k * inner + i];
      for (int64_t k = 0; k < K; k++)
        for (int64_t i = 0; i < n; i++) {
          const int64_t e = k * inner + i;
          d[e] = log ? static_cast<T>(g[e] - std::exp(y[e]) * s[i]) : static_cast<T>(y[e] * (g[e] - s[i]));
        }
    }
  });
}

Napi::Value softmaxForward(const Napi::CallbackInfo& info) {
  Args args(info, "softmaxForward", 3);
  const SoftmaxForwardArgs a = parseSoftmaxForwardArgs(args);
  const TensorArg &x = a.x, &out = a.out;
  const int64_t outer = x.shape[0], K = x.shape[1], inner = x.shape[2];
  if (x.numel() == 0) return info.Env().Undefined();
  if (x.dtype == DType::float32) {
    if (inner == 1) softmaxRows(x.ptr<float>(), out.ptr<float>(), outer, K, a.log);
    else softmaxColumns(x.ptr<float>(), out.ptr<float>(), outer, K, inner, a.log);
  } else {
    if (inner == 1) softmaxRows(x.ptr<double>(), out.ptr<double>(), outer, K, a.log);
    else softmaxColumns(x.ptr<double>(), out.ptr<double>(), outer, K, inner, a.log);
  }
  return info.Env().Undefined();
}

Napi::Value softmaxBackward(const Napi::CallbackInfo& info) {
  Args args(info, "softmaxBackward", 4);
  const SoftmaxBackwardArgs a = parseSoftmaxBackwardArgs(args);
  const TensorArg& y = a.y;
  const int64_t outer = y.shape[0], K = y.shape[1], inner = y.shape[2];
  if (y.numel() == 0) return info.Env().Undefined();
  if (y.dtype == DType::float32)
    softmaxBackwardImpl(a.grad.ptr<float>(), y.ptr<float>(), a.gradX.ptr<float>(), outer, K, inner, a.log);
  else
    softmaxBackwardImpl(a.grad.ptr<double>(), y.ptr<double>(), a.gradX.ptr<double>(), outer, K, inner, a.log);
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
