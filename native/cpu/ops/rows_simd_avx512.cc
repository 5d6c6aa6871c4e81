// AVX512 copy of the vector row primitives (rows_simd.inc).
#define IV_VEC_FLOATS 16
#include "rows_simd.inc"

namespace iv {
const RowsSimd* rowsSimdAvx512() { return &kRows; }
}  // namespace iv
