// The argument list of the reduction entry point, parsed once for the CPU and CUDA addons:
// reduce(op, out, x, reduced, correction) reduces the trailing `reduced` dims of x into a
// contiguous out (int32 for argmax/argmin, x's dtype otherwise); correction is var's.
#pragma once
#include <cstdint>
#include "args.h"
#include "ops.h"

namespace iv {

struct ReduceArgs {
  R op;
  TensorArg out, x;
  int64_t reduced;
  double correction;
  int64_t outN, count;  // outputs, and elements reduced into each
};
ReduceArgs parseReduceArgs(Args& args);

inline bool isIndexReduction(R op) { return op == R::argmax || op == R::argmin; }

}  // namespace iv
