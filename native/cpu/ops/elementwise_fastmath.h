// Vectorised float32 activations (elementwise_fastmath.cc) for contiguous rows.
#pragma once
#include <stdint.h>

namespace iv {
namespace fastmath {

void gelu(const float* x, float* y, int64_t n);
void geluGrad(const float* x, const float* g, float* out, int64_t n);
void sigmoid(const float* x, float* y, int64_t n);
void silu(const float* x, float* y, int64_t n);
void siluGrad(const float* x, const float* g, float* out, int64_t n);
void exp(const float* x, float* y, int64_t n);

}  // namespace fastmath
}  // namespace iv
