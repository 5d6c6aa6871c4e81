// Argument lists of the 2-d pooling entry points, parsed once for the CPU and CUDA addons so
// that both accept the same calls and refuse the rest with the same messages. Tensors are
// 4-d float NCHW, contiguous, one dtype; `input` is x or its gradient, `output` the
// pooled tensor or its gradient.
#pragma once
#include <cstdint>
#include "args.h"
#include "pool_geometry.h"

namespace iv {

// maxPool2d(out, indices, x, params [kh, kw, sh, sw, ph, pw, dh, dw], ceilMode): indices
// int32, shaped like out.
struct MaxPool2dArgs {
  TensorArg out, indices, x;
  PoolGeometry geom;
};
MaxPool2dArgs parseMaxPool2dArgs(Args& args);

// maxPool2dBackward(gradInput, gradOutput, indices): the geometry has planes and sizes only
// (the indices locate each maximum).
struct MaxPool2dBackwardArgs {
  TensorArg gradInput, gradOutput, indices;
  PoolGeometry geom;
};
MaxPool2dBackwardArgs parseMaxPool2dBackwardArgs(Args& args);

// avgPool2d(out, x, params [kh, kw, sh, sw, ph, pw], ceilMode, countIncludePad,
// divisorOverride (0 for none)), and avgPool2dBackward(gradInput, gradOutput, ...the same).
struct AvgPool2dArgs {
  TensorArg input, output;
  PoolGeometry geom;
  bool countIncludePad;
  int64_t divisorOverride;
};
AvgPool2dArgs parseAvgPool2dArgs(Args& args, bool backward);

// adaptiveAvgPool2d(out, x) and adaptiveAvgPool2dBackward(gradInput, gradOutput): positive
// spatial sizes; planes and sizes only.
struct AdaptiveAvgPool2dArgs {
  TensorArg input, output;
  PoolGeometry geom;
};
AdaptiveAvgPool2dArgs parseAdaptiveAvgPool2dArgs(Args& args, bool backward);

}  // namespace iv
