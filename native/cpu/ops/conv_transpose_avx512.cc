// The channels-last copy of conv_implicit.cc's weight gradient: a [rows, cols] block of
// floats transposed in 16 x 16 tiles held in registers (three shuffle stages), the edges
// through masked loads and stores.
// GCC 12's unpack intrinsics start from _mm512_undefined_ps(), which -Wmaybe-uninitialized
// reports once they are inlined (GCC bug 105593); every register here is written first.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <algorithm>
#include "conv.h"

namespace iv {
namespace avx512 {
namespace {

#include "../lanes_avx512.h"

// Rows [0, rows) x columns [0, cols) of one 16 x 16 tile (rows, cols <= 16).
void transposeTile(const float* src, int64_t lds, int64_t rows, int64_t cols, float* dst, int64_t ldd) {
  const __mmask16 load = firstLanes(cols), store = firstLanes(rows);
  __m512 r[16], t[16];
  for (int i = 0; i < 16; i++) r[i] = i < rows ? _mm512_maskz_loadu_ps(load, src + i * lds) : _mm512_setzero_ps();
  // Pairs of rows interleaved by element, then by pairs: t[4i + j] holds, in each 128-bit
  // lane L, column 4L + j of rows 4i .. 4i + 3.
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    const __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
    const __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  // Lane L of r[j], r[4 + j], r[8 + j], r[12 + j] side by side is output row 4L + j.
  for (int j = 0; j < 4; j++) {
    const __m512 even01 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88), odd01 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xDD);
    const __m512 even23 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);
    const __m512 odd23 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xDD);
    const __m512 out[4] = {_mm512_shuffle_f32x4(even01, even23, 0x88), _mm512_shuffle_f32x4(odd01, odd23, 0x88),
                           _mm512_shuffle_f32x4(even01, even23, 0xDD), _mm512_shuffle_f32x4(odd01, odd23, 0xDD)};
    for (int lane = 0; lane < 4; lane++) {
      const int64_t row = 4 * lane + j;
      if (row < cols) _mm512_mask_storeu_ps(dst + row * ldd, store, out[lane]);
    }
  }
}

}  // namespace

void transpose(const float* src, int64_t rows, int64_t cols, int64_t lds, float* dst, int64_t ldd) {
  for (int64_t i = 0; i < rows; i += 16)
    for (int64_t j = 0; j < cols; j += 16)
      transposeTile(src + i * lds + j, lds, std::min<int64_t>(16, rows - i), std::min<int64_t>(16, cols - j),
                    dst + j * ldd + i, ldd);
}

}  // namespace avx512
}  // namespace iv
