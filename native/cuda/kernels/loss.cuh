// Cross-entropy launchers (loss.cu), called by binding/loss.cc with checked arguments.
#pragma once
#include "../common.h"

namespace iv {
namespace cuda {

// Checks class-index targets on the device (one synchronisation): returns the summed weight
// of the non-ignored ones, with `bad` the number out of range and `firstBad` one of them.
double ceTargets(const int32_t* t, int64_t n, int64_t C, int64_t ignore, const void* w, int64_t ws, bool f32,
                 long long& bad, int& firstBad);
void launchCrossEntropyForward(Dt dtype, int64_t N, int64_t C, int64_t S, bool probs, int64_t ignore,
                               double smoothing, const void* w, int64_t ws, const void* x, const void* target,
                               void* loss, void* lse);
void launchCrossEntropyBackward(Dt dtype, int64_t N, int64_t C, int64_t S, bool probs, int64_t ignore,
                                double smoothing, const void* w, int64_t ws, const void* x, const void* target,
                                const void* lse, const void* gl, int64_t gs0, int64_t gs1, double scale, void* gx);

}  // namespace cuda
}  // namespace iv
