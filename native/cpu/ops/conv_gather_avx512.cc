// conv.cc's gathers and scatters on AVX-512: the indexed gather of the small-plane lowering
// (the tap index: an input offset per output position, -1 for padding) and its adjoint, the
// input gradient's scatter-add, on masked gathers and scatters, 16 positions at a time; and
// col2im at a horizontal stride of 2, input row by input row, from the terms conv.cc lists;
// and the copy of a row into a GEMM A panel's runs of 8.
// No STL here (docs/ARCHITECTURE.md on ISA files).
#include <immintrin.h>
#include "conv.h"

namespace iv {
namespace avx512 {

namespace {

#include "../lanes_avx512.h"

// d[l] += v[l] for the lanes l in k, nothing else read or written.
inline void addMasked(float* d, __mmask16 k, __m512 v) {
  _mm512_mask_storeu_ps(d, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, d), v));
}

// f(q, lanes, valid, i) for each block of 16 positions from q: `lanes` masks the positions below
// n, `valid` those of them whose index is not negative (-1: padding), i holds the indices.
template <class F>
inline void forIndexBlocks(const int32_t* ix, int64_t n, F&& f) {
  for (int64_t q = 0; q < n; q += 16) {
    const __mmask16 lanes = firstLanes(n - q);
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

void col2imStride2(const Stride2Rows& r, const float* col, int64_t ci0, int64_t ci1, float* x) {
  // The row's two phases interleaved: (even 0, odd 0, even 1, ...).
  const __m512i lo = interleaveIndex(0), hi = interleaveIndex(1);
  for (int64_t ci = ci0; ci < ci1; ci++) {
    const float* src = col + ci * r.channel;
    for (int64_t k = 0; k < r.rows * r.blocks; k++) {
      const int64_t* s = r.start + 2 * k;
      if (s[0] == s[2]) continue;
      __m512 even = _mm512_setzero_ps(), odd = _mm512_setzero_ps();
      for (int64_t t = s[0]; t < s[1]; t++)
        even = _mm512_add_ps(even, _mm512_maskz_loadu_ps(r.terms[t].valid, src + r.terms[t].offset));
      for (int64_t t = s[1]; t < s[2]; t++)
        odd = _mm512_add_ps(odd, _mm512_maskz_loadu_ps(r.terms[t].valid, src + r.terms[t].offset));
      // Columns 32 (k % blocks) .. + 31 of input row hLo + k / blocks, those below W.
      const int64_t w0 = k % r.blocks * 32;
      float* d = x + ci * r.plane + (r.hLo + k / r.blocks) * r.W + w0;
      addMasked(d, firstLanes(r.W - w0), _mm512_permutex2var_ps(even, lo, odd));
      if (const __mmask16 k1 = firstLanes(r.W - w0 - 16)) addMasked(d + 16, k1, _mm512_permutex2var_ps(even, hi, odd));
    }
  }
}

void packRuns8(const float* src, int64_t n, float* dst, int64_t stride, const float* next) {
  for (int64_t k = 0; k < n; k += 16) _mm_prefetch(reinterpret_cast<const char*>(next + k), _MM_HINT_T0);
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    const __m512 v = _mm512_loadu_ps(src + k);
    _mm256_storeu_ps(dst + k / 8 * stride, _mm512_castps512_ps256(v));
    _mm256_storeu_ps(dst + (k / 8 + 1) * stride, _mm512_extractf32x8_ps(v, 1));
  }
  for (; k < n; k += 8)
    _mm256_storeu_ps(dst + k / 8 * stride, _mm256_maskz_loadu_ps(static_cast<__mmask8>(firstLanes(n - k)), src + k));
}

}  // namespace avx512
}  // namespace iv
