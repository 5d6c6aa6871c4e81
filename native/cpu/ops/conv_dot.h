// Convolution forward over few output positions as dot products (conv_dot.cc).
#pragma once
#include "conv.h"

namespace iv {

// Where the dot-product lowering is the faster float32 forward (AVX-512, not depthwise, 256+
// output channels per group; at most 64 output positions over the batch with 512+ column-matrix
// rows, or at most 256 with 2048+).
bool dotConvApplies(const ConvGeom& g);
// y = conv(x, w) + bias, then the epilogue (pre and act as conv.h's epilogue); bias and pre may
// be null. Only where dotConvApplies.
void dotConvForward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, float* pre,
                    Act act);

}  // namespace iv
