// conv_dot.cc's micro-kernel: a 3 x 7 block of dot products between rows of two row-major
// matrices, both read along their rows (the reduction), so neither needs packing. Each of the
// 21 products accumulates 16 lanes in a register; the lanes are summed once at the end.
// GCC 12 reports the extract intrinsics' _mm256_undefined_ps() start as uninitialized once they
// are inlined (GCC bug 105593); every register here is written first.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <algorithm>
#include "conv.h"

namespace iv {
namespace avx512 {
namespace {

// Lane sums of v[0..7]: lane i of the result is the sum of v[i]'s 16 lanes.
inline __m256 laneSums8(const __m512* v) {
  __m256 h[8];
  for (int i = 0; i < 8; i++)
    h[i] = _mm256_add_ps(_mm512_castps512_ps256(v[i]), _mm512_extractf32x8_ps(v[i], 1));
  // hadd of two 8-lane vectors pairs up their neighbours within each 128-bit half; two
  // rounds leave, per half, one partial sum of each of four vectors.
  const __m256 h01 = _mm256_hadd_ps(h[0], h[1]), h23 = _mm256_hadd_ps(h[2], h[3]);
  const __m256 h45 = _mm256_hadd_ps(h[4], h[5]), h67 = _mm256_hadd_ps(h[6], h[7]);
  const __m256 q0 = _mm256_hadd_ps(h01, h23), q1 = _mm256_hadd_ps(h45, h67);
  return _mm256_add_ps(_mm256_permute2f128_ps(q0, q1, 0x20), _mm256_permute2f128_ps(q0, q1, 0x31));
}

}  // namespace

void dotTile(int64_t n, const float* a, int64_t lda, int64_t rows, const float* b, int64_t ldb, int64_t cols,
             float* c, int64_t ldc, bool accumulate) {
  // Rows and columns past the block's read the last real one again, their sums dropped.
  const float* ar[kDotRows];
  const float* br[kDotCols];
  for (int i = 0; i < kDotRows; i++) ar[i] = a + std::min<int64_t>(i, rows - 1) * lda;
  for (int j = 0; j < kDotCols; j++) br[j] = b + std::min<int64_t>(j, cols - 1) * ldb;
  __m512 acc[kDotCols][8];
  for (int j = 0; j < kDotCols; j++)
    for (int i = 0; i < 8; i++) acc[j][i] = _mm512_setzero_ps();
  int64_t r = 0;
  for (; r + 16 <= n; r += 16) {
    const __m512 w0 = _mm512_loadu_ps(br[0] + r), w1 = _mm512_loadu_ps(br[1] + r), w2 = _mm512_loadu_ps(br[2] + r);
    for (int i = 0; i < kDotRows; i++) {
      __m512 x = _mm512_loadu_ps(ar[i] + r);
      // One load for three products: without this GCC folds it into each FMA, and the loop
      // then waits on loads rather than multiply-adds.
      __asm__("" : "+v"(x));
      acc[0][i] = _mm512_fmadd_ps(w0, x, acc[0][i]);
      acc[1][i] = _mm512_fmadd_ps(w1, x, acc[1][i]);
      acc[2][i] = _mm512_fmadd_ps(w2, x, acc[2][i]);
    }
  }
  if (r < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - r)) - 1);
    const __m512 w0 = _mm512_maskz_loadu_ps(m, br[0] + r), w1 = _mm512_maskz_loadu_ps(m, br[1] + r);
    const __m512 w2 = _mm512_maskz_loadu_ps(m, br[2] + r);
    for (int i = 0; i < kDotRows; i++) {
      const __m512 x = _mm512_maskz_loadu_ps(m, ar[i] + r);
      acc[0][i] = _mm512_fmadd_ps(w0, x, acc[0][i]);
      acc[1][i] = _mm512_fmadd_ps(w1, x, acc[1][i]);
      acc[2][i] = _mm512_fmadd_ps(w2, x, acc[2][i]);
    }
  }
  const __mmask8 store = static_cast<__mmask8>((1u << rows) - 1);
  for (int j = 0; j < cols; j++) {
    __m256 s = laneSums8(acc[j]);
    if (accumulate) s = _mm256_add_ps(s, _mm256_maskz_loadu_ps(store, c + j * ldc));
    _mm256_mask_storeu_ps(c + j * ldc, store, s);
  }
}

}  // namespace avx512
}  // namespace iv
