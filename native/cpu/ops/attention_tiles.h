// The float32 tile primitives of the tiled attention kernels (attention.cc), compiled once
// per instruction set from attention_tiles.inc: attention_avx512.cc, attention_avx2.cc and
// a baseline copy inside attention.cc. Plain function pointers, so no inline code crosses
// between the instruction-set libraries.
#pragma once
#include <cstdint>

namespace iv {

struct AttnTilesF {
  // C[m x n] = A[m x k] * B[k x n] (+ C when accumulate). A's element (i, p) is at
  // a[i * ars + p * acs], so A may be a transposed view; B and C are row-major.
  void (*gemm)(int64_t m, int64_t n, int64_t k, const float* a, int64_t ars, int64_t acs, const float* b,
               int64_t ldb, float* c, int64_t ldc, bool accumulate);
  // s[i][j] = exp(s[i][j] - sub[i]) for j < n; rowSum[i] = the row's sum unless rowSum is null.
  void (*expRows)(float* s, int64_t lds, int64_t m, int64_t n, const float* sub, float* rowSum);
};

const AttnTilesF* attnTilesAvx512();
const AttnTilesF* attnTilesAvx2();

}  // namespace iv
