// Argument lists of the scaled dot-product attention entry points, parsed once for the CPU
// and CUDA addons. q [B, L, E], k [B, S, E], v [B, S, Ev], all contiguous, one float dtype;
// an optional mask (bool, false = masked, or additive in q's dtype) viewed as [..., L, S]
// whose leading dims hold the B batch entries, any strides.
#pragma once
#include <cstdint>
#include "args.h"

namespace iv {

struct AttentionArgs {
  TensorArg q, k, v, mask;
  bool hasMask = false;
  int64_t B, L, S, E, Ev;
  double scale, dropoutP;
  bool causal;
  uint64_t seed;  // (seedHi << 32) | seedLo
};

// attentionForward(out, lse, q, k, v, mask | null, isCausal, scale, dropoutP, seedLo, seedHi)
struct AttentionForwardArgs : AttentionArgs {
  TensorArg out, lse;
};
AttentionForwardArgs parseAttentionForwardArgs(Args& args);

// attentionBackward(gradQ, gradK, gradV, gradMask | null, gradOut, q, k, v, out, lse, mask | null,
//                   isCausal, scale, dropoutP, seedLo, seedHi); gradMask needs an additive mask.
struct AttentionBackwardArgs : AttentionArgs {
  TensorArg gradQ, gradK, gradV, gradMask, gradOut, out, lse;
  bool wantMaskGrad = false;
};
AttentionBackwardArgs parseAttentionBackwardArgs(Args& args);

}  // namespace iv
