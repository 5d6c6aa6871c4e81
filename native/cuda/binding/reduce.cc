// The CUDA addon's reduction entry point (arguments parsed by native/binding/reduce_args.cc,
// as for native/cpu/ops/reduce.cc), descriptors holding device handles. The launcher is
// kernels/reduce.cu.
#include <vector>
#include "../../binding/reduce_args.h"
#include "../../binding/registry.h"
#include "../kernels/reduce.cuh"
#include "device_args.h"

namespace iv::cuda {
namespace {

Napi::Value reduce(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "reduce", 5);
  const ReduceArgs r = parseReduceArgs(args);
  if (r.outN == 0) return info.Env().Undefined();
  const TensorArg& x = r.x;
  const size_t keep = x.shape.size() - static_cast<size_t>(r.reduced);
  // Kept dims: operand 0 is the contiguous output, operand 1 x; reduced dims: x alone.
  std::vector<int64_t> keepShape(x.shape.begin(), x.shape.begin() + keep);
  std::vector<int64_t> outStrides(keep);
  for (int64_t s = 1, d = static_cast<int64_t>(keep) - 1; d >= 0; d--) {
    outStrides[d] = s;
    s *= keepShape[d];
  }
  const int64_t* outerStrides[] = {outStrides.data(), x.strides.data()};
  const int64_t* innerStrides[] = {x.strides.data() + keep};
  const Layout outer = makeLayout(static_cast<int>(keep), keepShape.data(), outerStrides, 2);
  const Layout inner = makeLayout(static_cast<int>(r.reduced), x.shape.data() + keep, innerStrides, 1);
  launchReduce(r.op, dt(x.dtype), outer, inner, r.outN, r.count, r.out.data, x.data, r.correction);
  return info.Env().Undefined();
}

}  // namespace

IV_EXPORT("reduce", reduce);

}  // namespace iv::cuda
