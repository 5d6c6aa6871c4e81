// Float32 activations on contiguous rows in explicit vectors (vmath.h's exp), compiled per
// instruction set from activation_simd.inc: activation_simd_avx512.cc and
// activation_simd_avx2.cc. Baseline x86-64 keeps the libmvec loops of elementwise_fastmath.cc.
#pragma once
#include <cstdint>

namespace iv {

struct ActivationSimd {
  void (*sigmoid)(const float* x, float* y, int64_t n);
};

const ActivationSimd* activationSimdAvx512();
const ActivationSimd* activationSimdAvx2();

}  // namespace iv
