// The CUDA addon's elementwise entry points (arguments parsed by
// native/binding/elementwise_args.cc, as for native/cpu/ops/elementwise.cc), descriptors
// holding device handles. The launchers are kernels/elementwise.cu.
#include "../../binding/elementwise_args.h"
#include "../../binding/registry.h"
#include "../kernels/elementwise.cuh"
#include "device_args.h"

namespace iv::cuda {
namespace {

Napi::Value unary(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "unary", 5);
  const UnaryArgs u = parseUnaryArgs(args);
  if (u.out.numel() == 0) return info.Env().Undefined();
  launchUnary(u.op, dt(u.x.dtype), layoutOf(u.out, {&u.x}), u.out.numel(), u.out.data, u.x.data, u.a, u.b);
  return info.Env().Undefined();
}

Napi::Value binary(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "binary", 5);
  const BinaryArgs v = parseBinaryArgs(args);
  if (v.out.numel() == 0) return info.Env().Undefined();
  launchBinary(v.op, dt(v.a.dtype), layoutOf(v.out, {&v.a, &v.b}), v.out.numel(), v.out.data, v.a.data, v.b.data,
               v.alpha);
  return info.Env().Undefined();
}

Napi::Value where(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "where", 4);
  const WhereArgs w = parseWhereArgs(args);
  if (w.out.numel() == 0) return info.Env().Undefined();
  launchWhere(dt(w.out.dtype), layoutOf(w.out, {&w.condition, &w.a, &w.b}), w.out.numel(), w.out.data,
              w.condition.data, w.a.data, w.b.data);
  return info.Env().Undefined();
}

Napi::Value copy(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "copy", 2);
  const CopyArgs c = parseCopyArgs(args);
  if (c.out.numel() == 0) return info.Env().Undefined();
  launchCopy(dt(c.out.dtype), dt(c.src.dtype), layoutOf(c.out, {&c.src}), c.out.numel(), c.out.data, c.src.data);
  return info.Env().Undefined();
}

Napi::Value fill(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "fill", 2);
  const FillArgs f = parseFillArgs(args);
  if (f.out.numel() == 0) return info.Env().Undefined();
  launchFill(dt(f.out.dtype), layoutOf(f.out, {}), f.out.numel(), f.out.data, f.value);
  return info.Env().Undefined();
}

}  // namespace

IV_EXPORT("unary", unary);
IV_EXPORT("binary", binary);
IV_EXPORT("where", where);
IV_EXPORT("copy", copy);
IV_EXPORT("fill", fill);

}  // namespace iv::cuda
