// The transcendental activations on contiguous float32 rows, compiled with -ffast-math so that
// GCC vectorises expf through glibc's libmvec (within 4 ulp of the scalar call; its vector
// expf dates from glibc 2.22, so the prebuilt binary still loads on any glibc Node 20 runs
// on). erf comes from erfc below rather than libmvec's erff, which needs glibc 2.35.
// Plain C loops only: no shared inline code may come out of this file with fast-math
// semantics (NaN tests, for one, are not kept under -ffinite-math-only). NaN inputs still give
// NaN: the formulas pass them through arithmetic and libmvec.
#include <math.h>
#include <stdint.h>
#include "elementwise_fastmath.h"

namespace iv {
namespace fastmath {

static const float kSqrt1_2 = 0.70710678118654752440f;
static const float kInvSqrt2Pi = 0.39894228040143267794f;

// The normal CDF at x, as erfc(-x / sqrt 2) / 2. erfc is the Chebyshev fit of Numerical
// Recipes (erfcc), with a fractional error below 1.2e-7 everywhere, so the far negative tail,
// where 1 + erf(x) would cancel, keeps its relative accuracy.
static inline float normalCdf(float x) {
  const float z = -x * kSqrt1_2;
  const float a = fabsf(z);
  const float t = 1.0f / (1.0f + 0.5f * a);
  const float p = -a * a - 1.26551223f +
                  t * (1.00002368f + t * (0.37409196f + t * (0.09678418f + t * (-0.18628806f + t * (0.27886807f +
                  t * (-1.13520398f + t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f))))))));
  const float erfcA = t * expf(p);
  return 0.5f * (z >= 0.0f ? erfcA : 2.0f - erfcA);
}

void gelu(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = x[i] * normalCdf(x[i]);
}

void geluGrad(const float* x, const float* g, float* out, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float cdf = normalCdf(x[i]);
    const float pdf = expf(-0.5f * x[i] * x[i]) * kInvSqrt2Pi;
    out[i] = g[i] * (cdf + x[i] * pdf);
  }
}

// From e = exp(-|x|) <= 1: 1 / (1 + exp(-x)) overflows, and gave NaN under these flags, for
// x below about -88.
static inline float stableSigmoid(float x) {
  const float e = expf(-fabsf(x));
  const float r = 1.0f / (1.0f + e);
  return x < 0.0f ? e * r : r;
}

void sigmoid(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = stableSigmoid(x[i]);
}

void silu(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = x[i] * stableSigmoid(x[i]);
}

void siluGrad(const float* x, const float* g, float* out, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float s = stableSigmoid(x[i]);
    out[i] = g[i] * s * (1.0f + x[i] * (1.0f - s));
  }
}

void exp(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = expf(x[i]);
}

}  // namespace fastmath
}  // namespace iv
