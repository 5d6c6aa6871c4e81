// conv.cc's gathers on AVX-512: the indexed gather of the small-plane lowering (the tap index:
// an input offset per output position, -1 for padding) on masked gathers, and the stride-2
// rows of im2col as two loads and a permute per 16 values.
#include <immintrin.h>
#include "conv.h"

namespace iv {
namespace avx512 {

void gatherOrZero(const float* src, const int32_t* ix, int64_t n, float* dst) {
  const __m512i zero = _mm512_setzero_si512();
  int64_t q = 0;
  for (; q + 16 <= n; q += 16) {
    const __m512i i = _mm512_loadu_si512(ix + q);
    const __mmask16 m = _mm512_cmpge_epi32_mask(i, zero);
    _mm512_storeu_ps(dst + q, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, i, src, 4));
  }
  if (q < n) {
    const __mmask16 tail = static_cast<__mmask16>((1u << (n - q)) - 1);
    const __m512i i = _mm512_maskz_loadu_epi32(tail, ix + q);
    const __mmask16 m = _mm512_mask_cmpge_epi32_mask(tail, i, zero);
    _mm512_mask_storeu_ps(dst + q, tail, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, i, src, 4));
  }
}

void copyEveryOther(const float* src, int64_t n, float* dst) {
  // Lanes 0, 2, ..., 30 of the 32 floats in two registers.
  const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  // The last source value is src[2 n - 2]: a whole block reads 32 values, up to src[2 q + 31],
  // so the last block (even a full one) goes through the masked tail.
  int64_t q = 0;
  for (; q + 16 < n; q += 16) {
    const __m512 lo = _mm512_loadu_ps(src + 2 * q), hi = _mm512_loadu_ps(src + 2 * q + 16);
    _mm512_storeu_ps(dst + q, _mm512_permutex2var_ps(lo, evens, hi));
  }
  if (q < n) {
    const int64_t m = 2 * (n - q) - 1;
    const __mmask16 mlo = static_cast<__mmask16>(m >= 16 ? 0xffff : (1u << m) - 1);
    const __mmask16 mhi = static_cast<__mmask16>(m > 16 ? (1u << (m - 16)) - 1 : 0);
    const __m512 lo = _mm512_maskz_loadu_ps(mlo, src + 2 * q), hi = _mm512_maskz_loadu_ps(mhi, src + 2 * q + 16);
    _mm512_mask_storeu_ps(dst + q, static_cast<__mmask16>((1u << (n - q)) - 1), _mm512_permutex2var_ps(lo, evens, hi));
  }
}

}  // namespace avx512
}  // namespace iv
