// AVX2 copy of the float32 softmax sweeps (softmax_kernels.inc).
#define IV_VEC_FLOATS 8
#include "softmax_kernels.inc"

namespace iv {
const SoftmaxKernelsF* softmaxKernelsAvx2() { return &kSoftmaxKernels; }
}  // namespace iv
