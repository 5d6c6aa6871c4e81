// Helpers of the two AVX-512 GEMM micro-kernels (gemm_kernels_avx512.cc and
// gemm_kernels_avx512bf16.cc), both on a 14 x 32 float32 accumulator tile. Each file includes
// this inside its own anonymous namespace, so no inline copy compiled with one instruction set
// is ever linked into another file (the rule native/cpu/parallel.h explains).
#pragma once

#include "lanes_avx512.h"

// Every cache line of [p, p + bytes), aligned or not.
inline void prefetchRow(const void* p, int bytes) {
  const char* q = static_cast<const char*>(p);
  for (int off = 0; off < bytes; off += 64) _mm_prefetch(q + off, _MM_HINT_T0);
  _mm_prefetch(q + bytes - 1, _MM_HINT_T0);
}

// c[:mr, :nr] = alpha * acc + beta * c (beta 0 never reads c, so NaNs there do not spread).
template <int Mr>
inline void storeTile(__m512 (&acc)[Mr][2], float* c, int64_t ldc, float alpha, float beta, int64_t mr, int64_t nr) {
  const __mmask16 m0 = firstLanes(nr), m1 = firstLanes(nr - 16);
  const __m512 valpha = _mm512_set1_ps(alpha), vbeta = _mm512_set1_ps(beta);
#pragma GCC unroll 14
  for (int i = 0; i < Mr; i++) {
    if (i >= mr) break;
    float* row = c + i * ldc;
    __m512 r0 = acc[i][0], r1 = acc[i][1];
    if (alpha != 1.0f) {
      r0 = _mm512_mul_ps(r0, valpha);
      r1 = _mm512_mul_ps(r1, valpha);
    }
    if (beta == 1.0f) {
      r0 = _mm512_add_ps(r0, _mm512_maskz_loadu_ps(m0, row));
      r1 = _mm512_add_ps(r1, _mm512_maskz_loadu_ps(m1, row + 16));
    } else if (beta != 0.0f) {
      r0 = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(m0, row), r0);
      r1 = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(m1, row + 16), r1);
    }
    _mm512_mask_storeu_ps(row, m0, r0);
    _mm512_mask_storeu_ps(row + 16, m1, r1);
  }
}
