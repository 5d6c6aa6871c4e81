// conv.cc's gathers and scatters on AVX-512: the indexed gather of the small-plane lowering
// (the tap index: an input offset per output position, -1 for padding) and its adjoint, the
// input gradient's scatter-add, on masked gathers and scatters, 16 positions at a time; and
// col2im at a horizontal stride of 2, input row by input row.
#include <immintrin.h>
#include <algorithm>
#include <vector>
#include "conv.h"

namespace iv {
namespace avx512 {

namespace {

// The first k of 16 lanes (none for k <= 0). Branches, not a variable shift: in a loop's full
// blocks the mask is then a constant, and scatterAdd measured far slower with the shift.
inline __mmask16 firstLanes(int64_t k) {
  return k >= 16 ? __mmask16(0xFFFF) : k <= 0 ? __mmask16(0) : static_cast<__mmask16>((1u << k) - 1);
}

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

void col2imStride2(const ConvGeom& g, const float* col, int64_t c0, int64_t n, int64_t ci0, int64_t ci1, float* x,
                   int64_t ld) {
  const int64_t taps = g.kh * g.kw, HW = g.H * g.W, p1 = c0 + n, hoFirst = c0 / g.Wo, hoLast = (p1 - 1) / g.Wo;
  const int64_t hLo = std::max<int64_t>(0, hoFirst * g.sh - g.pt);
  const int64_t hHi = std::min<int64_t>(g.H, hoLast * g.sh - g.pt + (g.kh - 1) * g.dh + 1);
  const int64_t blocks = (g.W + 31) / 32;  // per input row: 16 columns of each phase
  // Input column w = 2 m + b (phase b) of row h takes, from each tap (i, j) with h = ho sh -
  // pt + i dh, the value at output column wo = m + (b + pl - j dw) / 2, where that is a whole
  // number and (ho, wo) is in this tile. Those terms are the same for every channel: block k
  // = (h - hLo) * blocks + m / 16 sums terms [start[2 k], start[2 k + 1]) into phase 0 and
  // [start[2 k + 1], start[2 k + 2]) into phase 1.
  struct Term {
    int64_t offset;  // from the channel's first column-matrix row
    __mmask16 valid;
  };
  std::vector<Term> terms;
  std::vector<size_t> start;
  for (int64_t h = hLo; h < hHi; h++)
    for (int64_t m0 = 0; m0 < blocks * 16; m0 += 16)
      for (int b = 0; b < 2; b++) {
        start.push_back(terms.size());
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
            const __mmask16 valid = firstLanes(woHi - wo0) & ~firstLanes(woLo - wo0);
            if (valid) terms.push_back({(i * g.kw + j) * ld + ho * g.Wo - c0 + wo0, valid});
          }
        }
      }
  start.push_back(terms.size());
  // Lanes 0..15 of the row's two phases interleaved: (even 0, odd 0, even 1, ...), then 8..15.
  const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i hi = _mm512_add_epi32(lo, _mm512_set1_epi32(8));
  for (int64_t ci = ci0; ci < ci1; ci++) {
    const float* src = col + ci * taps * ld;
    for (int64_t k = 0; k < (hHi - hLo) * blocks; k++) {
      const size_t* s = start.data() + 2 * k;
      if (s[0] == s[2]) continue;
      __m512 even = _mm512_setzero_ps(), odd = _mm512_setzero_ps();
      for (size_t t = s[0]; t < s[1]; t++)
        even = _mm512_add_ps(even, _mm512_maskz_loadu_ps(terms[t].valid, src + terms[t].offset));
      for (size_t t = s[1]; t < s[2]; t++)
        odd = _mm512_add_ps(odd, _mm512_maskz_loadu_ps(terms[t].valid, src + terms[t].offset));
      // Columns 32 (k % blocks) .. + 31 of input row hLo + k / blocks, those below W.
      const int64_t w0 = k % blocks * 32;
      float* d = x + ci * HW + (hLo + k / blocks) * g.W + w0;
      addMasked(d, firstLanes(g.W - w0), _mm512_permutex2var_ps(even, lo, odd));
      if (const __mmask16 k1 = firstLanes(g.W - w0 - 16)) addMasked(d + 16, k1, _mm512_permutex2var_ps(even, hi, odd));
    }
  }
}

}  // namespace avx512
}  // namespace iv
