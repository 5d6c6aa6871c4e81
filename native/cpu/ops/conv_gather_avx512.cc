// conv.cc's gathers and scatters on AVX-512: the indexed gather of the small-plane lowering
// (the tap index: an input offset per output position, -1 for padding) and its adjoint, the
// input gradient's scatter-add, on masked gathers and scatters, 16 positions at a time; and
// col2im's stride-2 rows as masked expanding loads and stores.
#include <immintrin.h>
#include "conv.h"

namespace iv {
namespace avx512 {

namespace {

// f(q, lanes, valid, i) for each block of 16 positions from q: `lanes` masks the positions below
// n, `valid` those of them whose index is not negative (-1: padding), i holds the indices.
template <class F>
inline void forIndexBlocks(const int32_t* ix, int64_t n, F&& f) {
  for (int64_t q = 0; q < n; q += 16) {
    const __mmask16 lanes = n - q >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (n - q)) - 1);
    const __m512i i = _mm512_maskz_loadu_epi32(lanes, ix + q);
    f(q, lanes, _mm512_mask_cmpge_epi32_mask(lanes, i, _mm512_setzero_si512()), i);
  }
}

}  // namespace

void gatherOrZero(const float* src, const int32_t* ix, int64_t n, float* dst) {
  forIndexBlocks(ix, n, [&](int64_t q, __mmask16 lanes, __mmask16 valid, __m512i i) {
    _mm512_mask_storeu_ps(dst + q, lanes, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), valid, i, src, 4));
  });
}

void scatterAdd(const float* src, const int32_t* ix, int64_t n, float* dst) {
  // The indices of one call are distinct, so the 16 lanes of a scatter never collide.
  forIndexBlocks(ix, n, [&](int64_t q, __mmask16 lanes, __mmask16 valid, __m512i i) {
    const __m512 d = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), valid, i, dst, 4);
    _mm512_mask_i32scatter_ps(dst, valid, i, _mm512_add_ps(d, _mm512_maskz_loadu_ps(lanes, src + q)), 4);
  });
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
