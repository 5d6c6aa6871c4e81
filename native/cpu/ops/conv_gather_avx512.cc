// conv.cc's gathers and scatters on AVX-512: the indexed gather of the small-plane lowering
// (the tap index: an input offset per output position, -1 for padding) and its adjoint, the
// input gradient's scatter-add, on masked gathers and scatters, 16 positions at a time; and
// col2im's stride-2 rows as masked expanding loads and stores.
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

void scatterAdd(const float* src, const int32_t* ix, int64_t n, float* dst) {
  // The indices of one call are distinct, so the 16 lanes of a scatter never collide.
  const __m512i zero = _mm512_setzero_si512();
  int64_t q = 0;
  for (; q + 16 <= n; q += 16) {
    const __m512i i = _mm512_loadu_si512(ix + q);
    const __mmask16 m = _mm512_cmpge_epi32_mask(i, zero);
    const __m512 d = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, i, dst, 4);
    _mm512_mask_i32scatter_ps(dst, m, i, _mm512_add_ps(d, _mm512_loadu_ps(src + q)), 4);
  }
  if (q < n) {
    const __mmask16 tail = static_cast<__mmask16>((1u << (n - q)) - 1);
    const __m512i i = _mm512_maskz_loadu_epi32(tail, ix + q);
    const __mmask16 m = _mm512_mask_cmpge_epi32_mask(tail, i, zero);
    const __m512 d = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, i, dst, 4);
    _mm512_mask_i32scatter_ps(dst, m, i, _mm512_add_ps(d, _mm512_maskz_loadu_ps(tail, src + q)), 4);
  }
}

void addEveryOther(const float* src, int64_t n, float* dst) {
  // Eight values at a time into the even lanes of 16; the odd lanes are neither read nor
  // written (masked), so the next value another thread owns is never touched.
  constexpr __mmask16 kEven = 0x5555;
  int64_t q = 0;
  for (; q + 8 <= n; q += 8) {
    const __m512 e = _mm512_maskz_expandloadu_ps(kEven, src + q);
    const __m512 d = _mm512_maskz_loadu_ps(kEven, dst + 2 * q);
    _mm512_mask_storeu_ps(dst + 2 * q, kEven, _mm512_add_ps(d, e));
  }
  if (q < n) {
    const __mmask16 m = kEven & static_cast<__mmask16>((1u << (2 * (n - q) - 1)) - 1);
    const __m512 e = _mm512_maskz_expandloadu_ps(m, src + q);
    const __m512 d = _mm512_maskz_loadu_ps(m, dst + 2 * q);
    _mm512_mask_storeu_ps(dst + 2 * q, m, _mm512_add_ps(d, e));
  }
}

}  // namespace avx512
}  // namespace iv
