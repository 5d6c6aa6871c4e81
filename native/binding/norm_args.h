// Argument lists of the batch, layer and group norm entry points, parsed once for the CPU
// and CUDA addons. x is a contiguous float view: [N, C, S] for batch and group norm, [M, K]
// for layer norm. Weight, bias and running stats are optional 1-d vectors of any stride;
// an absent one has present = false and a null data pointer.
#pragma once
#include <cstdint>
#include "args.h"

namespace iv {

struct NormForwardArgs {
  TensorArg out, x, weight, bias, runningMean, runningVar, saveMean, saveStat;  // saveStat: invstd or rstd
  bool hasWeight = false, hasBias = false, hasRunning = false;
  int64_t groups = 1;  // group norm
  bool training = true;
  double momentum = 0, eps = 0;
  Act act = Act::none;  // batch norm: applied to the output
};

struct NormBackwardArgs {
  TensorArg gradX, gradWeight, gradBias, grad, x, weight, bias, saveMean, saveStat;
  bool wantX = false, wantWeight = false, wantBias = false, hasWeight = false, hasBias = false;
  int64_t groups = 1;
  bool training = true;
  Act act = Act::none;  // batch norm: the forward's, whose pre-activation comes back from x
};

// batchNormForward(out, x, weight, bias, runningMean, runningVar, saveMean, saveInvstd, training, momentum, eps,
// activation)
NormForwardArgs parseBatchNormForwardArgs(Args& args);
// batchNormBackward(gradX | null, gradWeight | null, gradBias | null, grad, x, weight, saveMean, saveInvstd, training,
// bias, activation)
NormBackwardArgs parseBatchNormBackwardArgs(Args& args);
// layerNormForward(out, x, weight, bias, saveMean, saveRstd, eps)
NormForwardArgs parseLayerNormForwardArgs(Args& args);
// layerNormBackward(gradX | null, gradWeight | null, gradBias | null, grad, x, weight, saveMean, saveRstd)
NormBackwardArgs parseLayerNormBackwardArgs(Args& args);
// groupNormForward(out, x, numGroups, weight, bias, saveMean, saveRstd, eps)
NormForwardArgs parseGroupNormForwardArgs(Args& args);
// groupNormBackward(gradX | null, gradWeight | null, gradBias | null, grad, x, numGroups, weight, saveMean, saveRstd)
NormBackwardArgs parseGroupNormBackwardArgs(Args& args);

}  // namespace iv
