// The CUDA addon's batch, layer and group norm entry points (arguments parsed by
// native/binding/norm_args.cc, as for native/cpu/ops/norm.cc), descriptors holding device
// handles. The launchers are kernels/norm.cu (batch, group) and kernels/norm_layer.cu.
#include "../../binding/norm_args.h"
#include "../../binding/registry.h"
#include "../allocator.h"
#include "../kernels/norm.cuh"
#include "device_args.h"

namespace iv::cuda {
namespace {

// The op layer applies a batch norm's activation as an op of its own on CUDA tensors.
constexpr const char* kNoFusedActivation = "the CUDA kernels fuse no activation: pass 'none'";

ChanVec chan(const TensorArg& t, bool present) { return present ? ChanVec{t.data, t.strides[0]} : ChanVec{nullptr, 0}; }

Napi::Value batchNormForward(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "batchNormForward", 12);
  const NormForwardArgs a = parseBatchNormForwardArgs(args);
  if (a.act != Act::none) args.fail(kNoFusedActivation);
  const TensorArg& x = a.x;
  if (x.shape[1] == 0) return info.Env().Undefined();
  batchNormForwardLaunch(dt(x.dtype), x.shape[0], x.shape[1], x.shape[2], x.data, a.out.data,
                         chan(a.weight, a.hasWeight), chan(a.bias, a.hasBias), chan(a.runningMean, a.hasRunning),
                         chan(a.runningVar, a.hasRunning), a.saveMean.data, a.saveStat.data, a.training, a.momentum,
                         a.eps);
  return info.Env().Undefined();
}

Napi::Value batchNormBackward(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "batchNormBackward", 11);
  const NormBackwardArgs a = parseBatchNormBackwardArgs(args);
  if (a.act != Act::none) args.fail(kNoFusedActivation);
  const TensorArg& x = a.x;
  if (x.shape[1] == 0) return info.Env().Undefined();
  batchNormBackwardLaunch(dt(x.dtype), x.shape[0], x.shape[1], x.shape[2], a.gradX.data,
                          chan(a.gradWeight, a.wantWeight), chan(a.gradBias, a.wantBias), a.grad.data, x.data,
                          chan(a.weight, a.hasWeight), a.saveMean.data, a.saveStat.data, a.training);
  return info.Env().Undefined();
}

Napi::Value layerNormForward(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "layerNormForward", 7);
  const NormForwardArgs a = parseLayerNormForwardArgs(args);
  const int64_t M = a.x.shape[0], K = a.x.shape[1];
  if (M == 0) return info.Env().Undefined();
  requireGridRows(args, M);
  const ChanVec w = chan(a.weight, a.hasWeight), b = chan(a.bias, a.hasBias);
  launchLayerNormForward(dt(a.x.dtype), a.x.data, a.out.data, w.p, w.stride, b.p, b.stride, a.saveMean.data,
                         a.saveStat.data, M, K, a.eps);
  return info.Env().Undefined();
}

Napi::Value layerNormBackward(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "layerNormBackward", 8);
  const NormBackwardArgs a = parseLayerNormBackwardArgs(args);
  const int64_t M = a.x.shape[0], K = a.x.shape[1];
  requireGridRows(args, M);
  const ChanVec gw = chan(a.gradWeight, a.wantWeight), gb = chan(a.gradBias, a.wantBias);
  const ChanVec w = chan(a.weight, a.hasWeight);
  launchLayerNormBackward(dt(a.x.dtype), a.gradX.data, gw.p, gw.stride, gb.p, gb.stride, a.grad.data, a.x.data, w.p,
                          w.stride, a.saveMean.data, a.saveStat.data, M, K);
  return info.Env().Undefined();
}

Napi::Value groupNormForward(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "groupNormForward", 8);
  const NormForwardArgs a = parseGroupNormForwardArgs(args);
  const TensorArg& x = a.x;
  if (x.shape[0] == 0) return info.Env().Undefined();
  groupNormForwardLaunch(dt(x.dtype), x.shape[0], x.shape[1], x.shape[2], a.groups, x.data, a.out.data,
                         chan(a.weight, a.hasWeight), chan(a.bias, a.hasBias), a.saveMean.data, a.saveStat.data,
                         a.eps);
  return info.Env().Undefined();
}

Napi::Value groupNormBackward(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "groupNormBackward", 9);
  const NormBackwardArgs a = parseGroupNormBackwardArgs(args);
  const TensorArg& x = a.x;
  const int64_t N = x.shape[0], C = x.shape[1];
  if (N * C == 0) return info.Env().Undefined();
  // Per (n, c) sums of g and g * x; the block goes back to the cache after the launches
  // are queued, and the one stream orders any reuse after them.
  ScopedBlock sums(sizeof(double) * 2 * static_cast<size_t>(N * C), "groupNormBackward");
  groupNormBackwardLaunch(dt(x.dtype), N, C, x.shape[2], a.groups, a.gradX.data, chan(a.gradWeight, a.wantWeight),
                          chan(a.gradBias, a.wantBias), a.grad.data, x.data, chan(a.weight, a.hasWeight),
                          a.saveMean.data, a.saveStat.data, sums.as<double>());
  return info.Env().Undefined();
}

}  // namespace

IV_EXPORT("batchNormForward", batchNormForward);
IV_EXPORT("batchNormBackward", batchNormBackward);
IV_EXPORT("layerNormForward", layerNormForward);
IV_EXPORT("layerNormBackward", layerNormBackward);
IV_EXPORT("groupNormForward", groupNormForward);
IV_EXPORT("groupNormBackward", groupNormBackward);

}  // namespace iv::cuda
