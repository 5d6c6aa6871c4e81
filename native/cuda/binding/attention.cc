// The CUDA addon's attention entry points (arguments parsed by native/binding/attention_args.cc,
// as for native/cpu/ops/attention.cc), descriptors holding device handles. The launchers are
// kernels/attention.cu.
#include <algorithm>
#include <string>
#include "../../binding/attention_args.h"
#include "../../binding/registry.h"
#include "../kernels/attention.cuh"
#include "device_args.h"

namespace iv::cuda {
namespace {

// What the kernels take beyond the shared checks: no dropout, grids within 2^31 blocks, and
// the mask with its size-1 leading dims dropped (at most 14 others).
AttnMask checkedForDevice(Args& args, const AttentionArgs& a) {
  if (a.dropoutP > 0)
    args.fail("dropout on the attention probabilities is not supported on CUDA (dropoutP " +
              std::to_string(a.dropoutP) + ")");
  if (a.B * std::max(a.L, a.S) > 0x7fffffffLL * 64) args.fail("attention problem too large for the CUDA kernels");
  AttnMask M{};
  if (!a.hasMask) return M;
  const TensorArg& m = a.mask;
  const size_t nd = m.shape.size();
  M.p = m.data;
  M.kind = m.dtype == DType::boolean ? 1 : 2;
  M.msL = m.strides[nd - 2];
  M.msS = m.strides[nd - 1];
  for (size_t d = 0; d + 2 < nd; d++) {
    if (m.shape[d] == 1) continue;
    if (M.nb == 14) args.fail("mask " + m.shapeString() + " has more than 14 batch dims");
    M.shape[M.nb] = m.shape[d];
    M.stride[M.nb] = m.strides[d];
    M.nb++;
  }
  return M;
}

Napi::Value attentionForward(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "attentionForward", 11);
  const AttentionForwardArgs a = parseAttentionForwardArgs(args);
  const AttnMask M = checkedForDevice(args, a);
  launchAttentionForward(dt(a.q.dtype), M, a.B, a.L, a.S, a.E, a.Ev, a.scale, a.causal, a.q.data, a.k.data, a.v.data,
                         a.out.data, a.lse.data);
  return info.Env().Undefined();
}

Napi::Value attentionBackward(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "attentionBackward", 16);
  const AttentionBackwardArgs a = parseAttentionBackwardArgs(args);
  const AttnMask M = checkedForDevice(args, a);
  launchAttentionBackward(dt(a.q.dtype), M, a.B, a.L, a.S, a.E, a.Ev, a.scale, a.causal, a.q.data, a.k.data, a.v.data,
                          a.out.data, a.lse.data, a.gradOut.data, a.gradQ.data, a.gradK.data, a.gradV.data,
                          a.wantMaskGrad ? a.gradMask.data : nullptr);
  return info.Env().Undefined();
}

}  // namespace

IV_EXPORT("attentionForward", attentionForward);
IV_EXPORT("attentionBackward", attentionBackward);

}  // namespace iv::cuda
