// The CUDA addon's softmax entry points (arguments parsed by native/binding/softmax_args.cc,
// as for native/cpu/ops/softmax.cc), descriptors holding device handles. The launchers are
// kernels/softmax.cu.
#include "../../binding/registry.h"
#include "../../binding/softmax_args.h"
#include "../kernels/softmax.cuh"
#include "device_args.h"

namespace iv::cuda {
namespace {

Napi::Value softmaxForward(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "softmaxForward", 3);
  const SoftmaxForwardArgs a = parseSoftmaxForwardArgs(args);
  const TensorArg& x = a.x;
  if (x.numel() == 0) return info.Env().Undefined();
  requireGridRows(args, x.shape[0] * x.shape[2]);
  launchSoftmaxForward(dt(x.dtype), x.data, a.out.data, x.shape[0], x.shape[1], x.shape[2], a.log);
  return info.Env().Undefined();
}

Napi::Value softmaxBackward(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "softmaxBackward", 4);
  const SoftmaxBackwardArgs a = parseSoftmaxBackwardArgs(args);
  const TensorArg& y = a.y;
  if (y.numel() == 0) return info.Env().Undefined();
  requireGridRows(args, y.shape[0] * y.shape[2]);
  launchSoftmaxBackward(dt(y.dtype), a.grad.data, y.data, a.gradX.data, y.shape[0], y.shape[1], y.shape[2], a.log);
  return info.Env().Undefined();
}

}  // namespace

IV_EXPORT("softmaxForward", softmaxForward);
IV_EXPORT("softmaxBackward", softmaxBackward);

}  // namespace iv::cuda
