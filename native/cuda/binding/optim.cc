// The CUDA addon's fused optimizer entry points (arguments parsed by
// native/binding/optim_args.cc, as for native/cpu/ops/optim.cc), descriptors holding device
// handles. The launchers are kernels/optim.cu.
#include <algorithm>
#include <cmath>
#include "../../binding/optim_args.h"
#include "../../binding/registry.h"
#include "../kernels/optim.cuh"
#include "device_args.h"

namespace iv::cuda {
namespace {

Napi::Value sgdStep(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "sgdStep", 10);
  const SgdArgs a = parseSgdArgs(args);
  launchSgd(dt(a.param.dtype), a.param.data, a.grad.data, a.momentumBuffer.data, a.param.numel(),
            a.maximize ? -1.0 : 1.0, a.weightDecay, a.momentum, 1.0 - a.dampening, a.lr, 1.0, false, a.nesterov,
            a.firstStep);
  return info.Env().Undefined();
}

Napi::Value larsStep(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "larsStep", 13);
  const LarsArgs a = parseLarsArgs(args);
  const TensorArg &p = a.param, &g = a.grad;
  double trust = 1.0;
  if (a.adapt && p.numel() > 0) {
    const double wn = std::sqrt(normPow(dt(p.dtype), p.data, p.numel(), 0, 2));
    const double gn = std::sqrt(normPow(dt(g.dtype), g.data, g.numel(), 0, 2));
    if (wn > 0 && gn > 0) trust = a.trustCoefficient * wn / (gn + wn * a.weightDecay + a.eps);
    if (a.trustClip) trust = std::min(trust / a.lr, 1.0);
  }
  launchSgd(dt(p.dtype), p.data, g.data, a.momentumBuffer.data, p.numel(), 1.0, a.weightDecay, a.momentum,
            1.0 - a.dampening, a.lr, trust, a.adapt, a.nesterov, a.firstStep);
  return Napi::Number::New(info.Env(), trust);
}

template <bool Decoupled>
Napi::Value adamStepImpl(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, Decoupled ? "adamwStep" : "adamStep", 12);
  const AdamArgs a = parseAdamArgs(args);
  launchAdam(dt(a.param.dtype), Decoupled, a.param.data, a.grad.data, a.expAvg.data, a.expAvgSq.data,
             a.maxExpAvgSq.data, a.param.numel(), a.lr, a.beta1, a.beta2, a.eps, a.weightDecay, a.step, a.maximize);
  return info.Env().Undefined();
}

Napi::Value adamStep(const Napi::CallbackInfo& info) { return adamStepImpl<false>(info); }
Napi::Value adamwStep(const Napi::CallbackInfo& info) { return adamStepImpl<true>(info); }

Napi::Value emaUpdate(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "emaUpdate", 3);
  const EmaArgs a = parseEmaArgs(args);
  launchEma(dt(a.ema.dtype), a.ema.data, a.src.data, a.ema.numel(), a.decay);
  return info.Env().Undefined();
}

Napi::Value optimNormPow(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "optimNormPow", 2);
  const NormPowArgs a = parseNormPowArgs(args);
  const int kind = std::isinf(a.p) ? 3 : a.p == 2 ? 0 : a.p == 1 ? 1 : 2;
  return Napi::Number::New(info.Env(), normPow(dt(a.x.dtype), a.x.data, a.x.numel(), kind, a.p));
}

Napi::Value optimScale(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "optimScale", 2);
  const ScaleArgs a = parseScaleArgs(args);
  launchScale(dt(a.x.dtype), a.x.data, a.x.numel(), a.c);
  return info.Env().Undefined();
}

}  // namespace

IV_EXPORT("sgdStep", sgdStep);
IV_EXPORT("larsStep", larsStep);
IV_EXPORT("adamStep", adamStep);
IV_EXPORT("adamwStep", adamwStep);
IV_EXPORT("emaUpdate", emaUpdate);
IV_EXPORT("optimNormPow", optimNormPow);
IV_EXPORT("optimScale", optimScale);

}  // namespace iv::cuda
