// 2-d convolution, NCHW: forward (with bias and activation fused in), input gradient and
// weight gradient. Dense and grouped convolutions lower each image to GEMMs over column
// tiles of im2col (bounded scratch that stays in cache); 1x1 stride-1 convolutions read the
// input as the GEMM operand directly. At small output sizes (up to 64 positions) a block of
// images shares one column matrix and one GEMM instead. Depthwise convolutions (one input
// channel per group) go to the direct kernels of conv_depthwise.cc. convTranspose2d reuses
// these entry points (its forward is the input gradient, its input gradient the forward).
// float32 takes faster routes where they apply: on AVX-512 the forward runs as an implicit
// GEMM over padded images (conv_implicit.cc); the image-batched forward fills the GEMM's
// column panels from padded images, storing no column matrix; a stride-1 input gradient is
// the forward convolution of gy with the flipped kernel; the weight gradient of large planes
// copies the column matrix's rows from padded images.
// The lowering is templated on In, the type of the operands (x, weight, gradOutput and the
// column matrix), and Out, the type of GEMM outputs and of what sums them: both float or
// double, or bfloat16 operands with float32 outputs, which the bfloat16 entry points round
// once into their tensors (so a weight gradient sums over images in float32).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <vector>
#include "../../binding/conv_args.h"
#include "../../binding/registry.h"
#include "../bfloat16.h"
#include "../cpu_features.h"
#include "../gemm.h"
#include "../parallel.h"
#include "../scratch.h"
#include "row_sums.h"
#include "conv.h"
#include "conv_dot.h"
#include "conv_implicit.h"

namespace iv {
namespace {
thread_local Scratch tlsFlipped;
}  // namespace

const float* flipKernel(const ConvGeom& t, const float* w) {
  const int64_t G = t.groups, Cg = t.C / G, Kg = t.K / G, taps = t.kh * t.kw;
  float* flipped = tlsFlipped.get<float>(t.K * Cg * taps);
  parallelFor(t.K, 4, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; k++) {
      const int64_t gi = k / Kg, kk = k % Kg;
      for (int64_t c = 0; c < Cg; c++) {
        const float* src = w + ((gi * Cg + c) * Kg + kk) * taps;
        float* dst = flipped + (k * Cg + c) * taps;
        for (int64_t tap = 0; tap < taps; tap++) dst[taps - 1 - tap] = src[tap];
      }
    }
  });
  return flipped;
}

namespace {

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t floorDivS(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

inline void gemm(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                 int64_t ldb, float beta, float* C, int64_t ldc) {
  sgemm(tA, tB, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}
inline void gemm(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const double* A, int64_t lda, const double* B,
                 int64_t ldb, double beta, double* C, int64_t ldc) {
  dgemm(tA, tB, M, N, K, 1.0, A, lda, B, ldb, beta, C, ldc);
}
inline void gemm(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const bfloat16* A, int64_t lda,
                 const bfloat16* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  sbgemm(tA, tB, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

// The packed weights of the calling thread's convolution (one per group), kept between calls
// so that packing allocates nothing once they have grown.
thread_local std::vector<PackedA> tlsPackedWeights;

// op(A) of the products that apply the weights image after image: each group's weights
// (Kg x R, the forward's) or their transpose (R x Kg, the input gradient's). For float32 they
// are packed once per call (sgemmPackA), where each product would pack them again; other
// types pack them in every product. One at a time per thread (tlsPackedWeights).
template <class In, class Out>
class GroupWeights {
 public:
  GroupWeights(const ConvGeom& g, const In* w, bool transposed)
      : w_(w), Kg_(g.K / g.groups), R_(g.C / g.groups * g.kh * g.kw), transposed_(transposed) {
    if constexpr (kPacks) {
      if (tlsPackedWeights.size() < static_cast<size_t>(g.groups)) tlsPackedWeights.resize(g.groups);
      packed_ = tlsPackedWeights.data();  // this thread's: multiply runs on any
      for (int64_t gi = 0; gi < g.groups; gi++)
        sgemmPackA(transposed, rows(), depth(), w + gi * Kg_ * R_, R_, tlsPackedWeights[gi]);
    }
  }
  // C (rows x N) = op(group gi's weights) times B (depth x N).
  void multiply(int64_t gi, int64_t N, const In* B, int64_t ldb, Out* C, int64_t ldc) const {
    if constexpr (kPacks) sgemmPackedA(packed_[gi], false, N, B, ldb, 0.0f, C, ldc);
    else gemm(transposed_, false, rows(), N, depth(), w_ + gi * Kg_ * R_, R_, B, ldb, Out(0), C, ldc);
  }

 private:
  static constexpr bool kPacks = std::is_same_v<In, float> && std::is_same_v<Out, float>;
  int64_t rows() const { return transposed_ ? R_ : Kg_; }
  int64_t depth() const { return transposed_ ? Kg_ : R_; }
  const In* w_;
  int64_t Kg_, R_;
  bool transposed_;
  const PackedA* packed_ = nullptr;
};

// A float32 copy of n bfloat16 elements (none for a null p).
std::unique_ptr<float[]> widen(const bfloat16* p, int64_t n) {
  if (!p) return nullptr;
  std::unique_ptr<float[]> v(new float[n]);
  widenBfloat16(p, v.get(), n);
  return v;
}

thread_local Scratch tlsCol;

// Runs f over [0, n) on the pool when `spread`, else on the calling thread (which is then
// itself one of the pool's workers).
template <class F>
void maybeParallel(bool spread, int64_t n, int64_t grain, F&& f) {
  if (spread) parallelFor(n, grain, f);
  else f(0, n);
}

// Columns per im2col tile: the tile (rows x cols) stays within about 256 KB so it is still in
// L2 when the GEMM packs it; a multiple of 32 so GEMM column panels are whole.
int64_t tileColumns(int64_t rows, int64_t positions, size_t elem) {
  const int64_t budget = (int64_t(256) << 10) / static_cast<int64_t>(elem);
  const int64_t cols = std::max<int64_t>(128, budget / std::max<int64_t>(rows, 1) / 32 * 32);
  return cols >= positions ? positions : cols;
}

// Calls f(dst offset, iw0 of the first valid input column, count) for the segments of the
// output positions [c0, c0 + n) that kernel tap (i, j) maps inside the input, and z(offset,
// count) for the ones it maps into padding. ih is per output row.
template <class Valid, class Pad>
inline void forTapSegments(const ConvGeom& g, int64_t i, int64_t j, int64_t c0, int64_t n, Valid&& valid, Pad&& pad) {
  const int64_t base = j * g.dw - g.pl;
  // Output columns whose input column wo * sw + base lies in [0, W).
  const int64_t woLo = std::max<int64_t>(0, floorDivS(-base + g.sw - 1, g.sw));
  const int64_t woHi = std::min<int64_t>(g.Wo, floorDivS(g.W - 1 - base, g.sw) + 1);
  // Segments are output rows (the first and last may be partial): ho and wo advance by row,
  // not by a division per segment.
  int64_t ho = c0 / g.Wo, wo = c0 - ho * g.Wo;
  for (int64_t p = c0, end = c0 + n; p < end; ho++, wo = 0) {
    const int64_t len = std::min(g.Wo - wo, end - p);
    const int64_t ih = ho * g.sh - g.pt + i * g.dh, off = p - c0;
    if (ih < 0 || ih >= g.H) {
      pad(off, len);
    } else {
      const int64_t a = std::min(std::max(woLo, wo), wo + len), b = std::max(std::min(woHi, wo + len), a);
      if (a > wo) pad(off, a - wo);
      if (b > a) valid(off + (a - wo), ih * g.W + a * g.sw + base, b - a);
      if (wo + len > b) pad(off + (b - wo), wo + len - b);
    }
    p += len;
  }
}

// A strided copy (sw > 1) reads every other value or fewer, and a 1x1 kernel at stride 2
// every other row too: gaps that the hardware prefetchers do not bridge, so each cache line
// was a wait on memory. im2col asks for the segment this many bytes further on (whole input
// rows of the stride, about 4 KB; past a plane's end, the next channel's) as it copies.
int64_t stridedPrefetchDistance(const ConvGeom& g, size_t elem) {
  const int64_t rowBytes = g.sh * g.W * static_cast<int64_t>(elem);
  return (4096 + rowBytes - 1) / rowBytes * rowBytes;
}

// Every cache line of [p, p + bytes), `ahead` bytes further on (in integers: the address may
// lie past the tensor, and a prefetch never faults).
inline void prefetchAhead(const void* p, int64_t bytes, int64_t ahead) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p) + static_cast<uintptr_t>(ahead);
  for (int64_t b = 0; b < bytes; b += 64) __builtin_prefetch(reinterpret_cast<const void*>(a + b));
}

// Rows [r0, r1) of the column matrix for output positions [c0, c0 + n): row r is input
// channel r / (kh kw) of the group (planes at x), tap r % (kh kw); rows are n long.
template <class T>
void im2col(const ConvGeom& g, const T* x, int64_t c0, int64_t n, int64_t r0, int64_t r1, T* col, int64_t ld) {
  const int64_t taps = g.kh * g.kw, HW = g.H * g.W, ahead = stridedPrefetchDistance(g, sizeof(T));
  for (int64_t r = r0; r < r1; r++) {
    const T* plane = x + (r / taps) * HW;
    T* dst = col + r * ld;
    forTapSegments(
        g, (r % taps) / g.kw, r % g.kw, c0, n,
        [&](int64_t off, int64_t src, int64_t cnt) {
          if (g.sw == 1) std::memcpy(dst + off, plane + src, cnt * sizeof(T));
          else {
            prefetchAhead(plane + src, cnt * g.sw * sizeof(T), ahead);
            for (int64_t t = 0; t < cnt; t++) dst[off + t] = plane[src + t * g.sw];
          }
        },
        [&](int64_t off, int64_t cnt) { std::fill(dst + off, dst + off + cnt, T(0)); });
  }
}

// Lanes [a, b) of 16 (clamped), as a mask.
inline uint16_t laneRange(int64_t a, int64_t b) {
  a = std::clamp<int64_t>(a, 0, 16), b = std::clamp<int64_t>(b, 0, 16);
  return b <= a ? 0 : static_cast<uint16_t>(((1u << b) - 1) & ~((1u << a) - 1));
}

// The sums of col2im at sw == 2 (conv.h's Stride2Rows) for output positions [c0, c0 + n),
// column-matrix rows ld long. Input column w = 2 m + b (phase b) of row h takes, from each
// tap (i, j) with h = ho sh - pt + i dh, the value at output column wo = m + (b + pl - j dw)
// / 2, where that is a whole number and (ho, wo) is in this tile.
void col2imStride2(const ConvGeom& g, const float* col, int64_t c0, int64_t n, int64_t ci0, int64_t ci1, float* x,
                   int64_t ld) {
  const int64_t p1 = c0 + n, hoFirst = c0 / g.Wo, hoLast = (p1 - 1) / g.Wo;
  const int64_t hLo = std::max<int64_t>(0, hoFirst * g.sh - g.pt);
  const int64_t hHi = std::min<int64_t>(g.H, hoLast * g.sh - g.pt + (g.kh - 1) * g.dh + 1);
  const int64_t blocks = ceilDiv(g.W, 32);
  std::vector<Stride2Term> terms;
  std::vector<int64_t> start;
  for (int64_t h = hLo; h < hHi; h++)
    for (int64_t m0 = 0; m0 < blocks * 16; m0 += 16)
      for (int b = 0; b < 2; b++) {
        start.push_back(static_cast<int64_t>(terms.size()));
        for (int64_t i = 0; i < g.kh; i++) {
          const int64_t num = h + g.pt - i * g.dh;
          if (num < 0 || num % g.sh) continue;
          const int64_t ho = num / g.sh;
          if (ho < hoFirst || ho > hoLast) continue;
          // The tile's output columns of row ho: [woLo, woHi), at col index ho * Wo + wo - c0.
          const int64_t woLo = ho == hoFirst ? c0 - ho * g.Wo : 0, woHi = ho == hoLast ? p1 - ho * g.Wo : g.Wo;
          for (int64_t j = 0; j < g.kw; j++) {
            const int64_t e = b + g.pl - j * g.dw;
            if (e & 1) continue;
            const int64_t wo0 = m0 + e / 2;  // the output column of lane 0
            if (const uint16_t valid = laneRange(woLo - wo0, woHi - wo0))
              terms.push_back({(i * g.kw + j) * ld + ho * g.Wo - c0 + wo0, valid});
          }
        }
      }
  start.push_back(static_cast<int64_t>(terms.size()));
  const Stride2Rows rows{terms.data(), start.data(), hLo, hHi - hLo, blocks, g.W, g.H * g.W, g.kh * g.kw * ld};
  avx512::col2imStride2(rows, col, ci0, ci1, x);
}

// Adds the column matrix back into the input planes (the adjoint of im2col), for the input
// channels [ci0, ci1) of the group; each channel's rows touch only its own plane.
template <class T>
void col2im(const ConvGeom& g, const T* col, int64_t c0, int64_t n, int64_t ci0, int64_t ci1, T* x, int64_t ld) {
  if constexpr (std::is_same_v<T, float>)
    if (g.sw == 2 && activeIsa() == Isa::avx512) return col2imStride2(g, col, c0, n, ci0, ci1, x, ld);
  const int64_t taps = g.kh * g.kw, HW = g.H * g.W;
  for (int64_t ci = ci0; ci < ci1; ci++) {
    T* plane = x + ci * HW;
    for (int64_t tap = 0; tap < taps; tap++) {
      const T* src = col + (ci * taps + tap) * ld;
      forTapSegments(
          g, tap / g.kw, tap % g.kw, c0, n,
          [&](int64_t off, int64_t dst, int64_t cnt) {
            for (int64_t t = 0; t < cnt; t++) plane[dst + t * g.sw] += src[off + t];
          },
          [](int64_t, int64_t) {});
    }
  }
}

// ---- 1x1 kernels over 1x1 planes ------------------------------------------------------
// Squeeze-excitation's convolutions and a classifier on pooled features are linear layers:
// x, y and their gradients are [N, C] and [N, K] matrices as they lie, so each pass is one
// GEMM per group with nothing copied (the image-batched lowering moved one float at a time).
bool isOnePixel(const ConvGeom& g) {
  return g.kh == 1 && g.kw == 1 && g.H == 1 && g.W == 1 && g.Ho == 1 && g.Wo == 1 && g.pt == 0 && g.pl == 0;
}

template <class In, class Out>
void onePixelForward(const ConvGeom& g, const In* x, const In* w, const Out* bias, Out* y, Out* pre, Act act) {
  const int64_t G = g.groups, Cg = g.C / G, Kg = g.K / G;
  for (int64_t gi = 0; gi < G; gi++)
    gemm(false, true, g.N, Kg, Cg, x + gi * Cg, g.C, w + gi * Kg * Cg, Cg, Out(0), y + gi * Kg, g.K);
  if (!bias && !pre && act == Act::none) return;
  parallelFor(g.N, 16, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; n++) {
      Out* row = y + n * g.K;
      if (bias)
        for (int64_t k = 0; k < g.K; k++) row[k] += bias[k];
      epilogue(row, pre ? pre + n * g.K : nullptr, g.K, Out(0), act);
    }
  });
}

template <class In, class Out>
void onePixelBackwardInput(const ConvGeom& g, const In* gy, const In* w, Out* gx) {
  const int64_t G = g.groups, Cg = g.C / G, Kg = g.K / G;
  for (int64_t gi = 0; gi < G; gi++)
    gemm(false, false, g.N, Cg, Kg, gy + gi * Kg, g.K, w + gi * Kg * Cg, Cg, Out(0), gx + gi * Cg, g.C);
}

template <class In, class Out>
void onePixelBackwardWeight(const ConvGeom& g, const In* gy, const In* x, Out* gw) {
  const int64_t G = g.groups, Cg = g.C / G, Kg = g.K / G;
  for (int64_t gi = 0; gi < G; gi++)
    gemm(true, false, Kg, Cg, g.N, gy + gi * Kg, g.K, x + gi * Cg, g.C, Out(0), gw + gi * Kg * Cg, Cg);
}

// Work split: independent items go one per thread when there are enough of them to balance,
// else items run in turn with the threads inside each GEMM.
bool spreadItems(int64_t items) { return items >= 2 * numThreads(); }

// ---- image-batched lowering ---------------------------------------------------------
// At small spatial sizes one image's column matrix is only P = Ho * Wo columns wide, too
// narrow for the GEMM's micro-tiles (and every per-image GEMM re-packs the whole weight).
// These paths im2col a block of images side by side into one [R, images * P] matrix, so one
// GEMM (threaded inside) covers them all; the per-image layout of y / gy is then gathered or
// scattered, which costs little next to the R multiply-adds behind each element.
thread_local Scratch tlsTmp;

// Images per block, or 0 for the per-image path (which measures as well or better once a
// single image gives the GEMM a few hundred columns). A block's column matrix stays within
// about 4 MB; blocks are evened out so the last is not a thin remainder.
constexpr int64_t kImageBlockMaxPositions = 64;
constexpr int64_t kImageBlockBytes = int64_t(4) << 20;

int64_t imageBlock(const ConvGeom& g, int64_t R, int64_t P, size_t elem) {
  if (g.N < 1 || P > kImageBlockMaxPositions) return 0;
  const int64_t budget = kImageBlockBytes;
  const int64_t per = R * P * static_cast<int64_t>(elem);
  int64_t nb = std::max<int64_t>(1, std::min<int64_t>(g.N, budget / std::max<int64_t>(per, 1)));
  // Blocks of whole 32-column GEMM panels where the budget allows.
  int64_t q = 1;
  while (q < 32 && (P * q) % 32) q *= 2;
  if (nb > q) nb = nb / q * q;
  const int64_t blocks = ceilDiv(g.N, nb);
  return std::min(nb, (ceilDiv(g.N, blocks) + q - 1) / q * q);
}

// dst[q] = src[ix[q]], 0 where ix[q] < 0: the tap index's gather (AVX-512's masked gathers
// for float32 where active).
template <class T>
void gatherOrZero(const T* src, const int32_t* ix, int64_t n, T* dst) {
  if constexpr (std::is_same_v<T, float>)
    if (activeIsa() == Isa::avx512) return avx512::gatherOrZero(src, ix, n, dst);
  for (int64_t q = 0; q < n; q++) dst[q] = ix[q] >= 0 ? src[ix[q]] : T(0);
}

// For small planes: per kernel tap, the input offset each output position reads (-1: padding),
// so im2col and col2im become plain gathers and scatters instead of per-row segment walks.
std::vector<int32_t> tapIndex(const ConvGeom& g) {
  const int64_t taps = g.kh * g.kw, P = g.Ho * g.Wo;
  std::vector<int32_t> idx(static_cast<size_t>(taps * P), -1);
  for (int64_t t = 0; t < taps; t++)
    forTapSegments(
        g, t / g.kw, t % g.kw, 0, P,
        [&](int64_t off, int64_t src, int64_t cnt) {
          for (int64_t q = 0; q < cnt; q++) idx[t * P + off + q] = static_cast<int32_t>(src + q * g.sw);
        },
        [](int64_t, int64_t) {});
  return idx;
}
bool smallPlanes(const ConvGeom& g) { return g.Ho * g.Wo <= 256 && g.H * g.W < (int64_t(1) << 30); }

// im2col of images [n0, n0 + nb), group gi, into col [R, nb * P].
template <class T>
void im2colImages(const ConvGeom& g, const T* x, int64_t n0, int64_t nb, int64_t gi, int64_t R, T* col,
                  const int32_t* idx) {
  const int64_t Cg = g.C / g.groups, P = g.Ho * g.Wo, ld = nb * P, taps = g.kh * g.kw, HW = g.H * g.W;
  parallelFor(nb * R, 32, [&](int64_t a, int64_t b) {
    while (a < b) {
      const int64_t i = a / R, r0 = a % R, r1 = std::min(R, r0 + (b - a));
      const T* xn = x + ((n0 + i) * g.C + gi * Cg) * HW;
      if (isPointwise(g)) {  // row r is plane r
        for (int64_t r = r0; r < r1; r++) std::memcpy(col + r * ld + i * P, xn + r * HW, P * sizeof(T));
      } else if (idx) {
        for (int64_t r = r0; r < r1; r++) {
          const T* plane = xn + (r / taps) * HW;
          const int32_t* ix = idx + (r % taps) * P;
          gatherOrZero(plane, ix, P, col + r * ld + i * P);
        }
      } else {
        im2col(g, xn, 0, P, r0, r1, col + i * P, ld);
      }
      a += r1 - r0;
    }
  });
}

// Rows [gi * Kg, gi * Kg + Kg) of images [n0, n0 + nb) of an output-shaped tensor as
// [Kg, nb * P] (gather) or back (scatter, with the epilogue).
template <class T>
void gatherImages(const ConvGeom& g, const T* y, int64_t n0, int64_t nb, int64_t gi, T* dst) {
  const int64_t Kg = g.K / g.groups, P = g.Ho * g.Wo, ld = nb * P;
  parallelFor(nb * Kg, 16, [&](int64_t a, int64_t b) {
    for (int64_t it = a; it < b; it++) {
      const int64_t i = it / Kg, k = it % Kg;
      std::memcpy(dst + k * ld + i * P, y + ((n0 + i) * g.K + gi * Kg + k) * P, P * sizeof(T));
    }
  });
}

thread_local Scratch tlsPadded;

template <class In, class Out>
void forwardImages(const ConvGeom& g, int64_t nbMax, const In* x, const In* w, const Out* bias, Out* y, Out* pre,
                   Act act) {
  const int64_t G = g.groups, Cg = g.C / G, Kg = g.K / G, P = g.Ho * g.Wo, R = Cg * g.kh * g.kw;
  // float32 fills the GEMM's panels from padded images; other types (and negative padding)
  // store the column matrix.
  const bool filled = std::is_same_v<In, float> && std::is_same_v<Out, float> && paddedLayoutFits(g);
  PaddedLayout l = paddedLayout(g);
  // Where padding would add nothing (stride 1, no padding, a kernel that stays inside the
  // plane), the panels read x itself.
  const bool asIs = filled && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0 && l.Hq == g.H && l.Wq == g.W;
  if (asIs) l.image = g.C * g.H * g.W;
  In* col = filled ? nullptr : tlsCol.get<In>(R * nbMax * P);
  In* padded = filled && !asIs ? tlsPadded.get<In>(nbMax * l.image) : nullptr;
  Out* out = tlsTmp.get<Out>(Kg * nbMax * P);
  const std::vector<int32_t> off = filled ? rowOffsets(g, l) : std::vector<int32_t>();
  const std::vector<int32_t> table = !filled && smallPlanes(g) ? tapIndex(g) : std::vector<int32_t>();
  const int32_t* idx = table.empty() ? nullptr : table.data();
  for (int64_t n0 = 0; n0 < g.N; n0 += nbMax) {
    const int64_t nb = std::min(nbMax, g.N - n0), ld = nb * P;
    if constexpr (std::is_same_v<In, float> && std::is_same_v<Out, float>)
      if (filled && !asIs) padImages(g, l, x, n0, nb, padded);
    const In* images = asIs ? x + n0 * l.image : padded;
    for (int64_t gi = 0; gi < G; gi++) {
      if constexpr (std::is_same_v<In, float> && std::is_same_v<Out, float>) {
        if (filled)
          sgemmFilledB(
              false, Kg, ld, R, w + gi * Kg * R, R,
              [&](int64_t k0, int64_t kc, int64_t j0, int64_t nr, int64_t NR, float* dst) {
                fillColumnPanel(g, l, images, off.data(), gi, k0, kc, j0, nr, NR, dst);
              },
              0.0f, out, ld);
      }
      if (!filled) {
        im2colImages(g, x, n0, nb, gi, R, col, idx);
        gemm(false, false, Kg, ld, R, w + gi * Kg * R, R, col, ld, Out(0), out, ld);
      }
      parallelFor(nb * Kg, 16, [&](int64_t a, int64_t b) {
        for (int64_t it = a; it < b; it++) {
          const int64_t i = it / Kg, k = it % Kg, o = ((n0 + i) * g.K + gi * Kg + k) * P;
          std::memcpy(y + o, out + k * ld + i * P, P * sizeof(Out));
          if (bias || pre || act != Act::none)
            epilogue(y + o, pre ? pre + o : nullptr, P, bias ? bias[gi * Kg + k] : Out(0), act);
        }
      });
    }
  }
}

template <class In, class Out>
void backwardInputImages(const ConvGeom& g, int64_t nbMax, const In* gy, const In* w, Out* gx) {
  const int64_t G = g.groups, Cg = g.C / G, Kg = g.K / G, P = g.Ho * g.Wo, R = Cg * g.kh * g.kw, HW = g.H * g.W;
  Out* col = tlsCol.get<Out>(R * nbMax * P);
  In* gyb = tlsTmp.get<In>(Kg * nbMax * P);
  // A pointwise convolution's column rows are the input planes: copied back, not scattered.
  const bool pointwise = isPointwise(g);
  const std::vector<int32_t> table = !pointwise && smallPlanes(g) ? tapIndex(g) : std::vector<int32_t>();
  const int32_t* idx = table.empty() ? nullptr : table.data();
  const GroupWeights<In, Out> wt(g, w, true);
  for (int64_t n0 = 0; n0 < g.N; n0 += nbMax) {
    const int64_t nb = std::min(nbMax, g.N - n0), ld = nb * P;
    for (int64_t gi = 0; gi < G; gi++) {
      gatherImages(g, gy, n0, nb, gi, gyb);
      wt.multiply(gi, ld, gyb, ld, col, ld);
      parallelFor(nb * Cg, 4, [&](int64_t a, int64_t b) {
        while (a < b) {
          const int64_t i = a / Cg, c0 = a % Cg, c1 = std::min(Cg, c0 + (b - a));
          Out* gxg = gx + ((n0 + i) * g.C + gi * Cg) * HW;
          if (pointwise) {
            for (int64_t c = c0; c < c1; c++) std::memcpy(gxg + c * HW, col + c * ld + i * P, P * sizeof(Out));
            a += c1 - c0;
            continue;
          }
          std::memset(gxg + c0 * HW, 0, (c1 - c0) * HW * sizeof(Out));
          if (idx) {
            const int64_t taps = g.kh * g.kw;
            for (int64_t c = c0; c < c1; c++) {
              Out* plane = gxg + c * HW;
              for (int64_t t = 0; t < taps; t++) {
                const Out* src = col + (c * taps + t) * ld + i * P;
                const int32_t* ix = idx + t * P;
                if constexpr (std::is_same_v<Out, float>)
                  if (activeIsa() == Isa::avx512) {
                    avx512::scatterAdd(src, ix, P, plane);
                    continue;
                  }
                for (int64_t p = 0; p < P; p++)
                  if (ix[p] >= 0) plane[ix[p]] += src[p];
              }
            }
          } else {
            col2im(g, col + i * P, 0, P, c0, c1, gxg, ld);
          }
          a += c1 - c0;
        }
      });
    }
  }
}

template <class In, class Out>
void backwardWeightImages(const ConvGeom& g, int64_t nbMax, const In* gy, const In* x, Out* gw) {
  const int64_t G = g.groups, Cg = g.C / G, Kg = g.K / G, P = g.Ho * g.Wo, R = Cg * g.kh * g.kw;
  In* col = tlsCol.get<In>(R * nbMax * P);
  In* gyb = tlsTmp.get<In>(Kg * nbMax * P);
  const std::vector<int32_t> table = smallPlanes(g) ? tapIndex(g) : std::vector<int32_t>();
  const int32_t* idx = table.empty() ? nullptr : table.data();
  for (int64_t n0 = 0; n0 < g.N; n0 += nbMax) {
    const int64_t nb = std::min(nbMax, g.N - n0), ld = nb * P;
    for (int64_t gi = 0; gi < G; gi++) {
      gatherImages(g, gy, n0, nb, gi, gyb);
      im2colImages(g, x, n0, nb, gi, R, col, idx);
      gemm(false, true, Kg, R, ld, gyb, ld, col, ld, n0 == 0 ? Out(0) : Out(1), gw + gi * Kg * R, R);
    }
  }
}

// The depthwise kernels widen bfloat16 activations plane by plane; their weights widen here.
void depthwiseForward(const ConvGeom& g, const bfloat16* x, const bfloat16* w, const float* bias, float* y, float* pre,
                      Act act) {
  depthwiseForward(g, x, widen(w, g.K * g.kh * g.kw).get(), bias, y, pre, act);
}
void depthwiseBackwardInput(const ConvGeom& g, const bfloat16* gy, const bfloat16* w, float* gx) {
  depthwiseBackwardInput(g, gy, widen(w, g.K * g.kh * g.kw).get(), gx);
}

// With `flipped` (float32, not depthwise): w is the kernel of the stride-1 convolution whose
// input gradient this forward is (backwardInputAsForward), and each route takes its flip
// (flipKernel's copy, or the channels-last reorder's own).
template <class In, class Out>
void forward(const ConvGeom& g, const In* x, const In* w, const Out* bias, Out* y, Out* pre, Act act,
             bool flipped = false) {
  if (g.C == g.groups) return depthwiseForward(g, x, w, bias, y, pre, act);
  const int64_t G = g.groups, Cg = g.C / G, Kg = g.K / G, P = g.Ho * g.Wo, R = Cg * g.kh * g.kw;
  constexpr bool isFloat = std::is_same_v<In, float> && std::is_same_v<Out, float>;
  const bool direct = isPointwise(g);
  if constexpr (isFloat)
    if (dotConvApplies(g)) return dotConvForward(g, x, flipped ? flipKernel(g, w) : w, bias, y, pre, act);
  if (isOnePixel(g)) return onePixelForward(g, x, w, bias, y, pre, act);
  if constexpr (isFloat) {
    if (implicitConvForward(g, x, w, flipped, bias, y, pre, act)) return;
    if (flipped) w = flipKernel(g, w);
  }
  // The float image-batched path fills its panels from padded images and stores no column
  // matrix: its block is bounded by the output block (Kg rows) instead.
  if (const int64_t nb = imageBlock(g, isFloat && paddedLayoutFits(g) ? Kg : R, P, sizeof(In)))
    return forwardImages(g, nb, x, w, bias, y, pre, act);
  const int64_t tile = direct ? P : tileColumns(R, P, sizeof(In)), tiles = ceilDiv(P, tile);
  const int64_t items = g.N * G * tiles;
  const bool spread = spreadItems(items);
  const GroupWeights<In, Out> wg(g, w, false);
  auto item = [&](int64_t it) {
    const int64_t n = it / (G * tiles), gi = it / tiles % G, c0 = it % tiles * tile, nc = std::min(tile, P - c0);
    const In* xg = x + (n * g.C + gi * Cg) * g.H * g.W;
    const In* B = xg + c0;
    int64_t ldb = P;
    if (!direct) {
      In* col = tlsCol.get<In>(R * nc);
      maybeParallel(!spread, R, 16, [&](int64_t r0, int64_t r1) { im2col(g, xg, c0, nc, r0, r1, col, nc); });
      B = col;
      ldb = nc;
    }
    const int64_t o = (n * g.K + gi * Kg) * P + c0;
    wg.multiply(gi, nc, B, ldb, y + o, P);
    if (bias || pre || act != Act::none)
      maybeParallel(!spread, Kg, 8, [&](int64_t k0, int64_t k1) {
        for (int64_t k = k0; k < k1; k++)
          epilogue(y + o + k * P, pre ? pre + o + k * P : nullptr, nc, bias ? bias[gi * Kg + k] : Out(0), act);
      });
  };
  if (spread) parallelFor(items, 1, [&](int64_t a, int64_t b) { for (int64_t it = a; it < b; it++) item(it); });
  else for (int64_t it = 0; it < items; it++) item(it);
}

// Fewer input channels per group than the AVX-512 GEMM's row tile: the forward GEMM would
// be mostly padding rows, where col2im's GEMM has kh * kw * Kg rows.
constexpr int64_t kMinChannelsAsForward = 14;

// The input gradient of a stride-1 convolution as a forward one, where that is the faster
// lowering (float32; a 1x1 kernel only where the forward reads gy in place, else its input
// gradient is one GEMM; at least a row tile of input channels per group): gx[c, h, w] sums
// gy[k, h + pt - i dh, w + pl - j dw] w[k, c, i, j], the convolution of gy, padded by the
// kernel's reach less the forward padding, with the flipped kernel (flipKernel).
bool backwardInputAsForward(const ConvGeom& g, const float* gy, const float* w, float* gx) {
  const int64_t Cg = g.C / g.groups, taps = g.kh * g.kw;
  const ConvGeom t{g.N,  g.K,  g.Ho, g.Wo, g.C,  g.H,  g.W, g.kh, g.kw, 1, 1, (g.kh - 1) * g.dh - g.pt,
                   (g.kw - 1) * g.dw - g.pl, g.dh, g.dw, g.groups};
  if (g.sh != 1 || g.sw != 1 || Cg < kMinChannelsAsForward || t.pt < 0 || t.pl < 0) return false;
  // A pointwise convolution's flipped kernel is its transpose, worth it where the forward
  // reads gy in place.
  if (taps == 1 && !pointwiseInPlace(t)) return false;
  forward<float, float>(t, gy, w, nullptr, gx, nullptr, Act::none, true);
  return true;
}

template <class In, class Out>
void backwardInput(const ConvGeom& g, const In* gy, const In* w, Out* gx) {
  if (g.C == g.groups) return depthwiseBackwardInput(g, gy, w, gx);
  if constexpr (std::is_same_v<In, float> && std::is_same_v<Out, float>)
    if (backwardInputAsForward(g, gy, w, gx)) return;
  if (isOnePixel(g)) return onePixelBackwardInput(g, gy, w, gx);
  const int64_t G = g.groups, Cg = g.C / G, Kg = g.K / G, P = g.Ho * g.Wo, R = Cg * g.kh * g.kw, HW = g.H * g.W;
  if (const int64_t nb = imageBlock(g, R, P, sizeof(Out))) return backwardInputImages(g, nb, gy, w, gx);
  const bool direct = isPointwise(g);
  const int64_t tile = direct ? P : tileColumns(R, P, sizeof(Out));
  // Tiles of one image add into the same planes, so images are the unit of parallel work.
  const bool spread = spreadItems(g.N);
  const GroupWeights<In, Out> wt(g, w, true);
  auto image = [&](int64_t n) {
    Out* gxn = gx + n * g.C * HW;
    if (!direct) std::memset(gxn, 0, g.C * HW * sizeof(Out));
    for (int64_t gi = 0; gi < G; gi++) {
      const In* gyg = gy + (n * g.K + gi * Kg) * P;
      if (direct) {  // R = Cg
        wt.multiply(gi, P, gyg, P, gxn + gi * Cg * HW, HW);
        continue;
      }
      for (int64_t c0 = 0; c0 < P; c0 += tile) {
        const int64_t nc = std::min(tile, P - c0);
        Out* col = tlsCol.get<Out>(R * nc);
        wt.multiply(gi, nc, gyg + c0, P, col, nc);
        maybeParallel(!spread, Cg, 1, [&](int64_t a, int64_t b) { col2im(g, col, c0, nc, a, b, gxn + gi * Cg * HW, nc); });
      }
    }
  };
  if (spread) parallelFor(g.N, 1, [&](int64_t a, int64_t b) { for (int64_t n = a; n < b; n++) image(n); });
  else for (int64_t n = 0; n < g.N; n++) image(n);
}

template <class In, class Out>
void biasGrad(const ConvGeom& g, const In* gy, Out* gb) {
  const int64_t P = g.Ho * g.Wo;
  parallelFor(g.K, 8, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; k++) {
      double s = 0;
      for (int64_t n = 0; n < g.N; n++) {
        const In* p = gy + (n * g.K + k) * P;
        s += sumRow(p, P);
      }
      gb[k] = Out(s);
    }
  });
}

// Sums a weight gradient over `items` work items: with `spread`, thread t runs its share of
// them into its own zeroed copy of gw (copy 0 is gw itself) and the copies are added at the
// end; else one share runs them all into gw, with the threads inside each item.
// body(begin, end, acc) runs items [begin, end) into acc.
template <class Out, class Body>
void sumOverShares(bool spread, int64_t items, int64_t wsize, Out* gw, Body&& body) {
  const int64_t copies = spread ? numThreads() : 1;
  std::vector<Out> extra(static_cast<size_t>((copies - 1) * wsize));
  auto share = [&](int64_t t) {
    Out* acc = t == 0 ? gw : extra.data() + (t - 1) * wsize;
    std::memset(acc, 0, wsize * sizeof(Out));
    body(items * t / copies, items * (t + 1) / copies, acc);
  };
  if (spread) parallelFor(copies, 1, [&](int64_t a, int64_t b) { for (int64_t t = a; t < b; t++) share(t); });
  else share(0);
  for (int64_t t = 1; t < copies; t++) {
    const Out* src = extra.data() + (t - 1) * wsize;
    for (int64_t i = 0; i < wsize; i++) gw[i] += src[i];
  }
}

// One share's weight-gradient sum: group gi's Kg x R block += gyRows colRows^T, a reduction
// over output positions. Where the transposed product (col gy^T, R x Kg) fills the GEMM
// kernel's tiles better (a stem's 27 or 147 column-matrix rows against 64 output channels,
// gemmFillsBetterTransposed), it runs that way into a copy that finish() adds in.
template <class In, class Out>
class ProductSum {
 public:
  ProductSum(const ConvGeom& g, Out* acc)
      : Kg_(g.K / g.groups), R_(g.C / g.groups * g.kh * g.kw), acc_(acc),
        accT_(gemmFillsBetterTransposed(Kg_, R_) ? g.K * R_ : 0) {}
  // Over n positions: gyRows (Kg rows, ldg apart), colRows (R rows, ldc apart).
  void add(int64_t gi, int64_t n, const In* gyRows, int64_t ldg, const In* colRows, int64_t ldc) {
    if (accT_.empty()) gemm(false, true, Kg_, R_, n, gyRows, ldg, colRows, ldc, Out(1), acc_ + gi * Kg_ * R_, R_);
    else gemm(false, true, R_, Kg_, n, colRows, ldc, gyRows, ldg, Out(1), accT_.data() + gi * Kg_ * R_, Kg_);
  }
  void finish() {
    const int64_t blocks = static_cast<int64_t>(accT_.size()) / (Kg_ * R_);
    for (int64_t gi = 0; gi < blocks; gi++)
      for (int64_t k = 0; k < Kg_; k++)
        for (int64_t r = 0; r < R_; r++) acc_[(gi * Kg_ + k) * R_ + r] += accT_[(gi * R_ + r) * Kg_ + k];
  }

 private:
  int64_t Kg_, R_;
  Out* acc_;
  std::vector<Out> accT_;  // group gi's R x Kg at gi * Kg * R
};

thread_local Scratch tlsGradGrid;
// Below this many column-matrix rows (a stem's 3 x 3 x 3) the junk columns cost more than
// im2col's walk saves (measured on ResNet-18's stem).
constexpr int64_t kMinRowsPadded = 64;

// The float32 weight gradient of a kernel larger than 1x1 over planes too large for the
// image-batched lowering, with the column matrix read from padded images (conv_implicit.h):
// each of its rows is then one copy of consecutive floats instead of im2col's walk over
// output rows, at the price of the grid's junk
// columns, which meet zeros in a gy laid out on the same grid. Per image: gw += gyGrid
// colTile^T over column tiles that stay in L2, images spread over threads each with its own
// partial sum where there are enough of them. Float32 on every instruction set (only the GEMM
// kernels differ).
bool backwardWeightPadded(const ConvGeom& g, const float* gy, const float* x, float* gw) {
  const int64_t G = g.groups, Cg = g.C / G, Kg = g.K / G, P = g.Ho * g.Wo, R = Cg * g.kh * g.kw, HW = g.H * g.W;
  if (g.kh * g.kw == 1 || R < kMinRowsPadded || !paddedLayoutFits(g)) return false;
  const PaddedLayout l = paddedLayout(g);
  const std::vector<int32_t> off = rowOffsets(g, l);
  const int64_t tile = tileColumns(R, l.Po, sizeof(float)), wsize = g.K * R;
  const bool spread = spreadItems(g.N);
  sumOverShares(spread, g.N, wsize, gw, [&](int64_t n0, int64_t n1, float* acc) {
    ProductSum<float, float> sum(g, acc);
    float* padded = tlsPadded.get<float>(l.image);
    float* grid = tlsGradGrid.get<float>(g.K * l.Po);
    for (int64_t n = n0; n < n1; n++) {
      maybeParallel(!spread, g.C, 8, [&](int64_t c0, int64_t c1) { padImage(g, l, x + n * g.C * HW, c0, c1, padded); });
      maybeParallel(!spread, g.K, 8, [&](int64_t k0, int64_t k1) {
        for (int64_t k = k0; k < k1; k++)
          for (int64_t ho = 0; ho < g.Ho; ho++) {
            float* row = grid + k * l.Po + ho * l.Wq;
            std::memcpy(row, gy + (n * g.K + k) * P + ho * g.Wo, g.Wo * sizeof(float));
            std::fill(row + g.Wo, row + l.Wq, 0.0f);
          }
      });
      for (int64_t gi = 0; gi < G; gi++)
        for (int64_t c0 = 0; c0 < l.Po; c0 += tile) {
          const int64_t nc = std::min(tile, l.Po - c0);
          float* col = tlsCol.get<float>(R * nc);
          const float* xg = padded + gi * Cg * l.plane + c0;
          maybeParallel(!spread, R, 16, [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; r++) std::memcpy(col + r * nc, xg + off[r], nc * sizeof(float));
          });
          sum.add(gi, nc, grid + gi * Kg * l.Po + c0, l.Po, col, nc);
        }
    }
    sum.finish();
  });
  return true;
}

template <class In, class Out>
void backwardWeight(const ConvGeom& g, const In* gy, const In* x, Out* gw, Out* gb) {
  if (g.C == g.groups) return depthwiseBackwardWeight(g, gy, x, gw, gb);
  const int64_t G = g.groups, Cg = g.C / G, Kg = g.K / G, P = g.Ho * g.Wo, R = Cg * g.kh * g.kw;
  if (isOnePixel(g)) {
    onePixelBackwardWeight(g, gy, x, gw);
    if (gb) biasGrad(g, gy, gb);
    return;
  }
  if constexpr (std::is_same_v<In, float> && std::is_same_v<Out, float>)
    if (implicitConvBackwardWeight(g, gy, x, gw)) {
      if (gb) biasGrad(g, gy, gb);
      return;
    }
  if (const int64_t nb = imageBlock(g, R, P, sizeof(In))) {
    backwardWeightImages(g, nb, gy, x, gw);
    if (gb) biasGrad(g, gy, gb);
    return;
  }
  if constexpr (std::is_same_v<In, float> && std::is_same_v<Out, float>)
    if (backwardWeightPadded(g, gy, x, gw)) {
      if (gb) biasGrad(g, gy, gb);
      return;
    }
  const bool direct = isPointwise(g);
  const int64_t tile = direct ? P : tileColumns(R, P, sizeof(In)), tiles = ceilDiv(P, tile);
  const int64_t items = g.N * G * tiles, wsize = g.K * R;
  const bool spread = spreadItems(items);
  sumOverShares(spread, items, wsize, gw, [&](int64_t i0, int64_t i1, Out* acc) {
    ProductSum<In, Out> sum(g, acc);
    for (int64_t it = i0; it < i1; it++) {
      const int64_t n = it / (G * tiles), gi = it / tiles % G, c0 = it % tiles * tile, nc = std::min(tile, P - c0);
      const In* xg = x + (n * g.C + gi * Cg) * g.H * g.W;
      const In* B = xg + c0;
      int64_t ldb = P;
      if (!direct) {
        In* col = tlsCol.get<In>(R * nc);
        maybeParallel(!spread, R, 16, [&](int64_t r0, int64_t r1) { im2col(g, xg, c0, nc, r0, r1, col, nc); });
        B = col;
        ldb = nc;
      }
      sum.add(gi, nc, gy + (n * g.K + gi * Kg) * P + c0, P, B, ldb);
    }
    sum.finish();
  });
  if (gb) biasGrad(g, gy, gb);
}

// ---- entry points (arguments parsed by native/binding/conv_args.cc) -------------------

// A float32 stand-in for a bfloat16 output tensor (or none for an absent one), rounded into
// it once the kernel is done. Uninitialised: the kernels write every element, as they do
// their float tensors.
struct Float32Scratch {
  std::unique_ptr<float[]> v;
  explicit Float32Scratch(const TensorArg& t) : v(t.data ? new float[t.numel()] : nullptr) {}
  float* get() { return v.get(); }
  void roundInto(const TensorArg& t) const {
    if (t.data) narrowToBfloat16(v.get(), t.ptr<bfloat16>(), t.numel());
  }
};

Napi::Value conv2d(const Napi::CallbackInfo& info) {
  Args args(info, "conv2d", 7);
  const Conv2dArgs a = parseConv2dArgs(args);
  if (a.geom.N == 0) return info.Env().Undefined();
  if (a.x.dtype == DType::float32) {
    forward(a.geom, a.x.ptr<float>(), a.weight.ptr<float>(), a.bias.ptr<float>(), a.out.ptr<float>(),
            a.pre.ptr<float>(), a.act);
  } else if (a.x.dtype == DType::float64) {
    forward(a.geom, a.x.ptr<double>(), a.weight.ptr<double>(), a.bias.ptr<double>(), a.out.ptr<double>(),
            a.pre.ptr<double>(), a.act);
  } else {
    Float32Scratch y(a.out), pre(a.pre);
    const std::unique_ptr<float[]> bias = widen(a.bias.ptr<bfloat16>(), a.geom.K);
    forward(a.geom, a.x.ptr<bfloat16>(), a.weight.ptr<bfloat16>(), bias.get(), y.get(), pre.get(), a.act);
    y.roundInto(a.out);
    pre.roundInto(a.pre);
  }
  return info.Env().Undefined();
}

Napi::Value conv2dBackwardInput(const Napi::CallbackInfo& info) {
  Args args(info, "conv2dBackwardInput", 4);
  const Conv2dBackwardInputArgs a = parseConv2dBackwardInputArgs(args);
  if (a.geom.N == 0) return info.Env().Undefined();
  if (a.gradInput.dtype == DType::float32) {
    backwardInput(a.geom, a.gradOutput.ptr<float>(), a.weight.ptr<float>(), a.gradInput.ptr<float>());
  } else if (a.gradInput.dtype == DType::float64) {
    backwardInput(a.geom, a.gradOutput.ptr<double>(), a.weight.ptr<double>(), a.gradInput.ptr<double>());
  } else {
    Float32Scratch gx(a.gradInput);
    backwardInput(a.geom, a.gradOutput.ptr<bfloat16>(), a.weight.ptr<bfloat16>(), gx.get());
    gx.roundInto(a.gradInput);
  }
  return info.Env().Undefined();
}

Napi::Value conv2dBackwardWeight(const Napi::CallbackInfo& info) {
  Args args(info, "conv2dBackwardWeight", 5);
  const Conv2dBackwardWeightArgs a = parseConv2dBackwardWeightArgs(args);
  if (a.x.dtype == DType::float32) {
    backwardWeight(a.geom, a.gradOutput.ptr<float>(), a.x.ptr<float>(), a.gradWeight.ptr<float>(),
                   a.gradBias.ptr<float>());
  } else if (a.x.dtype == DType::float64) {
    backwardWeight(a.geom, a.gradOutput.ptr<double>(), a.x.ptr<double>(), a.gradWeight.ptr<double>(),
                   a.gradBias.ptr<double>());
  } else {
    Float32Scratch gw(a.gradWeight), gb(a.gradBias);
    backwardWeight(a.geom, a.gradOutput.ptr<bfloat16>(), a.x.ptr<bfloat16>(), gw.get(), gb.get());
    gw.roundInto(a.gradWeight);
    gb.roundInto(a.gradBias);
  }
  return info.Env().Undefined();
}

}  // namespace

IV_EXPORT("conv2d", conv2d);
IV_EXPORT("conv2dBackwardInput", conv2dBackwardInput);
IV_EXPORT("conv2dBackwardWeight", conv2dBackwardWeight);
IV_BFLOAT16("conv2d");
IV_BFLOAT16("conv2dBackwardInput");
IV_BFLOAT16("conv2dBackwardWeight");

}  // namespace iv
