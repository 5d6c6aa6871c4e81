// AVX2 copy of the vector row primitives (rows_simd.inc).
#define IV_VEC_FLOATS 8
#include "rows_simd.inc"

namespace iv {
const RowsSimd* rowsSimdAvx2() { return &kRows; }
}  // namespace iv
