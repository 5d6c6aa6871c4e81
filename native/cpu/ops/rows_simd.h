// Float32 row primitives in explicit vectors (vmath.h's exp), compiled per instruction set
// from rows_simd.inc: rows_simd_avx512.cc and rows_simd_avx2.cc. Callers dispatch on
// activeIsa() and keep their own baseline loops for plain x86-64. Plain function pointers, so
// no inline code crosses between the instruction-set libraries.
#pragma once
#include <cstdint>
#include "../cpu_features.h"

namespace iv {

struct RowsSimd {
  // y = sigmoid(x) over n contiguous values.
  void (*sigmoid)(const float* x, float* y, int64_t n);
  // y = relu(x) (0 for NaN, as the elementwise op), and out = g where x > 0, else 0.
  void (*relu)(const float* x, float* y, int64_t n);
  void (*reluGrad)(const float* x, const float* g, float* out, int64_t n);
  // y = gelu(x) (the erf form) and silu(x) = x sigmoid(x), and their gradients out = g dy/dx.
  void (*gelu)(const float* x, float* y, int64_t n);
  void (*geluGrad)(const float* x, const float* g, float* out, int64_t n);
  void (*silu)(const float* x, float* y, int64_t n);
  void (*siluGrad)(const float* x, const float* g, float* out, int64_t n);
  // y = x min(max(x + 3, 0), 6) / 6, and its gradient out = g d y / dx (elementwise.cc's forms).
  void (*hardswish)(const float* x, float* y, int64_t n);
  void (*hardswishGrad)(const float* x, const float* g, float* out, int64_t n);
  // The maximum of a row.
  float (*max)(const float* x, int64_t n);
  // sum of exp(x[i] - sub), in double (nothing written).
  double (*expSum)(const float* x, int64_t n, float sub);
  // out[i] = a * exp(x[i] - sub) - b * w[i].
  void (*scaledExp)(const float* x, float* out, int64_t n, float sub, float a, float b, const float* w);
  // out[i] = x[i] + a * y[i * ys], ys 1 or 0 (one broadcast value): add and sub, in place too.
  void (*axpy)(const float* x, const float* y, int64_t ys, float* out, int64_t n, float a);
  // Sums of one row for the norms' statistics: sum (x - c)^2 and sum g (x - c), in float
  // lanes added into a double every 1024 values.
  double (*sumSquaredDeviations)(const float* x, int64_t n, float c);
  double (*sumProductDeviations)(const float* g, const float* x, int64_t n, float c);
  // y = a x + b (a norm's output), and out = a g - b x - c (a norm's input gradient).
  void (*scaleShift)(const float* x, float* y, int64_t n, float a, float b);
  void (*normGrad)(const float* g, const float* x, float* out, int64_t n, float a, float b, float c);
  // Column maxima of `rows` rows of n floats, `stride` apart: m[w] the largest x[r * stride + w]
  // and arg[w] its row r (the first of equals). Returns false, leaving m and arg unspecified,
  // if any value is NaN.
  bool (*columnMax)(const float* x, int64_t stride, int64_t rows, int64_t n, float* m, int32_t* arg);
  // Layer norm of one row: y = (x - mean) rstd w + b, mean and rstd = 1 / sqrt(var + eps)
  // stored (two-pass statistics).
  void (*layerNorm)(const float* x, float* y, int64_t n, const float* w, const float* b, float eps, float* mean,
                    float* rstd);
  // Its gradient for one row given g = dL/dy: gx = rstd (g w - mean(g w) - xhat mean(g w xhat))
  // with xhat = (x - mean) rstd, and accW += g xhat, accB += g; a null output is skipped.
  void (*layerNormGrad)(const float* x, const float* g, const float* w, float mean, float rstd, float* gx,
                        float* accW, float* accB, int64_t n);
};

const RowsSimd* rowsSimdAvx512();
const RowsSimd* rowsSimdAvx2();

namespace {
// The rows of the widest instruction set active (activeIsa, read once); null on baseline
// x86-64. Internal linkage: the *_avx512.cc units include this header too, and their copy of
// an inline function must never stand in for the baseline one.
inline const RowsSimd* simdRows() {
  static const RowsSimd* rows = activeIsa() == Isa::avx512 ? rowsSimdAvx512()
                                : activeIsa() == Isa::avx2 ? rowsSimdAvx2()
                                                           : nullptr;
  return rows;
}
}  // namespace

}  // namespace iv
