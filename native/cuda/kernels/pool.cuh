// Pooling launchers (pool.cu), called by binding/pool.cc with checked arguments.
#pragma once
#include "../../binding/pool_geometry.h"
#include "../common.h"

namespace iv {
namespace cuda {

void poolMaxForward(Dt dt, const PoolGeometry& g, const void* x, void* y, int32_t* idx);
void poolMaxBackward(Dt dt, const PoolGeometry& g, const void* gy, const int32_t* idx, void* gx);
void poolAvgForward(Dt dt, const PoolGeometry& g, const void* x, void* y, bool includePad, int64_t div);
void poolAvgBackward(Dt dt, const PoolGeometry& g, const void* gy, void* gx, bool includePad, int64_t div);
void poolAdaptiveForward(Dt dt, const PoolGeometry& g, const void* x, void* y);
void poolAdaptiveBackward(Dt dt, const PoolGeometry& g, const void* gy, void* gx);

}  // namespace cuda
}  // namespace iv
