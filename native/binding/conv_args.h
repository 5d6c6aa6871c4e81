// Argument lists of the 2-d convolution entry points, parsed once for the CPU and CUDA
// addons so that both accept the same calls and refuse the rest with the same messages.
#pragma once
#include "../cpu/ops/conv.h"
#include "args.h"

namespace iv {

// conv2d(out, x, weight, bias | null, params, activation, pre | null); bias and pre have a
// null data pointer when absent.
struct Conv2dArgs {
  TensorArg out, x, weight, bias, pre;
  ConvGeom geom;
  Act act;
};
Conv2dArgs parseConv2dArgs(Args& args);

// conv2dBackwardInput(gradInput, gradOutput, weight, params)
struct Conv2dBackwardInputArgs {
  TensorArg gradInput, gradOutput, weight;
  ConvGeom geom;
};
Conv2dBackwardInputArgs parseConv2dBackwardInputArgs(Args& args);

// conv2dBackwardWeight(gradWeight, gradBias | null, gradOutput, x, params)
struct Conv2dBackwardWeightArgs {
  TensorArg gradWeight, gradBias, gradOutput, x;
  ConvGeom geom;
};
Conv2dBackwardWeightArgs parseConv2dBackwardWeightArgs(Args& args);

}  // namespace iv
