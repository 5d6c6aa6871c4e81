// The CUDA addon's convolution entry points (arguments parsed by native/binding/conv_args.cc,
// as for native/cpu/ops/conv.cc), descriptors holding device handles. The launchers are
// kernels/conv.cu.
#include <algorithm>
#include <limits>
#include <string>
#include "../../binding/conv_args.h"
#include "../../binding/registry.h"
#include "../kernels/conv.cuh"
#include "device_args.h"

namespace iv::cuda {
namespace {

// The kernels index in 32 bits.
void requireInt32Index(Args& args, const TensorArg& in, const char* inName, const TensorArg& w, const TensorArg& out,
                       const char* outName) {
  if (std::max({in.numel(), w.numel(), out.numel()}) > std::numeric_limits<int32_t>::max())
    args.fail("tensors of 2^31 or more elements are not supported on CUDA yet (" + std::string(inName) + " " +
              in.shapeString() + ", " + outName + " " + out.shapeString() + ")");
}

Napi::Value conv2d(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "conv2d", 7);
  const Conv2dArgs a = parseConv2dArgs(args);
  requireInt32Index(args, a.x, "x", a.weight, a.out, "out");
  if (a.geom.N == 0) return info.Env().Undefined();
  convForward(dt(a.x.dtype), a.geom, a.x.data, a.weight.data, a.bias.data, a.out.data, a.pre.data,
              static_cast<int>(a.act));
  return info.Env().Undefined();
}

Napi::Value conv2dBackwardInput(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "conv2dBackwardInput", 4);
  const Conv2dBackwardInputArgs a = parseConv2dBackwardInputArgs(args);
  requireInt32Index(args, a.gradInput, "gradInput", a.weight, a.gradOutput, "gradOutput");
  if (a.geom.N == 0) return info.Env().Undefined();
  convBackwardInput(dt(a.gradInput.dtype), a.geom, a.gradOutput.data, a.weight.data, a.gradInput.data);
  return info.Env().Undefined();
}

Napi::Value conv2dBackwardWeight(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "conv2dBackwardWeight", 5);
  const Conv2dBackwardWeightArgs a = parseConv2dBackwardWeightArgs(args);
  requireInt32Index(args, a.x, "x", a.gradWeight, a.gradOutput, "gradOutput");
  convBackwardWeight(dt(a.x.dtype), a.geom, a.gradOutput.data, a.x.data, a.gradWeight.data, a.gradBias.data);
  return info.Env().Undefined();
}

}  // namespace

IV_EXPORT("conv2d", conv2d);
IV_EXPORT("conv2dBackwardInput", conv2dBackwardInput);
IV_EXPORT("conv2dBackwardWeight", conv2dBackwardWeight);

}  // namespace iv::cuda
