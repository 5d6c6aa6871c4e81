#include "reduce_args.h"
#include <string>

namespace iv {

ReduceArgs parseReduceArgs(Args& args) {
#define IV_NAME(name) #name,
  static const char* const names[] = {IV_REDUCE_OPS(IV_NAME)};
#undef IV_NAME
  ReduceArgs r;
  const std::string name = args.string(0, "op");
  if (!parseOp(name.c_str(), names, static_cast<int>(sizeof(names) / sizeof(names[0])), r.op))
    args.fail("unknown reduction '" + name + "'");
  const R op = r.op;
  r.out = args.tensor(1, "out"), r.x = args.tensor(2, "x");
  r.reduced = args.integer(3, "reduced");
  r.correction = args.number(4, "correction");
  const TensorArg &out = r.out, &x = r.x;
  if (r.reduced < 0 || static_cast<size_t>(r.reduced) > x.shape.size())
    args.fail("cannot reduce " + std::to_string(r.reduced) + " trailing dims of a tensor of shape " + x.shapeString());
  const size_t keep = x.shape.size() - static_cast<size_t>(r.reduced);
  r.outN = 1, r.count = 1;
  for (size_t d = 0; d < x.shape.size(); d++) (d < keep ? r.outN : r.count) *= x.shape[d];
  if (out.numel() != r.outN || !out.contiguous())
    args.fail("output must be contiguous with " + std::to_string(r.outN) + " elements, got shape " + out.shapeString());
  if (r.count == 0 && op != R::sum && op != R::prod && op != R::mean)
    args.fail(name + " of an empty reduction is not defined (input shape " + x.shapeString() + ")");
  if (isIndexReduction(op) ? out.dtype != DType::int32 : out.dtype != x.dtype)
    args.fail(std::string("output dtype ") + dtypeName(out.dtype) + " does not fit " + name + " of " +
              dtypeName(x.dtype));
  if (r.outN > 0 && !isFloat(x.dtype) && (op == R::mean || op == R::logsumexp || op == R::var))
    args.fail(name + " needs a floating-point tensor, got " + dtypeName(x.dtype));
  return r;
}

}  // namespace iv
