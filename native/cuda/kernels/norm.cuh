// Normalisation launchers, called by binding/norm.cc with checked arguments: batch and
// group norm (norm.cu) on [N, C, S] views, layer norm (norm_layer.cu) on [M, K] rows.
#pragma once
#include "../common.h"

namespace iv {
namespace cuda {

// An optional per-channel vector: data (null when absent) and its element stride.
struct ChanVec {
  void* p;
  int64_t stride;
};

void batchNormForwardLaunch(Dt dt, int64_t N, int64_t C, int64_t S, const void* x, void* out, ChanVec w, ChanVec b,
                            ChanVec rm, ChanVec rv, void* saveMean, void* saveInvstd, bool training, double momentum,
                            double eps);
void batchNormBackwardLaunch(Dt dt, int64_t N, int64_t C, int64_t S, void* gx, ChanVec gw, ChanVec gb, const void* g,
                             const void* x, ChanVec w, const void* mean, const void* invstd, bool training);
void groupNormForwardLaunch(Dt dt, int64_t N, int64_t C, int64_t S, int64_t G, const void* x, void* out, ChanVec w,
                            ChanVec b, void* saveMean, void* saveRstd, double eps);
// sums: a device workspace of 2 * N * C doubles.
void groupNormBackwardLaunch(Dt dt, int64_t N, int64_t C, int64_t S, int64_t G, void* gx, ChanVec gw, ChanVec gb,
                             const void* g, const void* x, ChanVec w, const void* mean, const void* rstd,
                             double* sums);
void launchLayerNormForward(Dt dtype, const void* x, void* out, const void* w, int64_t ws, const void* b, int64_t bs,
                            void* mean, void* rstd, int64_t M, int64_t K, double eps);
void launchLayerNormBackward(Dt dtype, void* gx, void* gw, int64_t gws, void* gb, int64_t gbs, const void* g,
                             const void* x, const void* w, int64_t ws, const void* mean, const void* rstd, int64_t M,
                             int64_t K);

}  // namespace cuda
}  // namespace iv
