// AVX512-BF16 GEMM micro-kernel (layouts in gemm_kernels.h): the 14 x 32 tile of the float
// AVX-512 kernel, 28 zmm accumulators, but each vdpbf16ps adds a K pair, so one broadcast of
// an A pair feeds two instructions worth four float FMAs each. Operands are read as raw
// 16-bit words: this file must not instantiate bfloat16's inline conversions (a baseline
// caller could be linked against this file's AVX-512 copy of them).
#include <immintrin.h>
#include <cstring>
#include "gemm_kernels.h"

namespace iv {
namespace avx512bf16 {

namespace {

constexpr int64_t kKb = kGemmKBlock;
constexpr int64_t kPairBytes = 4, kBPairBytes = 2 * kNr * 2;

inline __mmask16 mask16(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

inline void prefetchRow(const void* p, int bytes) {
  const char* q = static_cast<const char*>(p);
  for (int off = 0; off < bytes; off += 64) _mm_prefetch(q + off, _MM_HINT_T0);
  _mm_prefetch(q + bytes - 1, _MM_HINT_T0);
}

// One K pair: row i's pair at a + i * 8 words, the B pair row at b.
inline void pairStep(__m512 (&acc)[kMr][2], const char* a, const char* b) {
  const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b), b1 = (__m512bh)_mm512_loadu_si512(b + 64);
#pragma GCC unroll 14
  for (int i = 0; i < kMr; i++) {
    int32_t pair;
    std::memcpy(&pair, a + i * kKb * 2, kPairBytes);
    const __m512bh av = (__m512bh)_mm512_set1_epi32(pair);
    acc[i][0] = _mm512_dpbf16_ps(acc[i][0], av, b0);
    acc[i][1] = _mm512_dpbf16_ps(acc[i][1], av, b1);
  }
}

}  // namespace

void gemmKernel(int64_t kc, const bfloat16* ap, const bfloat16* bp, float* c, int64_t ldc, float alpha, float beta,
                int64_t mr, int64_t nr, const bfloat16* next) {
  const char* a = reinterpret_cast<const char*>(ap);
  const char* b = reinterpret_cast<const char*>(bp);
  const char* nx = reinterpret_cast<const char*>(next);
  __m512 acc[kMr][2];
#pragma GCC unroll 14
  for (int i = 0; i < kMr; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  constexpr int64_t kBlockPairs = kKb / 2;
  const int64_t pairs = (kc + 1) / 2;
  int64_t pr = 0, p = 0;
  for (; p + kBlockPairs <= pairs; p += kBlockPairs, a += kMr * kKb * 2, b += kBlockPairs * kBPairBytes) {
    if (pr < mr) {
      prefetchRow(c + pr * ldc, 128);
      pr++;
    }
    if (nx) {
      _mm_prefetch(nx, _MM_HINT_T1);
      nx += 64;
    }
#pragma GCC unroll 2
    for (int q = 0; q < kBlockPairs; q++) pairStep(acc, a + q * kPairBytes, b + q * kBPairBytes);
  }
  for (int64_t q = 0; p < pairs; p++, q++) pairStep(acc, a + q * kPairBytes, b + q * kBPairBytes);
  for (; pr < mr; pr++) prefetchRow(c + pr * ldc, 128);
  const __mmask16 m0 = mask16(nr), m1 = mask16(nr - 16);
  const __m512 valpha = _mm512_set1_ps(alpha), vbeta = _mm512_set1_ps(beta);
#pragma GCC unroll 14
  for (int i = 0; i < kMr; i++) {
    if (i >= mr) break;
    float* row = c + i * ldc;
    __m512 r0 = acc[i][0], r1 = acc[i][1];
    if (alpha != 1.0f) {
      r0 = _mm512_mul_ps(r0, valpha);
      r1 = _mm512_mul_ps(r1, valpha);
    }
    if (beta == 1.0f) {
      r0 = _mm512_add_ps(r0, _mm512_maskz_loadu_ps(m0, row));
      r1 = _mm512_add_ps(r1, _mm512_maskz_loadu_ps(m1, row + 16));
    } else if (beta != 0.0f) {
      r0 = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(m0, row), r0);
      r1 = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(m1, row + 16), r1);
    }
    _mm512_mask_storeu_ps(row, m0, r0);
    _mm512_mask_storeu_ps(row + 16, m1, r1);
  }
}

}  // namespace avx512bf16
}  // namespace iv
