// Argument lists of the cross-entropy entry points, parsed once for the CPU and CUDA addons.
// logits a contiguous float [N, C, S] view; target int32 [N, S] class indices or a
// probability tensor like logits; optional class weights [C] of any stride. The range of
// class-index targets is each backend's to check (the CUDA one checks on the device).
#pragma once
#include <cstdint>
#include "args.h"

namespace iv {

struct CrossEntropyArgs {
  TensorArg logits, target, weight;  // weight.data null when absent
  int64_t N, C, S;
  bool probs;  // probability targets
  int64_t ignoreIndex;
  double labelSmoothing;
};

// crossEntropyForward(loss, lse, logits, target, weight | null, ignoreIndex, labelSmoothing)
struct CrossEntropyForwardArgs : CrossEntropyArgs {
  TensorArg loss, lse;
};
CrossEntropyForwardArgs parseCrossEntropyForwardArgs(Args& args);

// crossEntropyBackward(gradLogits, logits, target, weight | null, lse, gradLoss, scale, ignoreIndex,
// labelSmoothing). gradLoss is an [N, S] view of any strides (0 where a reduction broadcast it).
struct CrossEntropyBackwardArgs : CrossEntropyArgs {
  TensorArg gradLogits, lse, gradLoss;
  double scale;
};
CrossEntropyBackwardArgs parseCrossEntropyBackwardArgs(Args& args);

}  // namespace iv
