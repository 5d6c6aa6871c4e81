// AVX2 copy of the widening float32 sum (reduce_sum.inc).
#define IV_VEC_FLOATS 8
#include "reduce_sum.inc"

namespace iv {
double sumFloatsAvx2(const float* p, int64_t n) { return sumWidened(p, n); }
}  // namespace iv
