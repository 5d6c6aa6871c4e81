// Argument lists of the elementwise entry points, parsed once for the CPU and CUDA addons.
// Inputs come broadcast to the output's shape; any strides. The op-against-dtype checks run
// only for a non-empty output, so an empty call is a no-op whatever the op.
#pragma once
#include "args.h"
#include "ops.h"

namespace iv {

// Inputs arrive broadcast: `t` must have the output's shape (the error names `name`).
void checkSameShape(Args& args, const TensorArg& out, const TensorArg& t, const char* name);

// unary(op, out, x, a, b): a and b are the op's scalars (clamp bounds, powScalar's exponent,
// leakyRelu's slope), NaN when unused.
struct UnaryArgs {
  U op;
  TensorArg out, x;
  double a, b;
};
UnaryArgs parseUnaryArgs(Args& args);

// binary(op, out, a, b, alpha): comparisons write bool.
struct BinaryArgs {
  B op;
  TensorArg out, a, b;
  double alpha;
};
BinaryArgs parseBinaryArgs(Args& args);

// where(out, condition, a, b)
struct WhereArgs {
  TensorArg out, condition, a, b;
};
WhereArgs parseWhereArgs(Args& args);

// copy(out, src): any dtypes.
struct CopyArgs {
  TensorArg out, src;
};
CopyArgs parseCopyArgs(Args& args);

// fill(out, value)
struct FillArgs {
  TensorArg out;
  double value;
};
FillArgs parseFillArgs(Args& args);

}  // namespace iv
