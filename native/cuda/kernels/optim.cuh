// Fused optimizer launchers (optim.cu), called by binding/optim.cc with checked arguments.
#pragma once
#include "../common.h"

namespace iv {
namespace cuda {

void launchSgd(Dt dtype, void* p, const void* g, void* buf, int64_t n, double gsign, double wd, double mom,
               double damp1, double lr, double trust, bool scaled, bool nesterov, bool first);
void launchAdam(Dt dtype, bool decoupled, void* p, const void* g, void* m, void* v, void* vmax, int64_t n, double lr,
                double b1, double b2, double eps, double wd, int64_t step, bool maximize);
void launchEma(Dt dtype, void* e, const void* x, int64_t n, double decay);
void launchScale(Dt dtype, void* x, int64_t n, double c);
// kind: 0 sum of squares, 1 sum of |x|, 2 sum of |x|^p, 3 max |x| (returned to the host).
double normPow(Dt dtype, const void* x, int64_t n, int kind, double p);

}  // namespace cuda
}  // namespace iv
