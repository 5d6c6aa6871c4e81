// Argument lists of the softmax entry points, parsed once for the CPU and CUDA addons:
// contiguous float [outer, K, inner] views, softmax along K.
#pragma once
#include "args.h"

namespace iv {

// softmaxForward(out, x, log)
struct SoftmaxForwardArgs {
  TensorArg out, x;
  bool log;
};
SoftmaxForwardArgs parseSoftmaxForwardArgs(Args& args);

// softmaxBackward(gradX, grad, y, log): y the forward's output.
struct SoftmaxBackwardArgs {
  TensorArg gradX, grad, y;
  bool log;
};
SoftmaxBackwardArgs parseSoftmaxBackwardArgs(Args& args);

// A contiguous tensor of ref's shape and dtype.
void requireLike(const Args& args, const TensorArg& t, const char* name, const TensorArg& ref, const char* refName);

}  // namespace iv
