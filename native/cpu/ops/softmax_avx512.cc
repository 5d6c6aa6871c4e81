// AVX512 copy of the float32 softmax sweeps (softmax_kernels.inc).
#define IV_VEC_FLOATS 16
#include "softmax_kernels.inc"

namespace iv {
const SoftmaxKernelsF* softmaxKernelsAvx512() { return &kSoftmaxKernels; }
}  // namespace iv
