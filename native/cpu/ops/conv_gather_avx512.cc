// The indexed gather of conv.cc's small-plane lowering (the tap index: an input offset per
// output position, -1 for padding) on AVX-512's masked gathers, 16 positions at a time.
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

}  // namespace avx512
}  // namespace iv
