// AVX-512 GEMM micro-kernels (layouts in gemm_kernels.h). Float: 14 x 32 tile, 28 zmm
// accumulators + 2 for the B row; every A element is one broadcast load feeding two FMAs,
// so the loop is FMA-bound (16 loads per 28 FMAs). Double: the same shape at 14 x 16.
// The k loop is unrolled by 2 only: at 8, GCC runs out of registers and spills accumulators
// (about 10% slower).
#include <immintrin.h>
#include "gemm_kernels.h"

namespace iv {
namespace avx512 {

static_assert(kSgemmNr == 32 && kDgemmNr == 16, "kernels hold two vectors per row");

namespace {

constexpr int64_t kMr = kSgemmMr;
constexpr int64_t kKb = kGemmKBlock;

#include "gemm_tile_avx512.h"

inline __mmask8 mask8(int64_t n) { return n >= 8 ? __mmask8(0xFF) : n <= 0 ? __mmask8(0) : __mmask8((1u << n) - 1); }

// The float Mr x 32 tile over kc, B row k's columns 0..15 at brow(k) and 16..31 at brow(k) +
// half (16: 32 consecutive floats): a packed micro-panel, or rows read in place by the
// implicit-GEMM convolution. A's micro-panel is Mr rows wide.
template <int Mr, class BRow>
inline void sgemmTile(int64_t kc, const float* a, BRow brow, int64_t half, float* c, int64_t ldc, float beta,
                      int64_t mr, int64_t nr, const float* next) {
  __m512 acc[Mr][2];
#pragma GCC unroll 14
  for (int i = 0; i < Mr; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  // The C tile is read and written after the loop. Its rows are prefetched one per k block
  // (issuing all 42 lines at once stalls on the L1 miss buffers), and a stretch of the next
  // B micro-panel into L2.
  int64_t pr = 0;
  int64_t k = 0;
  for (; k + kKb <= kc; k += kKb, a += Mr * kKb) {
    if (pr < mr) {
      prefetchRow(c + pr * ldc, 128);
      pr++;
    }
    if (next) {
      _mm_prefetch(reinterpret_cast<const char*>(next), _MM_HINT_T1);
      next += 16;
    }
#pragma GCC unroll 2
    for (int kk = 0; kk < kKb; kk++) {
      const float* b = brow(k + kk);
      const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + half);
#pragma GCC unroll 14
      for (int i = 0; i < Mr; i++) {
        const __m512 av = _mm512_set1_ps(a[i * kKb + kk]);
        acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
        acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
      }
    }
  }
  for (int64_t kk = 0; k < kc; k++, kk++) {
    const float* b = brow(k);
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + half);
#pragma GCC unroll 14
    for (int i = 0; i < Mr; i++) {
      const __m512 av = _mm512_set1_ps(a[i * kKb + kk]);
      acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
    }
  }
  for (; pr < mr; pr++) prefetchRow(c + pr * ldc, 128);
  storeTile(acc, c, ldc, 1.0f, beta, mr, nr);
}

}  // namespace

void sgemmKernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float beta, int64_t mr, int64_t nr,
                 const float* next) {
  sgemmTile<kMr>(kc, a, [b](int64_t k) { return b + k * 32; }, 16, c, ldc, beta, mr, nr, next);
}

void sgemmKernelOffsetB(int64_t kc, const float* a, const float* b, const int32_t* rowOffset, float* c, int64_t ldc,
                        float beta, int64_t mr, int64_t nr) {
  sgemmKernelSplitB(kc, a, b, rowOffset, 16, c, ldc, beta, mr, nr);
}

void sgemmKernelSplitB(int64_t kc, const float* a, const float* b, const int32_t* rowOffset, int64_t half, float* c,
                       int64_t ldc, float beta, int64_t mr, int64_t nr) {
  auto brow = [b, rowOffset](int64_t k) { return b + rowOffset[k]; };
  if (mr <= kSgemmShortMr) sgemmTile<kSgemmShortMr>(kc, a, brow, half, c, ldc, beta, mr, nr, nullptr);
  else sgemmTile<kMr>(kc, a, brow, half, c, ldc, beta, mr, nr, nullptr);
}

void dgemmKernel(int64_t kc, const double* a, const double* b, double* c, int64_t ldc, double beta, int64_t mr,
                 int64_t nr, const double* next) {
  constexpr int64_t kM = kDgemmMr;
  __m512d acc[kM][2];
#pragma GCC unroll 14
  for (int i = 0; i < kM; i++) acc[i][0] = acc[i][1] = _mm512_setzero_pd();
  int64_t pr = 0;
  int64_t k = 0;
  for (; k + kKb <= kc; k += kKb, a += kM * kKb, b += kKb * 16) {
    if (pr < mr) {
      prefetchRow(c + pr * ldc, 128);
      pr++;
    }
    if (next) {
      _mm_prefetch(reinterpret_cast<const char*>(next), _MM_HINT_T1);
      next += 8;
    }
#pragma GCC unroll 2
    for (int kk = 0; kk < kKb; kk++) {
      const __m512d b0 = _mm512_loadu_pd(b + kk * 16), b1 = _mm512_loadu_pd(b + kk * 16 + 8);
#pragma GCC unroll 14
      for (int i = 0; i < kM; i++) {
        const __m512d av = _mm512_set1_pd(a[i * kKb + kk]);
        acc[i][0] = _mm512_fmadd_pd(av, b0, acc[i][0]);
        acc[i][1] = _mm512_fmadd_pd(av, b1, acc[i][1]);
      }
    }
  }
  for (int64_t kk = 0; k < kc; k++, kk++) {
    const __m512d b0 = _mm512_loadu_pd(b + kk * 16), b1 = _mm512_loadu_pd(b + kk * 16 + 8);
#pragma GCC unroll 14
    for (int i = 0; i < kM; i++) {
      const __m512d av = _mm512_set1_pd(a[i * kKb + kk]);
      acc[i][0] = _mm512_fmadd_pd(av, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_pd(av, b1, acc[i][1]);
    }
  }
  for (; pr < mr; pr++) prefetchRow(c + pr * ldc, 128);
  const __mmask8 m0 = mask8(nr), m1 = mask8(nr - 8);
  const __m512d vbeta = _mm512_set1_pd(beta);
#pragma GCC unroll 14
  for (int i = 0; i < kM; i++) {
    if (i >= mr) break;
    double* row = c + i * ldc;
    __m512d r0 = acc[i][0], r1 = acc[i][1];
    if (beta == 1.0) {
      r0 = _mm512_add_pd(r0, _mm512_maskz_loadu_pd(m0, row));
      r1 = _mm512_add_pd(r1, _mm512_maskz_loadu_pd(m1, row + 8));
    } else if (beta != 0.0) {
      r0 = _mm512_fmadd_pd(vbeta, _mm512_maskz_loadu_pd(m0, row), r0);
      r1 = _mm512_fmadd_pd(vbeta, _mm512_maskz_loadu_pd(m1, row + 8), r1);
    }
    _mm512_mask_storeu_pd(row, m0, r0);
    _mm512_mask_storeu_pd(row + 8, m1, r1);
  }
}

}  // namespace avx512
}  // namespace iv
