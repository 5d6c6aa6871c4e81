// AVX2+FMA GEMM micro-kernels (layouts in gemm_kernels.h): 6 rows x 2 vectors, i.e. 12 ymm
// accumulators, 2 for the B row and 1 broadcast, within the 16 registers (the k loop is
// unrolled by 2 only, as more makes GCC spill). Also the 8 x 8 transposing copy used to pack
// transposed operands, on AVX2 and AVX-512 machines alike.
#include <immintrin.h>
#include "gemm_kernels.h"

namespace iv {
namespace avx2 {

static_assert(kSgemmNr == 16 && kDgemmNr == 8 && kSgemmMr == 6 && kDgemmMr == 6, "6 x 2-vector tiles");

namespace {

constexpr int64_t kMr = 6;
constexpr int64_t kKb = kGemmKBlock;

// Lane mask for the first n of `lanes` 32- or 64-bit lanes (maskload/maskstore read the sign bit).
inline __m256i maskFirst32(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n < 0 ? 0 : n > 8 ? 8 : n)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline __m256i maskFirst64(int64_t n) {
  return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n < 0 ? 0 : n > 4 ? 4 : n), _mm256_setr_epi64x(0, 1, 2, 3));
}

// Every cache line of [p, p + bytes), aligned or not.
inline void prefetchRow(const void* p, int bytes) {
  const char* q = static_cast<const char*>(p);
  for (int off = 0; off < bytes; off += 64) _mm_prefetch(q + off, _MM_HINT_T0);
  _mm_prefetch(q + bytes - 1, _MM_HINT_T0);
}

}  // namespace

void sgemmKernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float beta, int64_t mr, int64_t nr,
                 const float* next) {
  __m256 acc[kMr][2];
#pragma GCC unroll 6
  for (int i = 0; i < kMr; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  // C rows are prefetched one per k block, and a stretch of the next B micro-panel into L2.
  int64_t pr = 0;
  int64_t k = 0;
  for (; k + kKb <= kc; k += kKb, a += kMr * kKb, b += kKb * 16) {
    if (pr < mr) prefetchRow(c + pr++ * ldc, 64);
    if (next) {
      _mm_prefetch(reinterpret_cast<const char*>(next), _MM_HINT_T1);
      next += 16;
    }
#pragma GCC unroll 2
    for (int kk = 0; kk < kKb; kk++) {
      const __m256 b0 = _mm256_loadu_ps(b + kk * 16), b1 = _mm256_loadu_ps(b + kk * 16 + 8);
#pragma GCC unroll 6
      for (int i = 0; i < kMr; i++) {
        const __m256 av = _mm256_broadcast_ss(a + i * kKb + kk);
        acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
        acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
      }
    }
  }
  for (int64_t kk = 0; k < kc; k++, kk++) {
    const __m256 b0 = _mm256_loadu_ps(b + kk * 16), b1 = _mm256_loadu_ps(b + kk * 16 + 8);
#pragma GCC unroll 6
    for (int i = 0; i < kMr; i++) {
      const __m256 av = _mm256_broadcast_ss(a + i * kKb + kk);
      acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
    }
  }
  for (; pr < mr; pr++) prefetchRow(c + pr * ldc, 64);
  const __m256 vbeta = _mm256_set1_ps(beta);
  const bool full = nr >= 16;
  const __m256i m0 = maskFirst32(nr), m1 = maskFirst32(nr - 8);
#pragma GCC unroll 6
  for (int i = 0; i < kMr; i++) {
    if (i >= mr) break;
    float* row = c + i * ldc;
    __m256 r0 = acc[i][0], r1 = acc[i][1];
    if (full) {
      if (beta == 1.0f) {
        r0 = _mm256_add_ps(r0, _mm256_loadu_ps(row));
        r1 = _mm256_add_ps(r1, _mm256_loadu_ps(row + 8));
      } else if (beta != 0.0f) {
        r0 = _mm256_fmadd_ps(vbeta, _mm256_loadu_ps(row), r0);
        r1 = _mm256_fmadd_ps(vbeta, _mm256_loadu_ps(row + 8), r1);
      }
      _mm256_storeu_ps(row, r0);
      _mm256_storeu_ps(row + 8, r1);
    } else {
      if (beta == 1.0f) {
        r0 = _mm256_add_ps(r0, _mm256_maskload_ps(row, m0));
        r1 = _mm256_add_ps(r1, _mm256_maskload_ps(row + 8, m1));
      } else if (beta != 0.0f) {
        r0 = _mm256_fmadd_ps(vbeta, _mm256_maskload_ps(row, m0), r0);
        r1 = _mm256_fmadd_ps(vbeta, _mm256_maskload_ps(row + 8, m1), r1);
      }
      _mm256_maskstore_ps(row, m0, r0);
      _mm256_maskstore_ps(row + 8, m1, r1);
    }
  }
}

void dgemmKernel(int64_t kc, const double* a, const double* b, double* c, int64_t ldc, double beta, int64_t mr,
                 int64_t nr, const double* next) {
  __m256d acc[kMr][2];
#pragma GCC unroll 6
  for (int i = 0; i < kMr; i++) acc[i][0] = acc[i][1] = _mm256_setzero_pd();
  int64_t pr = 0;
  int64_t k = 0;
  for (; k + kKb <= kc; k += kKb, a += kMr * kKb, b += kKb * 8) {
    if (pr < mr) prefetchRow(c + pr++ * ldc, 64);
    if (next) {
      _mm_prefetch(reinterpret_cast<const char*>(next), _MM_HINT_T1);
      next += 8;
    }
#pragma GCC unroll 2
    for (int kk = 0; kk < kKb; kk++) {
      const __m256d b0 = _mm256_loadu_pd(b + kk * 8), b1 = _mm256_loadu_pd(b + kk * 8 + 4);
#pragma GCC unroll 6
      for (int i = 0; i < kMr; i++) {
        const __m256d av = _mm256_broadcast_sd(a + i * kKb + kk);
        acc[i][0] = _mm256_fmadd_pd(av, b0, acc[i][0]);
        acc[i][1] = _mm256_fmadd_pd(av, b1, acc[i][1]);
      }
    }
  }
  for (int64_t kk = 0; k < kc; k++, kk++) {
    const __m256d b0 = _mm256_loadu_pd(b + kk * 8), b1 = _mm256_loadu_pd(b + kk * 8 + 4);
#pragma GCC unroll 6
    for (int i = 0; i < kMr; i++) {
      const __m256d av = _mm256_broadcast_sd(a + i * kKb + kk);
      acc[i][0] = _mm256_fmadd_pd(av, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_pd(av, b1, acc[i][1]);
    }
  }
  for (; pr < mr; pr++) prefetchRow(c + pr * ldc, 64);
  const __m256d vbeta = _mm256_set1_pd(beta);
  const __m256i m0 = maskFirst64(nr), m1 = maskFirst64(nr - 4);
#pragma GCC unroll 6
  for (int i = 0; i < kMr; i++) {
    if (i >= mr) break;
    double* row = c + i * ldc;
    __m256d r0 = acc[i][0], r1 = acc[i][1];
    if (beta == 1.0) {
      r0 = _mm256_add_pd(r0, _mm256_maskload_pd(row, m0));
      r1 = _mm256_add_pd(r1, _mm256_maskload_pd(row + 4, m1));
    } else if (beta != 0.0) {
      r0 = _mm256_fmadd_pd(vbeta, _mm256_maskload_pd(row, m0), r0);
      r1 = _mm256_fmadd_pd(vbeta, _mm256_maskload_pd(row + 4, m1), r1);
    }
    _mm256_maskstore_pd(row, m0, r0);
    _mm256_maskstore_pd(row + 4, m1, r1);
  }
}

void transposeF32(const float* src, int64_t lds, int64_t rows, int64_t cols, float* dst, int64_t ldd) {
  for (int64_t j = 0; j < ldd; j += 8) {
    const int64_t nrow = rows - j < 0 ? 0 : rows - j > 8 ? 8 : rows - j;
    for (int64_t c = 0; c < cols; c += 8) {
      const int64_t ncol = cols - c > 8 ? 8 : cols - c;
      const __m256i m = maskFirst32(ncol);
      // Each of the 8 rows 64 floats ahead: the source is often a matrix read once from
      // memory (a convolution's gy), whose 8 row streams, rows kilobytes apart, the hardware
      // prefetcher followed poorly (a stem's weight gradient spent longer here than in its
      // kernel).
      if (c % 16 == 0)
        for (int i = 0; i < nrow; i++)
          _mm_prefetch(reinterpret_cast<const char*>(src + (j + i) * lds + c + 64), _MM_HINT_T0);
      __m256 x[8], y[8];
#pragma GCC unroll 8
      for (int i = 0; i < 8; i++)
        x[i] = i < nrow ? _mm256_maskload_ps(src + (j + i) * lds + c, m) : _mm256_setzero_ps();
#pragma GCC unroll 4
      for (int i = 0; i < 8; i += 2) {
        y[i] = _mm256_unpacklo_ps(x[i], x[i + 1]);
        y[i + 1] = _mm256_unpackhi_ps(x[i], x[i + 1]);
      }
#pragma GCC unroll 2
      for (int i = 0; i < 8; i += 4) {
        x[i] = _mm256_shuffle_ps(y[i], y[i + 2], 0x44);
        x[i + 1] = _mm256_shuffle_ps(y[i], y[i + 2], 0xEE);
        x[i + 2] = _mm256_shuffle_ps(y[i + 1], y[i + 3], 0x44);
        x[i + 3] = _mm256_shuffle_ps(y[i + 1], y[i + 3], 0xEE);
      }
#pragma GCC unroll 4
      for (int i = 0; i < 4; i++) {
        y[i] = _mm256_permute2f128_ps(x[i], x[i + 4], 0x20);
        y[i + 4] = _mm256_permute2f128_ps(x[i], x[i + 4], 0x31);
      }
      // y[t] is source column c + t.
#pragma GCC unroll 8
      for (int t = 0; t < 8; t++) {
        if (t >= ncol) break;
        _mm256_storeu_ps(dst + (c + t) * ldd + j, y[t]);
      }
    }
  }
}

}  // namespace avx2
}  // namespace iv
