// Elementwise launchers (elementwise.cu), called by binding/elementwise.cc with arguments
// already checked (shapes, dtypes, bounds); each enqueues on stream(), checks the launch and
// throws CudaError naming the op. L holds the output's and the inputs' strides (output
// first), n = numel > 0.
#pragma once
#include "../common.h"
#include "../../binding/ops.h"

namespace iv {
namespace cuda {

void launchUnary(U op, Dt dtype, const Layout& L, int64_t n, void* out, const void* x, double a, double b);
void launchBinary(B op, Dt dtype, const Layout& L, int64_t n, void* out, const void* a, const void* b, double alpha);
void launchWhere(Dt dtype, const Layout& L, int64_t n, void* out, const void* cond, const void* a, const void* b);
void launchCopy(Dt outType, Dt srcType, const Layout& L, int64_t n, void* out, const void* src);
void launchFill(Dt dtype, const Layout& L, int64_t n, void* out, double value);

}  // namespace cuda
}  // namespace iv
