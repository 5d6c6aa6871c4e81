// Argument lists of the fused optimizer entry points, parsed once for the CPU and CUDA
// addons. Every state tensor matches the parameter's shape and dtype (float32 or float64)
// and is contiguous, because the kernels walk flat memory.
#pragma once
#include <cstdint>
#include "args.h"

namespace iv {

// sgdStep(param, grad, momentumBuffer | null, lr, momentum, dampening, weightDecay, nesterov,
//         maximize, firstStep). The buffer is null exactly when momentum is 0.
struct SgdArgs {
  TensorArg param, grad, momentumBuffer;
  bool hasBuffer = false;
  double lr, momentum, dampening, weightDecay;
  bool nesterov, maximize = false, firstStep;
};
SgdArgs parseSgdArgs(Args& args);

// larsStep(param, grad, momentumBuffer | null, lr, momentum, dampening, weightDecay, nesterov,
//          trustCoefficient, eps, trustClip, adapt, firstStep)
struct LarsArgs : SgdArgs {
  double trustCoefficient, eps;
  bool trustClip, adapt;
};
LarsArgs parseLarsArgs(Args& args);

// adamStep / adamwStep(param, grad, expAvg, expAvgSq, maxExpAvgSq | null, lr, beta1, beta2,
//                      eps, weightDecay, step, maximize). step is the count after this update
// (1 on the first call); amsgrad is on exactly when maxExpAvgSq is given.
struct AdamArgs {
  TensorArg param, grad, expAvg, expAvgSq, maxExpAvgSq;
  bool amsgrad;
  double lr, beta1, beta2, eps, weightDecay;
  int64_t step;
  bool maximize;
};
AdamArgs parseAdamArgs(Args& args);

// emaUpdate(ema, src, decay), decay in [0, 1].
struct EmaArgs {
  TensorArg ema, src;
  double decay;
};
EmaArgs parseEmaArgs(Args& args);

// optimNormPow(x, p), p > 0 or Infinity.
struct NormPowArgs {
  TensorArg x;
  double p;
};
NormPowArgs parseNormPowArgs(Args& args);

// optimScale(x, c), c finite.
struct ScaleArgs {
  TensorArg x;
  double c;
};
ScaleArgs parseScaleArgs(Args& args);

}  // namespace iv
