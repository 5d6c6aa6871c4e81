// The CUDA addon's pooling entry points (arguments parsed by native/binding/pool_args.cc, as
// for native/cpu/ops/pool.cc), descriptors holding device handles. The launchers are
// kernels/pool.cu.
#include "../../binding/pool_args.h"
#include "../../binding/registry.h"
#include "../kernels/pool.cuh"
#include "device_args.h"

namespace iv::cuda {
namespace {

Napi::Value maxPool2d(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "maxPool2d", 5);
  const MaxPool2dArgs a = parseMaxPool2dArgs(args);
  poolMaxForward(dt(a.x.dtype), a.geom, a.x.data, a.out.data, a.indices.ptr<int32_t>());
  return info.Env().Undefined();
}

// The CPU rejects an index outside the plane; reading the indices back would cost a sync,
// so here such an index is skipped instead.
Napi::Value maxPool2dBackward(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "maxPool2dBackward", 3);
  const MaxPool2dBackwardArgs a = parseMaxPool2dBackwardArgs(args);
  poolMaxBackward(dt(a.gradInput.dtype), a.geom, a.gradOutput.data, a.indices.ptr<int32_t>(), a.gradInput.data);
  return info.Env().Undefined();
}

Napi::Value avgPool2d(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "avgPool2d", 6);
  const AvgPool2dArgs a = parseAvgPool2dArgs(args, false);
  poolAvgForward(dt(a.input.dtype), a.geom, a.input.data, a.output.data, a.countIncludePad, a.divisorOverride);
  return info.Env().Undefined();
}

Napi::Value avgPool2dBackward(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "avgPool2dBackward", 6);
  const AvgPool2dArgs a = parseAvgPool2dArgs(args, true);
  poolAvgBackward(dt(a.input.dtype), a.geom, a.output.data, a.input.data, a.countIncludePad, a.divisorOverride);
  return info.Env().Undefined();
}

Napi::Value adaptiveAvgPool2d(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "adaptiveAvgPool2d", 2);
  const AdaptiveAvgPool2dArgs a = parseAdaptiveAvgPool2dArgs(args, false);
  poolAdaptiveForward(dt(a.input.dtype), a.geom, a.input.data, a.output.data);
  return info.Env().Undefined();
}

Napi::Value adaptiveAvgPool2dBackward(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "adaptiveAvgPool2dBackward", 2);
  const AdaptiveAvgPool2dArgs a = parseAdaptiveAvgPool2dArgs(args, true);
  poolAdaptiveBackward(dt(a.input.dtype), a.geom, a.output.data, a.input.data);
  return info.Env().Undefined();
}

}  // namespace

IV_EXPORT("maxPool2d", maxPool2d);
IV_EXPORT("maxPool2dBackward", maxPool2dBackward);
IV_EXPORT("avgPool2d", avgPool2d);
IV_EXPORT("avgPool2dBackward", avgPool2dBackward);
IV_EXPORT("adaptiveAvgPool2d", adaptiveAvgPool2d);
IV_EXPORT("adaptiveAvgPool2dBackward", adaptiveAvgPool2dBackward);

}  // namespace iv::cuda
