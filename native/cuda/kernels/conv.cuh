// Convolution launchers (conv.cu), called by binding/conv.cc with checked arguments.
// act: an Act code (native/cpu/ops/conv.h).
#pragma once
#include "../../cpu/ops/conv.h"
#include "../common.h"

namespace iv {
namespace cuda {

void convForward(Dt dt, const ConvGeom& g, const void* x, const void* w, const void* bias, void* y, void* pre,
                 int act);
void convBackwardInput(Dt dt, const ConvGeom& g, const void* gy, const void* w, void* gx);
void convBackwardWeight(Dt dt, const ConvGeom& g, const void* gy, const void* x, void* gw, void* gb);

}  // namespace cuda
}  // namespace iv
