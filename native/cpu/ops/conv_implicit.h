// Implicit-GEMM convolution (conv_implicit.cc).
#pragma once
#include "conv.h"

namespace iv {

// Forward on AVX-512 machines (float32): the micro-kernel reads the column matrix in place.
// Returns false, having done nothing, where it does not apply (depthwise, 1x1, fewer than a
// row tile of output channels per group, negative padding); conv.cc then lowers via im2col.
bool implicitConvForward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, float* pre,
                         Act act);

}  // namespace iv
