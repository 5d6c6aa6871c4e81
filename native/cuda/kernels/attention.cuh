// Attention launchers (attention.cu), called by binding/attention.cc with checked arguments.
#pragma once
#include "../common.h"

namespace iv {
namespace cuda {

// Element (b, i, j) of the mask at p + batchOffset(b) + i * msL + j * msS, the batch offset
// from the mask's leading dims (b split row-major over `shape`; dims of size 1 dropped).
struct AttnMask {
  const void* p;
  int kind;  // 0 none, 1 bool (false = masked), 2 additive
  int nb;
  int64_t msL, msS;
  int64_t shape[14];
  int64_t stride[14];
};

void launchAttentionForward(Dt dtype, const AttnMask& M, int64_t B, int64_t L, int64_t S, int64_t E, int64_t Ev,
                            double scale, bool causal, const void* q, const void* k, const void* v, void* out,
                            void* lse);
void launchAttentionBackward(Dt dtype, const AttnMask& M, int64_t B, int64_t L, int64_t S, int64_t E, int64_t Ev,
                             double scale, bool causal, const void* q, const void* k, const void* v, const void* out,
                             const void* lse, const void* gout, void* dq, void* dk, void* dv, void* dmask);

}  // namespace cuda
}  // namespace iv
