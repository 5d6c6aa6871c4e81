// Depthwise convolution (one input channel per group, K = multiplier x C) computed directly
// rather than through GEMM, whose K dimension would be just kh x kw. Each input plane is
// copied once into a zero-padded scratch with rows wide enough that the inner loops run over
// whole blocks of kBlock outputs with no edge tests, which the compiler turns into vector
// code; the plane and its output stay in L1/L2 while all taps run over them. On AVX-512
// CPUs float32 with dilation 1 and width stride 1 or 2 goes to conv_depthwise_avx512.cc
// instead (3x3 stride 1 reading the unpadded plane with masked loads, no copy; the stride-2
// input gradient reading gy in place, row by row), and small planes there go channels-last,
// 16 channels per vector (channelsLastRoute below). bfloat16
// operands (In) widen to float32 (T) as their planes are padded, so only the outputs need a
// float32 copy (the caller's).
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include "../bfloat16.h"
#include "../cpu_features.h"
#include "../parallel.h"
#include "../scratch.h"
#include "conv.h"
#include "conv_depthwise_kernels.h"

namespace iv {
namespace {

constexpr int64_t kBlock = 16;

inline int64_t roundUp(int64_t a, int64_t b) { return (a + b - 1) / b * b; }
inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Depthwise convolutions with one output channel per input channel take the channels-last
// routes (avx512::dw*ChannelsLastF32), float32 on AVX-512, on planes up to these sizes, where
// they measured faster: up to 256 outputs and 1024 inputs per plane (MetaNet's 1x1 to 16x16
// planes, and 32x32 at stride 2; slower at 32x32 stride 1 and above, where the plane-by-plane
// kernels run whole vectors along rows). A strided weight gradient up to 1024 outputs and 4096
// inputs (faster at 56 -> 28, whose plane-by-plane kernel gathers every other column; the
// forward there measured level). The input gradient up to 256 inputs (slower at 32x32 stride
// 2). The scratch, up to 330 KB, stays in L2.
constexpr int64_t kChannelsLastPlane = 256, kChannelsLastInput = 1024, kChannelsLastInputGrad = 256;
constexpr int64_t kChannelsLastStridedPlane = 1024, kChannelsLastStridedInput = 4096;

enum class Pass { forward, inputGrad, weightGrad };

// Whether a depthwise convolution of In and T takes the channels-last route in this pass. For
// the forward and the input gradient, 3x3 stride 1 on planes 8 or more wide stays with
// avx512::dw3x3s1DirectF32, which measured faster there.
template <class In, class T>
bool channelsLastRoute(const ConvGeom& g, Pass pass) {
  if (!std::is_same_v<In, float> || !std::is_same_v<T, float> || activeIsa() != Isa::avx512 || g.K != g.C)
    return false;
  const int64_t P = g.Ho * g.Wo, HW = g.H * g.W;
  const bool unitStride = g.sh == 1 && g.sw == 1;
  if (pass == Pass::weightGrad && !unitStride) return P <= kChannelsLastStridedPlane && HW <= kChannelsLastStridedInput;
  if (P > kChannelsLastPlane || HW > kChannelsLastInput) return false;
  if (pass == Pass::weightGrad) return true;
  const bool direct = g.kh == 3 && g.kw == 3 && unitStride && g.dh == 1 && g.dw == 1 && g.W >= 8;
  return !direct && (pass == Pass::forward || HW <= kChannelsLastInputGrad);
}

// Scratch of a channels-last call: 16 floats per tap, input pixel and output pixel.
inline int64_t channelsLastScratch(const ConvGeom& g) { return (g.kh * g.kw + g.H * g.W + g.Ho * g.Wo) * kBlock; }

thread_local Scratch tlsPlane, tlsGrad, tlsTapWeights;

// The weights of every block of 16 channels tap-major, [block][tap][16], 0 past the last
// channel: made once per call, for the channels-last forward and input gradient.
const float* tapMajorWeights(const ConvGeom& g, const float* w) {
  const int64_t taps = g.kh * g.kw, blocks = ceilDiv(g.C, kBlock);
  float* wt = tlsTapWeights.get<float>(blocks * taps * kBlock);
  for (int64_t b = 0; b < blocks; b++)
    for (int64_t t = 0; t < taps; t++)
      for (int64_t e = 0; e < kBlock; e++) {
        const int64_t c = b * kBlock + e;
        wt[(b * taps + t) * kBlock + e] = c < g.C ? w[c * taps + t] : 0.f;
      }
  return wt;
}

// fn(n, c0, cn, scratch) for every image n and block of channels [c0, c0 + cn), cn <= 16,
// split among the threads, each with its channels-last scratch.
template <class F>
void forEachImageBlock(const ConvGeom& g, F fn) {
  const int64_t blocks = ceilDiv(g.C, kBlock);
  parallelFor(g.N * blocks, 1, [&](int64_t a, int64_t b) {
    float* scratch = tlsPlane.get<float>(channelsLastScratch(g));
    for (int64_t item = a; item < b; item++) {
      const int64_t n = item / blocks, c0 = item % blocks * kBlock;
      fn(n, c0, std::min(kBlock, g.C - c0), scratch);
    }
  });
}

inline int64_t clampTo(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

// dst (hp x wp) = src (h x w) shifted down by top and right by left (either may be
// negative), zero elsewhere.
template <class In, class T>
void padPlane(const In* src, int64_t h, int64_t w, int64_t top, int64_t left, T* dst, int64_t hp, int64_t wp) {
  const int64_t c0 = clampTo(left, 0, wp), c1 = clampTo(left + w, c0, wp);
  for (int64_t r = 0; r < hp; r++) {
    T* d = dst + r * wp;
    const int64_t ih = r - top;
    if (ih < 0 || ih >= h || c1 == c0) {
      std::memset(d, 0, wp * sizeof(T));
      continue;
    }
    std::memset(d, 0, c0 * sizeof(T));
    const In* s = src + ih * w + (c0 - left);
    if constexpr (std::is_same_v<In, T>) std::memcpy(d + c0, s, (c1 - c0) * sizeof(T));
    else for (int64_t i = 0; i < c1 - c0; i++) d[c0 + i] = static_cast<T>(s[i]);
    std::memset(d + c1, 0, (wp - c1) * sizeof(T));
  }
}

struct Taps {
  int64_t kh, kw, sh, sw, dh, dw;
};

// Padded-plane geometry for an ho x wo output: rows and row pitch that every tap of every
// block of kBlock outputs (the last one overhanging wo) reads inside.
inline int64_t paddedRows(const Taps& t, int64_t ho) { return (ho - 1) * t.sh + t.dh * (t.kh - 1) + 1; }
inline int64_t paddedCols(const Taps& t, int64_t wo) { return (roundUp(wo, kBlock) - 1) * t.sw + t.dw * (t.kw - 1) + 1; }

// y[r][c] (+)= sum_ij w[i][j] * xp[r sh + i dh][c sw + j dw] over an ho x wo output.
template <class T, bool UnitStride>
void correlate(const T* xp, int64_t ld, const T* w, const Taps& t, int64_t ho, int64_t wo, T* y, bool accumulate) {
  const int64_t sw = UnitStride ? 1 : t.sw;
  for (int64_t r = 0; r < ho; r++) {
    T* yr = y + r * wo;
    for (int64_t c0 = 0; c0 < wo; c0 += kBlock) {
      T acc[kBlock] = {};
      for (int64_t i = 0; i < t.kh; i++) {
        const T* row = xp + (r * t.sh + i * t.dh) * ld + c0 * sw;
        for (int64_t j = 0; j < t.kw; j++) {
          const T wv = w[i * t.kw + j];
          const T* s = row + j * t.dw;
          for (int64_t e = 0; e < kBlock; e++) acc[e] += wv * s[e * sw];
        }
      }
      const int64_t n = wo - c0 < kBlock ? wo - c0 : kBlock;
      if (accumulate) for (int64_t e = 0; e < n; e++) yr[c0 + e] += acc[e];
      else for (int64_t e = 0; e < n; e++) yr[c0 + e] = acc[e];
    }
  }
}

template <class T>
void correlatePlane(const T* xp, int64_t ld, const T* w, const Taps& t, int64_t ho, int64_t wo, T* y, bool accumulate) {
  if (t.sw == 1) correlate<T, true>(xp, ld, w, t, ho, wo, y, accumulate);
  else correlate<T, false>(xp, ld, w, t, ho, wo, y, accumulate);
}

Taps tapsOf(const ConvGeom& g) { return {g.kh, g.kw, g.sh, g.sw, g.dh, g.dw}; }

// Whether avx512::dwCorrelateF32 takes these taps (float32 checked by the caller).
bool avx512Taps(const Taps& t) {
  return activeIsa() == Isa::avx512 && t.dh == 1 && t.dw == 1 && (t.sw == 1 || t.sw == 2);
}
// Its padded row pitch for a wo-wide output (a stride-2 block reads 32 + kw - 1 columns).
inline int64_t avx512Cols(const Taps& t, int64_t wo) { return roundUp(wo, kBlock) * t.sw + t.kw - 1; }

}  // namespace

template <class In, class T>
void depthwiseForward(const ConvGeom& g, const In* x, const T* w, const T* bias, T* y, T* pre, Act act) {
  const Taps t = tapsOf(g);
  const int64_t mult = g.K / g.C, taps = g.kh * g.kw, P = g.Ho * g.Wo;
  const bool fast = std::is_same<T, float>::value && avx512Taps(t);
  const bool direct = fast && std::is_same_v<In, T> && t.kh == 3 && t.kw == 3 && t.sh == 1 && t.sw == 1;
  const int64_t hp = paddedRows(t, g.Ho), wp = fast ? avx512Cols(t, g.Wo) : paddedCols(t, g.Wo);
  if constexpr (std::is_same_v<In, float> && std::is_same_v<T, float>)
    if (channelsLastRoute<In, T>(g, Pass::forward)) {
      const float* wt = tapMajorWeights(g, w);
      forEachImageBlock(g, [&](int64_t n, int64_t c0, int64_t cn, float* scratch) {
        avx512::dwForwardChannelsLastF32(g, x, wt + c0 * taps, n, c0, cn, scratch, y);
        if (bias || pre || act != Act::none)
          for (int64_t k = c0; k < c0 + cn; k++) {
            const int64_t plane = n * g.K + k;
            epilogue(y + plane * P, pre ? pre + plane * P : nullptr, P, bias ? bias[k] : T(0), act);
          }
      });
      return;
    }
  parallelFor(g.N * g.K, 1, [&](int64_t a, int64_t b) {
    T* xp = direct ? nullptr : tlsPlane.get<T>(hp * wp);
    int64_t padded = -1;
    for (int64_t plane = a; plane < b; plane++) {
      const int64_t k = plane % g.K, src = plane / g.K * g.C + k / mult;
      T* yk = y + plane * P;
      if (direct) {
        avx512::dw3x3s1DirectF32(reinterpret_cast<const float*>(x) + src * g.H * g.W, g.H, g.W, g.pt, g.pl,
                                 reinterpret_cast<const float*>(w + k * taps), g.Ho, g.Wo, reinterpret_cast<float*>(yk), 0);
        if (bias || pre || act != Act::none)
          epilogue(yk, pre ? pre + plane * P : nullptr, P, bias ? bias[k] : T(0), act);
        continue;
      }
      if (src != padded) padPlane(x + src * g.H * g.W, g.H, g.W, g.pt, g.pl, xp, hp, wp);
      padded = src;
      if (fast)
        avx512::dwCorrelateF32(reinterpret_cast<const float*>(xp), wp, reinterpret_cast<const float*>(w + k * taps),
                               t.kh, t.kw, t.sh, t.sw, g.Ho, g.Wo, reinterpret_cast<float*>(yk), 0);
      else
        correlatePlane(xp, wp, w + k * taps, t, g.Ho, g.Wo, yk, false);
      if (bias || pre || act != Act::none) epilogue(yk, pre ? pre + plane * P : nullptr, P, bias ? bias[k] : T(0), act);
    }
  });
}

template <class In, class T>
void depthwiseBackwardInput(const ConvGeom& g, const In* gy, const T* w, T* gx) {
  const int64_t mult = g.K / g.C, taps = g.kh * g.kw, P = g.Ho * g.Wo, HW = g.H * g.W;
  const Taps t = tapsOf(g);
  if constexpr (std::is_same_v<In, float> && std::is_same_v<T, float>)
    if (channelsLastRoute<In, T>(g, Pass::inputGrad)) {
      const float* wt = tapMajorWeights(g, w);
      forEachImageBlock(g, [&](int64_t n, int64_t c0, int64_t cn, float* scratch) {
        avx512::dwBackwardInputChannelsLastF32(g, gy, wt + c0 * taps, n, c0, cn, scratch, gx);
      });
      return;
    }
  if (g.sh == 1 && g.sw == 1) {
    // Stride 1: the gradient is gy correlated with the flipped kernel, padded by the kernel
    // span less the forward padding: a gather, like the forward.
    const bool fast = std::is_same<T, float>::value && avx512Taps(t);
    const int64_t hp = paddedRows(t, g.H), wp = fast ? avx512Cols(t, g.W) : paddedCols(t, g.W);
    const int64_t top = g.dh * (g.kh - 1) - g.pt, left = g.dw * (g.kw - 1) - g.pl;
    const bool direct = fast && std::is_same_v<In, T> && t.kh == 3 && t.kw == 3;
    parallelFor(g.N * g.C, 1, [&](int64_t a, int64_t b) {
      T* gyp = direct ? nullptr : tlsPlane.get<T>(hp * wp);
      T flipped[64];
      T* wf = taps <= 64 ? flipped : tlsGrad.get<T>(taps);
      for (int64_t plane = a; plane < b; plane++) {
        const int64_t n = plane / g.C, c = plane % g.C;
        for (int64_t m = 0; m < mult; m++) {
          const int64_t k = c * mult + m;
          for (int64_t i = 0; i < taps; i++) wf[i] = w[k * taps + taps - 1 - i];
          if (direct) {
            avx512::dw3x3s1DirectF32(reinterpret_cast<const float*>(gy) + (n * g.K + k) * P, g.Ho, g.Wo, top, left,
                                     reinterpret_cast<const float*>(wf), g.H, g.W,
                                     reinterpret_cast<float*>(gx + plane * HW), m > 0);
            continue;
          }
          padPlane(gy + (n * g.K + k) * P, g.Ho, g.Wo, top, left, gyp, hp, wp);
          if (fast)
            avx512::dwCorrelateF32(reinterpret_cast<const float*>(gyp), wp, reinterpret_cast<const float*>(wf), t.kh,
                                   t.kw, 1, 1, g.H, g.W, reinterpret_cast<float*>(gx + plane * HW), m > 0);
          else
            correlatePlane(gyp, wp, wf, t, g.H, g.W, gx + plane * HW, m > 0);
        }
      }
    });
    return;
  }
  if (std::is_same_v<T, float> && std::is_same_v<In, T> && avx512Taps(t) && g.sh == 2 && g.sw == 2 &&
      g.kh <= avx512::kS2MaxKernel && g.kw <= avx512::kS2MaxKernel) {
    // Stride 2: gx row by row, its even and odd columns summed in registers from the gy rows
    // and taps that reach them (avx512::dwBackwardInputS2F32).
    parallelFor(g.N * g.C, 1, [&](int64_t a, int64_t b) {
      for (int64_t plane = a; plane < b; plane++) {
        const int64_t n = plane / g.C, c = plane % g.C;
        for (int64_t m = 0; m < mult; m++) {
          const int64_t k = c * mult + m;
          avx512::dwBackwardInputS2F32(reinterpret_cast<const float*>(gy) + (n * g.K + k) * P, g.Ho, g.Wo,
                                       reinterpret_cast<const float*>(w) + k * taps, g.kh, g.kw, g.pt, g.pl,
                                       reinterpret_cast<float*>(gx) + plane * HW, g.H, g.W, m > 0);
        }
      }
    });
    return;
  }
  // Strided: scatter each output's contribution into a padded plane, then crop. The plane is
  // kept split into its sw column phases (padded column x at phase x % sw, index x / sw), so
  // a tap adds a contiguous row of gy times its weight (a loop that vectorises) instead of
  // every sw-th element.
  const int64_t hp = paddedRows(t, g.Ho), wp = (g.Wo - 1) * g.sw + g.dw * (g.kw - 1) + 1;
  const int64_t wq = (wp + g.sw - 1) / g.sw;
  parallelFor(g.N * g.C, 1, [&](int64_t a, int64_t b) {
    T* gxp = tlsPlane.get<T>(g.sw * hp * wq);
    for (int64_t plane = a; plane < b; plane++) {
      const int64_t n = plane / g.C, c = plane % g.C;
      std::memset(gxp, 0, g.sw * hp * wq * sizeof(T));
      for (int64_t m = 0; m < mult; m++) {
        const int64_t k = c * mult + m;
        const In* gyk = gy + (n * g.K + k) * P;
        for (int64_t r = 0; r < g.Ho; r++)
          for (int64_t i = 0; i < g.kh; i++)
            for (int64_t j = 0; j < g.kw; j++) {
              const T wv = w[k * taps + i * g.kw + j];
              const int64_t x0 = j * g.dw;
              T* __restrict d = gxp + (x0 % g.sw * hp + r * g.sh + i * g.dh) * wq + x0 / g.sw;
              const In* __restrict s = gyk + r * g.Wo;
              for (int64_t e = 0; e < g.Wo; e++) d[e] += wv * static_cast<T>(s[e]);
            }
      }
      // Crop: output column v is padded column v + pl, at phase (v + pl) % sw; each phase's
      // columns are read in a run.
      const int64_t W = g.W, sw = g.sw, pl = g.pl, inside = std::min(W, wp - pl);
      for (int64_t h = 0; h < g.H; h++) {
        T* __restrict orow = gx + plane * HW + h * W;
        const int64_t r = h + g.pt;
        if (r >= hp) {
          std::fill(orow, orow + W, T(0));
          continue;
        }
        for (int64_t v0 = 0; v0 < std::min(sw, inside); v0++) {
          const T* __restrict src = gxp + ((v0 + pl) % sw * hp + r) * wq + (v0 + pl) / sw;
          for (int64_t v = v0, q = 0; v < inside; v += sw, q++) orow[v] = src[q];
        }
        std::fill(orow + std::max<int64_t>(inside, 0), orow + W, T(0));
      }
    }
  });
}

template <class In, class T>
void depthwiseBackwardWeight(const ConvGeom& g, const In* gy, const In* x, T* gw, T* gb) {
  const Taps t = tapsOf(g);
  const int64_t mult = g.K / g.C, taps = g.kh * g.kw, P = g.Ho * g.Wo;
  const int64_t hp = paddedRows(t, g.Ho), wp = paddedCols(t, g.Wo), wb = roundUp(g.Wo, kBlock);
  if constexpr (std::is_same_v<In, float> && std::is_same_v<T, float>)
    if (channelsLastRoute<In, T>(g, Pass::weightGrad)) {
      // Small planes: a plane's row is a fraction of a vector, and the plane-by-plane route's
      // per-plane costs (padding, a horizontal sum per tap) outweigh its products.
      parallelFor(ceilDiv(g.C, kBlock), 1, [&](int64_t a, int64_t b) {
        float* scratch = tlsPlane.get<float>(channelsLastScratch(g));
        for (int64_t blk = a; blk < b; blk++)
          avx512::dwWeightGradChannelsLastF32(g, x, gy, blk * kBlock, std::min(kBlock, g.C - blk * kBlock), scratch,
                                              gw, gb);
      });
      return;
    }
  if (std::is_same<T, float>::value && avx512Taps(t)) {
    // gy is read in place (masked at the row ends); only x is padded.
    const int64_t wpf = avx512Cols(t, g.Wo);
    parallelFor(g.K, 1, [&](int64_t a, int64_t b) {
      float* xp = tlsPlane.get<float>(hp * wpf);
      float* gyw = std::is_same_v<In, float> ? nullptr : tlsGrad.get<float>(P);
      for (int64_t k = a; k < b; k++) {
        const int64_t c = k / mult;
        float* gwk = reinterpret_cast<float*>(gw + k * taps);
        for (int64_t i = 0; i < taps; i++) gwk[i] = 0.f;
        double bsum = 0;
        for (int64_t n = 0; n < g.N; n++) {
          padPlane(x + (n * g.C + c) * g.H * g.W, g.H, g.W, g.pt, g.pl, xp, hp, wpf);
          const In* gyn = gy + (n * g.K + k) * P;
          if (gyw)
            for (int64_t i = 0; i < P; i++) gyw[i] = static_cast<float>(gyn[i]);
          const float* gyf = gyw ? gyw : reinterpret_cast<const float*>(gyn);
          float s = 0.f;
          avx512::dwWeightGradF32(xp, wpf, gyf, t.kh, t.kw, t.sh, t.sw, g.Ho, g.Wo, gwk, gb ? &s : nullptr);
          bsum += s;
        }
        if (gb) gb[k] = T(bsum);
      }
    });
    return;
  }
  // Each thread owns whole output channels, so no two write the same weights.
  parallelFor(g.K, 1, [&](int64_t a, int64_t b) {
    T* xp = tlsPlane.get<T>(hp * wp);
    T* gyp = tlsGrad.get<T>(g.Ho * wb);
    for (int64_t k = a; k < b; k++) {
      const int64_t c = k / mult;
      for (int64_t i = 0; i < taps; i++) gw[k * taps + i] = T(0);
      double bsum = 0;
      for (int64_t n = 0; n < g.N; n++) {
        padPlane(x + (n * g.C + c) * g.H * g.W, g.H, g.W, g.pt, g.pl, xp, hp, wp);
        // gy with rows zero-filled to whole blocks, so the tail block adds nothing.
        padPlane(gy + (n * g.K + k) * P, g.Ho, g.Wo, 0, 0, gyp, g.Ho, wb);
        for (int64_t tap = 0; tap < taps; tap++) {
          const int64_t i = tap / g.kw, j = tap % g.kw;
          T acc[kBlock] = {};
          for (int64_t r = 0; r < g.Ho; r++) {
            const T* xr = xp + (r * g.sh + i * g.dh) * wp + j * g.dw;
            const T* gr = gyp + r * wb;
            if (g.sw == 1)
              for (int64_t c0 = 0; c0 < wb; c0 += kBlock)
                for (int64_t e = 0; e < kBlock; e++) acc[e] += gr[c0 + e] * xr[c0 + e];
            else
              for (int64_t c0 = 0; c0 < wb; c0 += kBlock)
                for (int64_t e = 0; e < kBlock; e++) acc[e] += gr[c0 + e] * xr[(c0 + e) * g.sw];
          }
          T s = 0;
          for (int64_t e = 0; e < kBlock; e++) s += acc[e];
          gw[k * taps + tap] += s;
        }
        if (gb) {
          T acc[kBlock] = {};
          for (int64_t c0 = 0; c0 < g.Ho * wb; c0 += kBlock)
            for (int64_t e = 0; e < kBlock; e++) acc[e] += gyp[c0 + e];
          for (int64_t e = 0; e < kBlock; e++) bsum += acc[e];
        }
      }
      if (gb) gb[k] = T(bsum);
    }
  });
}

template void depthwiseForward(const ConvGeom&, const float*, const float*, const float*, float*, float*, Act);
template void depthwiseForward(const ConvGeom&, const double*, const double*, const double*, double*, double*, Act);
template void depthwiseForward(const ConvGeom&, const bfloat16*, const float*, const float*, float*, float*, Act);
template void depthwiseBackwardInput(const ConvGeom&, const float*, const float*, float*);
template void depthwiseBackwardInput(const ConvGeom&, const double*, const double*, double*);
template void depthwiseBackwardInput(const ConvGeom&, const bfloat16*, const float*, float*);
template void depthwiseBackwardWeight(const ConvGeom&, const float*, const float*, float*, float*);
template void depthwiseBackwardWeight(const ConvGeom&, const double*, const double*, double*, double*);
template void depthwiseBackwardWeight(const ConvGeom&, const bfloat16*, const bfloat16*, float*, float*);

}  // namespace iv
