// AVX-512 depthwise convolution, float32, dilation 1: each output row is computed in
// 16-lane blocks along its width (the last block masked on store) from a zero-padded copy
// of the input plane. 3x3 stride 1 keeps its nine weights in registers and computes four
// output rows per pass, so each of the six input rows it loads serves up to three of them.
// The stride-2 input gradient reads gy in place instead, masked at its edges.
// Plain static functions only (see docs/ARCHITECTURE.md on ISA files).
#include <immintrin.h>
#include "conv.h"
#include "conv_depthwise_kernels.h"

namespace iv {
namespace avx512 {

namespace {
#include "../lanes_avx512.h"
}  // namespace

static inline void storeRow(float* y, __m512 v, __mmask16 m, int accumulate) {
  if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, y));
  _mm512_mask_storeu_ps(y, m, v);
}

// 3x3, stride 1: rows [r0, r0 + 4) of the output.
static void dw3x3s1Rows4(const float* xp, int64_t ld, const __m512* wv, int64_t r0, int64_t wo, float* y,
                         int accumulate) {
  for (int64_t c0 = 0; c0 < wo; c0 += 16) {
    const __mmask16 m = firstLanes(wo - c0);
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    const float* p = xp + r0 * ld + c0;
#pragma GCC unroll 6
    for (int q = 0; q < 6; q++, p += ld) {
      const __m512 v0 = _mm512_loadu_ps(p), v1 = _mm512_loadu_ps(p + 1), v2 = _mm512_loadu_ps(p + 2);
      // input row r0 + q feeds output row r0 + q - i through kernel row i.
      if (q <= 2) {
        a0 = _mm512_fmadd_ps(wv[q * 3 + 0], v0, a0);
        a0 = _mm512_fmadd_ps(wv[q * 3 + 1], v1, a0);
        a0 = _mm512_fmadd_ps(wv[q * 3 + 2], v2, a0);
      }
      if (q >= 1 && q <= 3) {
        const int i = q - 1;
        a1 = _mm512_fmadd_ps(wv[i * 3 + 0], v0, a1);
        a1 = _mm512_fmadd_ps(wv[i * 3 + 1], v1, a1);
        a1 = _mm512_fmadd_ps(wv[i * 3 + 2], v2, a1);
      }
      if (q >= 2 && q <= 4) {
        const int i = q - 2;
        a2 = _mm512_fmadd_ps(wv[i * 3 + 0], v0, a2);
        a2 = _mm512_fmadd_ps(wv[i * 3 + 1], v1, a2);
        a2 = _mm512_fmadd_ps(wv[i * 3 + 2], v2, a2);
      }
      if (q >= 3) {
        const int i = q - 3;
        a3 = _mm512_fmadd_ps(wv[i * 3 + 0], v0, a3);
        a3 = _mm512_fmadd_ps(wv[i * 3 + 1], v1, a3);
        a3 = _mm512_fmadd_ps(wv[i * 3 + 2], v2, a3);
      }
    }
    float* yr = y + r0 * wo + c0;
    storeRow(yr, a0, m, accumulate);
    storeRow(yr + wo, a1, m, accumulate);
    storeRow(yr + 2 * wo, a2, m, accumulate);
    storeRow(yr + 3 * wo, a3, m, accumulate);
  }
}

static void dw3x3s1Row(const float* xp, int64_t ld, const __m512* wv, int64_t r, int64_t wo, float* y,
                       int accumulate) {
  for (int64_t c0 = 0; c0 < wo; c0 += 16) {
    const __mmask16 m = firstLanes(wo - c0);
    __m512 a = _mm512_setzero_ps();
    const float* p = xp + r * ld + c0;
    for (int i = 0; i < 3; i++, p += ld) {
      a = _mm512_fmadd_ps(wv[i * 3 + 0], _mm512_loadu_ps(p), a);
      a = _mm512_fmadd_ps(wv[i * 3 + 1], _mm512_loadu_ps(p + 1), a);
      a = _mm512_fmadd_ps(wv[i * 3 + 2], _mm512_loadu_ps(p + 2), a);
    }
    storeRow(y + r * wo + c0, a, m, accumulate);
  }
}

// Any kh x kw, stride sh x sw with sw 1 or 2: one output row at a time.
static void dwGeneric(const float* xp, int64_t ld, const float* w, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                      int64_t ho, int64_t wo, float* y, int accumulate) {
  const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  for (int64_t r = 0; r < ho; r++) {
    for (int64_t c0 = 0; c0 < wo; c0 += 16) {
      const __mmask16 m = firstLanes(wo - c0);
      __m512 a = _mm512_setzero_ps();
      for (int64_t i = 0; i < kh; i++) {
        const float* p = xp + (r * sh + i) * ld + c0 * sw;
        if (sw == 1) {
          for (int64_t j = 0; j < kw; j++) a = _mm512_fmadd_ps(_mm512_set1_ps(w[i * kw + j]), _mm512_loadu_ps(p + j), a);
        } else {
          for (int64_t j = 0; j < kw; j++) {
            const __m512 v = _mm512_permutex2var_ps(_mm512_loadu_ps(p + j), evens, _mm512_loadu_ps(p + j + 16));
            a = _mm512_fmadd_ps(_mm512_set1_ps(w[i * kw + j]), v, a);
          }
        }
      }
      storeRow(y + r * wo + c0, a, m, accumulate);
    }
  }
}

void dwCorrelateF32(const float* xp, int64_t ld, const float* w, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                    int64_t ho, int64_t wo, float* y, int accumulate) {
  if (kh == 3 && kw == 3 && sh == 1 && sw == 1) {
    __m512 wv[9];
    for (int t = 0; t < 9; t++) wv[t] = _mm512_set1_ps(w[t]);
    int64_t r = 0;
    for (; r + 4 <= ho; r += 4) dw3x3s1Rows4(xp, ld, wv, r, wo, y, accumulate);
    for (; r < ho; r++) dw3x3s1Row(xp, ld, wv, r, wo, y, accumulate);
    return;
  }
  dwGeneric(xp, ld, w, kh, kw, sh, sw, ho, wo, y, accumulate);
}

// Lanes e of a 16-wide load at column lo + e that lie in [0, w).
static inline __mmask16 colMask(int64_t lo, int64_t w) {
  const int64_t a = lo < 0 ? -lo : 0, b = w - lo < 16 ? w - lo : 16;
  if (b <= a) return 0;
  const unsigned hi = b >= 16 ? 0xFFFFu : ((1u << b) - 1u);
  return (__mmask16)(hi & ~((1u << a) - 1u));
}

void dw3x3s1DirectF32(const float* x, int64_t h, int64_t w, int64_t top, int64_t left, const float* wt, int64_t ho,
                      int64_t wo, float* y, int accumulate) {
  __m512 wv[9];
  for (int t = 0; t < 9; t++) wv[t] = _mm512_set1_ps(wt[t]);
  for (int64_t c0 = 0; c0 < wo; c0 += 16) {
    const __mmask16 m = firstLanes(wo - c0);
    const int64_t lo = c0 - left;
    const __mmask16 m0 = colMask(lo, w), m1 = colMask(lo + 1, w), m2 = colMask(lo + 2, w);
    int64_t r0 = 0;
    for (; r0 + 4 <= ho; r0 += 4) {
      __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
#pragma GCC unroll 6
      for (int q = 0; q < 6; q++) {
        const int64_t ih = r0 - top + q;
        if (ih < 0 || ih >= h) continue;
        const float* p = x + ih * w + lo;
        const __m512 v0 = _mm512_maskz_loadu_ps(m0, p), v1 = _mm512_maskz_loadu_ps(m1, p + 1);
        const __m512 v2 = _mm512_maskz_loadu_ps(m2, p + 2);
        if (q <= 2) {
          a0 = _mm512_fmadd_ps(wv[q * 3 + 0], v0, a0);
          a0 = _mm512_fmadd_ps(wv[q * 3 + 1], v1, a0);
          a0 = _mm512_fmadd_ps(wv[q * 3 + 2], v2, a0);
        }
        if (q >= 1 && q <= 3) {
          const int i = q - 1;
          a1 = _mm512_fmadd_ps(wv[i * 3 + 0], v0, a1);
          a1 = _mm512_fmadd_ps(wv[i * 3 + 1], v1, a1);
          a1 = _mm512_fmadd_ps(wv[i * 3 + 2], v2, a1);
        }
        if (q >= 2 && q <= 4) {
          const int i = q - 2;
          a2 = _mm512_fmadd_ps(wv[i * 3 + 0], v0, a2);
          a2 = _mm512_fmadd_ps(wv[i * 3 + 1], v1, a2);
          a2 = _mm512_fmadd_ps(wv[i * 3 + 2], v2, a2);
        }
        if (q >= 3) {
          const int i = q - 3;
          a3 = _mm512_fmadd_ps(wv[i * 3 + 0], v0, a3);
          a3 = _mm512_fmadd_ps(wv[i * 3 + 1], v1, a3);
          a3 = _mm512_fmadd_ps(wv[i * 3 + 2], v2, a3);
        }
      }
      float* yr = y + r0 * wo + c0;
      storeRow(yr, a0, m, accumulate);
      storeRow(yr + wo, a1, m, accumulate);
      storeRow(yr + 2 * wo, a2, m, accumulate);
      storeRow(yr + 3 * wo, a3, m, accumulate);
    }
    for (; r0 < ho; r0++) {
      __m512 a = _mm512_setzero_ps();
      for (int i = 0; i < 3; i++) {
        const int64_t ih = r0 - top + i;
        if (ih < 0 || ih >= h) continue;
        const float* p = x + ih * w + lo;
        a = _mm512_fmadd_ps(wv[i * 3 + 0], _mm512_maskz_loadu_ps(m0, p), a);
        a = _mm512_fmadd_ps(wv[i * 3 + 1], _mm512_maskz_loadu_ps(m1, p + 1), a);
        a = _mm512_fmadd_ps(wv[i * 3 + 2], _mm512_maskz_loadu_ps(m2, p + 2), a);
      }
      storeRow(y + r0 * wo + c0, a, m, accumulate);
    }
  }
}

static float hsum(__m512 v) {
  alignas(64) float t[16];
  _mm512_store_ps(t, v);
  float s = 0.f;
  for (int e = 0; e < 16; e++) s += t[e];
  return s;
}

void dwWeightGradF32(const float* xp, int64_t ld, const float* gy, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                     int64_t ho, int64_t wo, float* gw, float* gbSum) {
  __m512 bs = _mm512_setzero_ps();
  if (kh == 3 && kw == 3 && sh == 1 && sw == 1) {
    __m512 a[9];
    for (int t = 0; t < 9; t++) a[t] = _mm512_setzero_ps();
    int64_t r = 0;
    for (; r + 4 <= ho; r += 4) {
      for (int64_t c0 = 0; c0 < wo; c0 += 16) {
        const __mmask16 m = firstLanes(wo - c0);
        const float* g = gy + r * wo + c0;
        const __m512 g0 = _mm512_maskz_loadu_ps(m, g), g1 = _mm512_maskz_loadu_ps(m, g + wo);
        const __m512 g2 = _mm512_maskz_loadu_ps(m, g + 2 * wo), g3 = _mm512_maskz_loadu_ps(m, g + 3 * wo);
        bs = _mm512_add_ps(bs, _mm512_add_ps(_mm512_add_ps(g0, g1), _mm512_add_ps(g2, g3)));
        const float* p = xp + r * ld + c0;
#pragma GCC unroll 6
        for (int q = 0; q < 6; q++, p += ld) {
          const __m512 v0 = _mm512_loadu_ps(p), v1 = _mm512_loadu_ps(p + 1), v2 = _mm512_loadu_ps(p + 2);
          // input row r + q meets gy row r + q - i through kernel row i.
#pragma GCC unroll 3
          for (int i = 0; i < 3; i++) {
            const int rr = q - i;
            if (rr < 0 || rr > 3) continue;
            const __m512 gg = rr == 0 ? g0 : rr == 1 ? g1 : rr == 2 ? g2 : g3;
            a[i * 3 + 0] = _mm512_fmadd_ps(gg, v0, a[i * 3 + 0]);
            a[i * 3 + 1] = _mm512_fmadd_ps(gg, v1, a[i * 3 + 1]);
            a[i * 3 + 2] = _mm512_fmadd_ps(gg, v2, a[i * 3 + 2]);
          }
        }
      }
    }
    for (; r < ho; r++) {
      for (int64_t c0 = 0; c0 < wo; c0 += 16) {
        const __m512 g = _mm512_maskz_loadu_ps(firstLanes(wo - c0), gy + r * wo + c0);
        bs = _mm512_add_ps(bs, g);
        const float* p = xp + r * ld + c0;
        for (int i = 0; i < 3; i++, p += ld) {
          a[i * 3 + 0] = _mm512_fmadd_ps(g, _mm512_loadu_ps(p), a[i * 3 + 0]);
          a[i * 3 + 1] = _mm512_fmadd_ps(g, _mm512_loadu_ps(p + 1), a[i * 3 + 1]);
          a[i * 3 + 2] = _mm512_fmadd_ps(g, _mm512_loadu_ps(p + 2), a[i * 3 + 2]);
        }
      }
    }
    for (int t = 0; t < 9; t++) gw[t] += hsum(a[t]);
    if (gbSum) *gbSum = hsum(bs);
    return;
  }
  const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  for (int64_t i = 0; i < kh; i++)
    for (int64_t j = 0; j < kw; j++) {
      __m512 a = _mm512_setzero_ps();
      for (int64_t r = 0; r < ho; r++) {
        const float* p = xp + (r * sh + i) * ld + j;
        for (int64_t c0 = 0; c0 < wo; c0 += 16) {
          const __m512 g = _mm512_maskz_loadu_ps(firstLanes(wo - c0), gy + r * wo + c0);
          const __m512 v = sw == 1 ? _mm512_loadu_ps(p + c0)
                                   : _mm512_permutex2var_ps(_mm512_loadu_ps(p + 2 * c0), evens, _mm512_loadu_ps(p + 2 * c0 + 16));
          a = _mm512_fmadd_ps(g, v, a);
        }
      }
      gw[i * kw + j] += hsum(a);
    }
  if (gbSum) {
    for (int64_t r = 0; r < ho; r++)
      for (int64_t c0 = 0; c0 < wo; c0 += 16) bs = _mm512_add_ps(bs, _mm512_maskz_loadu_ps(firstLanes(wo - c0), gy + r * wo + c0));
    *gbSum = hsum(bs);
  }
}

// Outputs o (of `count`) whose input o s + d lies in [0, size): [firstInside, endInside).
static int64_t firstInside(int64_t d, int64_t s) { return d >= 0 ? 0 : (s - 1 - d) / s; }
static int64_t endInside(int64_t d, int64_t s, int64_t size, int64_t count) {
  if (size - 1 - d < 0) return 0;
  const int64_t end = (size - 1 - d) / s + 1;
  return end < count ? end : count;
}

// Every tap's products over the outputs o whose input pixel in(o, tap) lies inside the image,
// 16 channels per vector: y[o] += w[tap] x[in(o, tap)] (the forward), or, backwards,
// x[in(o, tap)] += w[tap] y[o] (the input gradient).
static void tapProducts(const ConvGeom& g, const float* wt, float* xt, float* yt, bool backwards) {
  for (int64_t i = 0; i < g.kh; i++) {
    const int64_t dy = i * g.dh - g.pt, r0 = firstInside(dy, g.sh), r1 = endInside(dy, g.sh, g.H, g.Ho);
    for (int64_t j = 0; j < g.kw; j++) {
      const int64_t dx = j * g.dw - g.pl, q0 = firstInside(dx, g.sw), q1 = endInside(dx, g.sw, g.W, g.Wo);
      const __m512 wv = _mm512_load_ps(wt + (i * g.kw + j) * 16);
      for (int64_t r = r0; r < r1; r++) {
        float* yr = yt + r * g.Wo * 16;
        float* xr = xt + ((r * g.sh + dy) * g.W + dx) * 16;
        if (backwards)
          for (int64_t q = q0; q < q1; q++) {
            float* xq = xr + q * g.sw * 16;
            _mm512_store_ps(xq, _mm512_fmadd_ps(wv, _mm512_load_ps(yr + q * 16), _mm512_load_ps(xq)));
          }
        else
          for (int64_t q = q0; q < q1; q++)
            _mm512_store_ps(yr + q * 16,
                            _mm512_fmadd_ps(wv, _mm512_load_ps(xr + q * g.sw * 16), _mm512_load_ps(yr + q * 16)));
      }
    }
  }
}

static void zeroFloats(float* p, int64_t n) {
  for (int64_t e = 0; e < n; e += 16) _mm512_store_ps(p + e, _mm512_setzero_ps());
}

// One image's block through the taps: src's planes (srcPlane pixels each, cn of them) are
// transposed in, the taps run (forwards from x to y, or backwards from y to x), and the
// result's planes (dstPlane pixels) are transposed back into dst.
static void channelsLastTaps(const ConvGeom& g, const float* wt, int64_t cn, float* scratch, const float* src,
                             int64_t srcPlane, float* dst, int64_t dstPlane, bool backwards) {
  float *xt = scratch, *yt = xt + g.H * g.W * 16;
  float *in = backwards ? yt : xt, *out = backwards ? xt : yt;
  transpose(src, cn, srcPlane, srcPlane, in, 16);
  zeroFloats(out, dstPlane * 16);
  tapProducts(g, wt, xt, yt, backwards);
  transpose(out, dstPlane, cn, 16, dst, dstPlane);
}

void dwForwardChannelsLastF32(const ConvGeom& g, const float* x, const float* wt, int64_t n, int64_t c0, int64_t cn,
                              float* scratch, float* y) {
  const int64_t HW = g.H * g.W, P = g.Ho * g.Wo;
  channelsLastTaps(g, wt, cn, scratch, x + (n * g.C + c0) * HW, HW, y + (n * g.K + c0) * P, P, false);
}

void dwBackwardInputChannelsLastF32(const ConvGeom& g, const float* gy, const float* wt, int64_t n, int64_t c0,
                                    int64_t cn, float* scratch, float* gx) {
  const int64_t HW = g.H * g.W, P = g.Ho * g.Wo;
  channelsLastTaps(g, wt, cn, scratch, gy + (n * g.K + c0) * P, P, gx + (n * g.C + c0) * HW, HW, true);
}

void dwWeightGradChannelsLastF32(const ConvGeom& g, const float* x, const float* gy, int64_t c0, int64_t cn,
                                 float* scratch, float* gw, float* gb) {
  const int64_t HW = g.H * g.W, P = g.Ho * g.Wo, taps = g.kh * g.kw;
  float* xt = scratch;        // [H W][16]: x of the block's channels at each input pixel
  float* gt = xt + HW * 16;   // [Ho Wo][16]
  float* sums = gt + P * 16;  // [taps][16]
  // Lanes past cn are never written by the transposes; zeroed so that they hold no NaN.
  zeroFloats(scratch, (HW + P + taps) * 16);
  __m512 bias = _mm512_setzero_ps();
  for (int64_t n = 0; n < g.N; n++) {
    transpose(x + (n * g.C + c0) * HW, cn, HW, HW, xt, 16);
    transpose(gy + (n * g.K + c0) * P, cn, P, P, gt, 16);
    if (gb)
      for (int64_t o = 0; o < P; o++) bias = _mm512_add_ps(bias, _mm512_load_ps(gt + o * 16));
    for (int64_t i = 0; i < g.kh; i++) {
      // Output rows whose input row r sh + i dh - pt lies inside the image.
      const int64_t dy = i * g.dh - g.pt;
      const int64_t r0 = firstInside(dy, g.sh), r1 = endInside(dy, g.sh, g.H, g.Ho);
      for (int64_t j = 0; j < g.kw; j++) {
        const int64_t dx = j * g.dw - g.pl;
        const int64_t q0 = firstInside(dx, g.sw), q1 = endInside(dx, g.sw, g.W, g.Wo);
        __m512 a = _mm512_setzero_ps();
        for (int64_t r = r0; r < r1; r++) {
          const float* gr = gt + r * g.Wo * 16;
          const float* xr = xt + ((r * g.sh + dy) * g.W + dx) * 16;
          for (int64_t q = q0; q < q1; q++)
            a = _mm512_fmadd_ps(_mm512_load_ps(gr + q * 16), _mm512_load_ps(xr + q * g.sw * 16), a);
        }
        float* s = sums + (i * g.kw + j) * 16;
        _mm512_store_ps(s, _mm512_add_ps(_mm512_load_ps(s), a));
      }
    }
  }
  for (int64_t t = 0; t < taps; t++)
    for (int64_t e = 0; e < cn; e++) gw[(c0 + e) * taps + t] = sums[t * 16 + e];
  if (gb) {
    alignas(64) float b[16];
    _mm512_store_ps(b, bias);
    for (int64_t e = 0; e < cn; e++) gb[c0 + e] = b[e];
  }
}

void dwBackwardInputS2F32(const float* gy, int64_t ho, int64_t wo, const float* w, int64_t kh, int64_t kw, int64_t pt,
                          int64_t pl, float* gx, int64_t h, int64_t wd, int accumulate) {
  // The even and odd columns interleaved: (even 0, odd 0, even 1, ...).
  const __m512i lo = interleaveIndex(0), hi = interleaveIndex(1);
  // gx column 2 q + b of row r takes kernel row i (r + pt - i even) from gy row (r + pt - i) / 2
  // and kernel column j (b + pl - j even) from gy column q + (b + pl - j) / 2. A block of 16 q
  // from q0 lists, per column parity b, its kernel columns with the gy column of lane 0 and
  // the lanes whose gy column lies inside gy.
  struct Column {
    int64_t j, c;
    __mmask16 m;
  };
  Column cols[2][kS2MaxKernel];
  int64_t ncols[2];
  for (int64_t q0 = 0; 2 * q0 < wd; q0 += 16) {
    for (int64_t b = 0; b < 2; b++) {
      ncols[b] = 0;
      for (int64_t j = (b + pl) % 2; j < kw; j += 2) {
        const int64_t c = q0 + (b + pl - j) / 2;
        cols[b][ncols[b]++] = {j, c, colMask(c, wo)};
      }
    }
    for (int64_t r = 0; r < h; r++) {
      __m512 sum[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
      for (int64_t i = (r + pt) % 2; i < kh; i += 2) {
        const int64_t rr = r + pt - i;
        if (rr < 0 || rr / 2 >= ho) continue;
        const float* gyr = gy + rr / 2 * wo;
        const float* wi = w + i * kw;
        for (int64_t b = 0; b < 2; b++)
          for (int64_t t = 0; t < ncols[b]; t++) {
            const Column& e = cols[b][t];
            sum[b] = _mm512_fmadd_ps(_mm512_set1_ps(wi[e.j]), _mm512_maskz_loadu_ps(e.m, gyr + e.c), sum[b]);
          }
      }
      float* d = gx + r * wd + 2 * q0;
      storeRow(d, _mm512_permutex2var_ps(sum[0], lo, sum[1]), firstLanes(wd - 2 * q0), accumulate);
      if (wd - 2 * q0 > 16)
        storeRow(d + 16, _mm512_permutex2var_ps(sum[0], hi, sum[1]), firstLanes(wd - 2 * q0 - 16), accumulate);
    }
  }
}

}  // namespace avx512
}  // namespace iv
