// The float32 softmax and log-softmax sweeps (softmax.cc), compiled once per instruction set
// from softmax_kernels.inc (softmax_avx512.cc, softmax_avx2.cc and a baseline copy in
// softmax.cc). Plain function pointers, so no inline code crosses between the
// instruction-set libraries.
#pragma once
#include <cstdint>

namespace iv {

// Width, in floats, of the block of inner positions one column sweep reduces together.
constexpr int64_t kSoftmaxColumns = 64;

struct SoftmaxKernelsF {
  // Rows [r0, r1) of a [rows, K] softmax (log: log-softmax) along K.
  void (*forwardRows)(const float* x, float* y, int64_t r0, int64_t r1, int64_t K, bool log);
  // Their gradient from the forward's output y: softmax dx = y (g - sum(g y)),
  // log-softmax dx = g - exp(y) sum(g).
  void (*backwardRows)(const float* g, const float* y, float* dx, int64_t r0, int64_t r1, int64_t K, bool log);
  // The same along K of a [K, inner] slab (stride inner between k), for the n <=
  // kSoftmaxColumns inner positions starting at the pointers.
  void (*forwardColumns)(const float* x, float* y, int64_t K, int64_t inner, int64_t n, bool log);
  void (*backwardColumns)(const float* g, const float* y, float* dx, int64_t K, int64_t inner, int64_t n, bool log);
};

const SoftmaxKernelsF* softmaxKernelsAvx512();
const SoftmaxKernelsF* softmaxKernelsAvx2();

}  // namespace iv
