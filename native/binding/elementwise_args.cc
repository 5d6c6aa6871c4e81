#include "elementwise_args.h"
#include <string>

namespace iv {
namespace {

#define IV_NAME(name) #name,
const char* const kUnaryNames[] = {IV_UNARY_OPS(IV_NAME)};
const char* const kBinaryNames[] = {IV_BINARY_OPS(IV_NAME)};
#undef IV_NAME

template <class E, size_t N>
E opNamed(Args& args, const char* const (&names)[N], const char* kind, std::string& name) {
  name = args.string(0, "op");
  E op;
  if (!parseOp(name.c_str(), names, static_cast<int>(N), op))
    args.fail(std::string("unknown ") + kind + " '" + name + "'");
  return op;
}

}  // namespace

void checkSameShape(Args& args, const TensorArg& out, const TensorArg& t, const char* name) {
  if (t.shape != out.shape)
    args.fail(std::string("argument '") + name + "' has shape " + t.shapeString() + " but the output has shape " +
              out.shapeString() + " (broadcast inputs before the call)");
}

UnaryArgs parseUnaryArgs(Args& args) {
  UnaryArgs u;
  std::string name;
  u.op = opNamed<U>(args, kUnaryNames, "unary op", name);
  u.out = args.tensor(1, "out"), u.x = args.tensor(2, "x");
  u.a = args.number(3, "a"), u.b = args.number(4, "b");
  checkSameShape(args, u.out, u.x, "x");
  if (u.out.dtype != u.x.dtype)
    args.fail(std::string("dtype mismatch: out is ") + dtypeName(u.out.dtype) + ", x is " + dtypeName(u.x.dtype));
  const DType d = u.x.dtype;
  if (u.out.numel() > 0 && !isFloat(d) && (!intUnaryOk(u.op) || (d != DType::int32 && u.op == U::neg)))
    args.fail("op '" + name + (d == DType::int32 ? "' needs a floating-point tensor, got int32"
                                                 : std::string("' is not defined for ") + dtypeName(d)));
  return u;
}

BinaryArgs parseBinaryArgs(Args& args) {
  BinaryArgs v;
  std::string name;
  v.op = opNamed<B>(args, kBinaryNames, "binary op", name);
  v.out = args.tensor(1, "out"), v.a = args.tensor(2, "a"), v.b = args.tensor(3, "b");
  v.alpha = args.number(4, "alpha");
  checkSameShape(args, v.out, v.a, "a");
  checkSameShape(args, v.out, v.b, "b");
  if (v.a.dtype != v.b.dtype)
    args.fail(std::string("dtype mismatch: a is ") + dtypeName(v.a.dtype) + ", b is " + dtypeName(v.b.dtype));
  const bool cmp = isComparison(v.op);
  if (cmp ? v.out.dtype != DType::boolean : v.out.dtype != v.a.dtype)
    args.fail(std::string("output dtype ") + dtypeName(v.out.dtype) + " does not fit op '" + name + "' on " +
              dtypeName(v.a.dtype));
  if (v.out.numel() > 0 && !isFloat(v.a.dtype) && !cmp && (isGradOp(v.op) || v.op == B::pow || v.op == B::atan2))
    args.fail("op '" + name + "' needs floating-point tensors, got " + dtypeName(v.a.dtype));
  return v;
}

WhereArgs parseWhereArgs(Args& args) {
  WhereArgs w;
  w.out = args.tensor(0, "out"), w.condition = args.tensor(1, "condition");
  w.a = args.tensor(2, "a"), w.b = args.tensor(3, "b");
  checkSameShape(args, w.out, w.condition, "condition");
  checkSameShape(args, w.out, w.a, "a");
  checkSameShape(args, w.out, w.b, "b");
  if (w.condition.dtype != DType::boolean && w.condition.dtype != DType::uint8) args.fail("condition must be bool");
  if (w.a.dtype != w.out.dtype || w.b.dtype != w.out.dtype) args.fail("a, b and out must share a dtype");
  return w;
}

CopyArgs parseCopyArgs(Args& args) {
  CopyArgs c;
  c.out = args.tensor(0, "out"), c.src = args.tensor(1, "src");
  checkSameShape(args, c.out, c.src, "src");
  return c;
}

FillArgs parseFillArgs(Args& args) {
  FillArgs f;
  f.out = args.tensor(0, "out");
  f.value = args.number(1, "value");
  return f;
}

}  // namespace iv
