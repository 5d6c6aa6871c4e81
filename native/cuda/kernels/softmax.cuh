// Softmax launchers (softmax.cu) on contiguous [outer, K, inner] views, called by
// binding/softmax.cc with checked arguments.
#pragma once
#include "../common.h"

namespace iv {
namespace cuda {

void launchSoftmaxForward(Dt dtype, const void* x, void* y, int64_t outer, int64_t K, int64_t inner, bool log);
void launchSoftmaxBackward(Dt dtype, const void* g, const void* y, void* d, int64_t outer, int64_t K, int64_t inner,
                           bool log);

}  // namespace cuda
}  // namespace iv
