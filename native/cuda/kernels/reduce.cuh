// The reduction launcher (reduce.cu), called by binding/reduce.cc with checked arguments.
#pragma once
#include "../common.h"
#include "../../binding/ops.h"

namespace iv {
namespace cuda {

// Reduces `inner` (the trailing dims: strides of x) for each of the outN outputs; `outer`
// holds the kept dims with operand 0 = out (contiguous) and operand 1 = x.
void launchReduce(R op, Dt xType, const Layout& outer, const Layout& inner, int64_t outN, int64_t count,
                  void* out, const void* x, double correction);

}  // namespace cuda
}  // namespace iv
