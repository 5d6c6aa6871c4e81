// Argument checks for 2-d pooling, shared by the CPU and CUDA entry points so that both
// accept the same calls and refuse the rest with the same messages.
#pragma once
#include <cstdint>
#include "args.h"
#include "pool_geometry.h"

namespace iv {

// PyTorch's pooling_output_shape: in ceil mode the last window must start inside the input
// or the left padding.
int64_t pooledSize(int64_t in, int64_t k, int64_t p, int64_t s, int64_t d, bool ceil);

// Both 4-d float tensors, contiguous, one dtype, the same batch and channels.
void checkPoolPair(Args& args, const TensorArg& in, const char* inName, const TensorArg& out, const char* outName);

// Max pooling: params [kh, kw, sh, sw, ph, pw, dh, dw] at argument `at`; `in` input-shaped,
// `out` output-shaped.
PoolGeometry parseMaxPoolArgs(Args& args, size_t at, bool ceil, const TensorArg& in, const char* inName,
                              const TensorArg& out, const char* outName);

// Average pooling: params [kh, kw, sh, sw, ph, pw] at argument 2, then ceilMode,
// countIncludePad and divisorOverride (0 for none).
PoolGeometry parseAvgPoolArgs(Args& args, const TensorArg& in, const char* inName, const TensorArg& out,
                              const char* outName, bool& includePad, int64_t& div);

// maxPool2d(out, indices, x, params, ceilMode): indices int32, shaped like out.
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

// Adaptive average pooling: positive spatial sizes; planes and sizes only.
PoolGeometry parseAdaptivePoolArgs(Args& args, const TensorArg& in, const char* inName, const TensorArg& out,
                                   const char* outName);

}  // namespace iv
