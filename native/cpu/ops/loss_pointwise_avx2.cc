// AVX2 copy of the fused elementwise losses' float32 sweeps (loss_pointwise.inc).
#define IV_VEC_FLOATS 8
#include "loss_pointwise.inc"

namespace iv {
const PointwiseLossF* pointwiseLossAvx2() {
  static const PointwiseLossF sweeps = {lossRangeF, gradRangeF};
  return &sweeps;
}
}  // namespace iv
