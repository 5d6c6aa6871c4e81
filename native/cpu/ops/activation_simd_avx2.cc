// AVX2 copy of the vector activations (activation_simd.inc).
#define IV_VEC_FLOATS 8
#include "activation_simd.inc"

namespace iv {
const ActivationSimd* activationSimdAvx2() {
  static const ActivationSimd kernels = {sigmoidRow};
  return &kernels;
}
}  // namespace iv
