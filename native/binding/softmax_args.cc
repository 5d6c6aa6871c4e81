#include "softmax_args.h"
#include <string>

namespace iv {
namespace {

void requireRows(Args& args, const TensorArg& t, const char* name) {
  if (t.shape.size() != 3 || !t.contiguous() || !isFloat(t.dtype))
    args.fail(std::string("argument '") + name + "' must be a contiguous float [outer, K, inner] tensor, got " +
              dtypeName(t.dtype) + " " + t.shapeString());
}

}  // namespace

void requireLike(const Args& args, const TensorArg& t, const char* name, const TensorArg& ref, const char* refName) {
  if (t.shape != ref.shape || t.dtype != ref.dtype || !t.contiguous())
    args.fail(std::string("argument '") + name + "' must be a contiguous " + dtypeName(ref.dtype) + " tensor of " +
              refName + "'s shape " + ref.shapeString() + ", got " + dtypeName(t.dtype) + " " + t.shapeString() +
              (t.contiguous() ? "" : " (strided)"));
}

SoftmaxForwardArgs parseSoftmaxForwardArgs(Args& args) {
  SoftmaxForwardArgs a;
  a.out = args.tensor(0, "out"), a.x = args.tensor(1, "x");
  a.log = args.boolean(2, "log");
  requireRows(args, a.x, "x");
  requireLike(args, a.out, "out", a.x, "x");
  return a;
}

SoftmaxBackwardArgs parseSoftmaxBackwardArgs(Args& args) {
  SoftmaxBackwardArgs a;
  a.gradX = args.tensor(0, "gradX"), a.grad = args.tensor(1, "grad"), a.y = args.tensor(2, "y");
  a.log = args.boolean(3, "log");
  requireRows(args, a.y, "y");
  requireLike(args, a.grad, "grad", a.y, "y");
  requireLike(args, a.gradX, "gradX", a.y, "y");
  return a;
}

}  // namespace iv
