// The CUDA addon's cross-entropy entry points (arguments parsed by native/binding/loss_args.cc,
// as for native/cpu/ops/loss.cc), descriptors holding device handles. The launchers are
// kernels/loss.cu.
#include <string>
#include "../../binding/loss_args.h"
#include "../../binding/registry.h"
#include "../kernels/loss.cuh"
#include "device_args.h"

namespace iv::cuda {
namespace {

// Returns the 'mean' denominator, as the CPU (targets are checked on the device: one sync).
Napi::Value crossEntropyForward(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "crossEntropyForward", 7);
  const CrossEntropyForwardArgs a = parseCrossEntropyForwardArgs(args);
  requireGridRows(args, a.N * a.S);
  const int64_t ws = a.weight.data ? a.weight.strides[0] : 0;
  double denom = static_cast<double>(a.N * a.S);
  if (!a.probs) {
    long long bad = 0;
    int first = 0;
    denom = ceTargets(a.target.ptr<int32_t>(), a.N * a.S, a.C, a.ignoreIndex, a.weight.data, ws,
                      a.logits.dtype == DType::float32, bad, first);
    if (bad > 0)
      args.fail("target " + std::to_string(first) + " is out of range for " + std::to_string(a.C) +
                " classes (ignoreIndex " + std::to_string(a.ignoreIndex) + ")");
  }
  launchCrossEntropyForward(dt(a.logits.dtype), a.N, a.C, a.S, a.probs, a.ignoreIndex, a.labelSmoothing, a.weight.data,
                            ws, a.logits.data, a.target.data, a.loss.data, a.lse.data);
  return Napi::Number::New(info.Env(), denom);
}

// Targets out of range (refused by the forward pass) give NaN gradients here rather than a
// second synchronising check.
Napi::Value crossEntropyBackward(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "crossEntropyBackward", 9);
  const CrossEntropyBackwardArgs a = parseCrossEntropyBackwardArgs(args);
  requireGridRows(args, a.N * a.S);
  launchCrossEntropyBackward(dt(a.logits.dtype), a.N, a.C, a.S, a.probs, a.ignoreIndex, a.labelSmoothing,
                             a.weight.data, a.weight.data ? a.weight.strides[0] : 0, a.logits.data, a.target.data,
                             a.lse.data, a.gradLoss.data, a.gradLoss.strides[0], a.gradLoss.strides[1], a.scale,
                             a.gradLogits.data);
  return info.Env().Undefined();
}

}  // namespace

IV_EXPORT("crossEntropyForward", crossEntropyForward);
IV_EXPORT("crossEntropyBackward", crossEntropyBackward);

}  // namespace iv::cuda
