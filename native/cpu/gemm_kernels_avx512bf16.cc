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

inline int64_t atMost8(int64_t n) { return n < 8 ? n : 8; }

#include "gemm_tile_avx512.h"

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
  storeTile(acc, c, ldc, alpha, beta, mr, nr);
}

// 8 x 8 blocks of 16-bit words: a masked load per source row (never past cols), three rounds
// of unpacks, a store per destination row.
void transposeBf16(const bfloat16* src, int64_t lds, int64_t rows, int64_t cols, bfloat16* dst, int64_t ldd) {
  const uint16_t* s = reinterpret_cast<const uint16_t*>(src);
  uint16_t* d = reinterpret_cast<uint16_t*>(dst);
  for (int64_t r0 = 0; r0 < ldd; r0 += 8)
    for (int64_t c0 = 0; c0 < cols; c0 += 8) {
      const __mmask8 m = cols - c0 >= 8 ? __mmask8(0xFF) : __mmask8((1u << (cols - c0)) - 1);
      __m128i x[8];
      for (int q = 0; q < 8; q++)
        x[q] = r0 + q < rows ? _mm_maskz_loadu_epi16(m, s + (r0 + q) * lds + c0) : _mm_setzero_si128();
      __m128i t[8], u[8];
      for (int q = 0; q < 4; q++) {
        t[q] = _mm_unpacklo_epi16(x[2 * q], x[2 * q + 1]);
        t[q + 4] = _mm_unpackhi_epi16(x[2 * q], x[2 * q + 1]);
      }
      // t[0..3]: columns 0-3 of row pairs (0,1) .. (6,7); t[4..7]: columns 4-7.
      for (int h = 0; h < 2; h++) {
        u[4 * h + 0] = _mm_unpacklo_epi32(t[4 * h], t[4 * h + 1]);
        u[4 * h + 1] = _mm_unpackhi_epi32(t[4 * h], t[4 * h + 1]);
        u[4 * h + 2] = _mm_unpacklo_epi32(t[4 * h + 2], t[4 * h + 3]);
        u[4 * h + 3] = _mm_unpackhi_epi32(t[4 * h + 2], t[4 * h + 3]);
      }
      // u[4h + 0]: columns 4h, 4h + 1 of rows 0-3; u[4h + 2]: the same of rows 4-7; u[4h + 1],
      // u[4h + 3]: columns 4h + 2, 4h + 3.
      const int64_t n = atMost8(cols - c0);
      for (int64_t c = 0; c < n; c++) {
        const int h = static_cast<int>(c / 4), pair = static_cast<int>(c % 4 / 2);
        const __m128i lo = u[4 * h + pair], hi = u[4 * h + 2 + pair];
        const __m128i col = c % 2 ? _mm_unpackhi_epi64(lo, hi) : _mm_unpacklo_epi64(lo, hi);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d + (c0 + c) * ldd + r0), col);
      }
    }
}

// 8 x 8 blocks of K pairs (32-bit words) transposed in AVX registers; a last odd k alone.
void packBTransposed(const bfloat16* src, int64_t lds, int64_t kc, int64_t nr, int64_t NR, bfloat16* dst) {
  const uint16_t* s = reinterpret_cast<const uint16_t*>(src);
  uint16_t* d = reinterpret_cast<uint16_t*>(dst);
  const int64_t pairs = kc / 2;
  for (int64_t j0 = 0; j0 < nr; j0 += 8) {
    const int64_t nj = atMost8(nr - j0);
    const __mmask8 jm = __mmask8((1u << nj) - 1);
    for (int64_t p0 = 0; p0 < pairs; p0 += 8) {
      const __mmask8 pm = __mmask8((1u << atMost8(pairs - p0)) - 1);
      __m256 x[8];
      for (int q = 0; q < 8; q++)
        x[q] = q < nj ? _mm256_castsi256_ps(_mm256_maskz_loadu_epi32(pm, s + (j0 + q) * lds + 2 * p0))
                      : _mm256_setzero_ps();
      __m256 t[8], u[8];
      for (int q = 0; q < 4; q++) {
        t[2 * q] = _mm256_unpacklo_ps(x[2 * q], x[2 * q + 1]);
        t[2 * q + 1] = _mm256_unpackhi_ps(x[2 * q], x[2 * q + 1]);
      }
      for (int q = 0; q < 2; q++) {
        u[4 * q + 0] = _mm256_shuffle_ps(t[4 * q], t[4 * q + 2], 0x44);
        u[4 * q + 1] = _mm256_shuffle_ps(t[4 * q], t[4 * q + 2], 0xEE);
        u[4 * q + 2] = _mm256_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0x44);
        u[4 * q + 3] = _mm256_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0xEE);
      }
      // u[r] (r < 4) holds pair r and pair r + 4 of rows j0..j0 + 3 in its two halves, u[r + 4]
      // the same of rows j0 + 4..j0 + 7.
      const int64_t np = atMost8(pairs - p0);
      for (int64_t q = 0; q < np; q++) {
        const int r = static_cast<int>(q % 4);
        const __m256 row = _mm256_permute2f128_ps(u[r], u[r + 4], q < 4 ? 0x20 : 0x31);
        _mm256_mask_storeu_epi32(d + (p0 + q) * 2 * NR + 2 * j0, jm, _mm256_castps_si256(row));
      }
    }
  }
  if (kc % 2)
    for (int64_t j = 0; j < nr; j++) d[pairs * 2 * NR + 2 * j] = s[j * lds + kc - 1];
}

}  // namespace avx512bf16
}  // namespace iv
