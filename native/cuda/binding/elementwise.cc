// The op entry points of the CUDA addon, with the CPU's signatures and checks
// (native/cpu/ops/elementwise.cc, reduce.cc, matmul.cc), descriptors holding device handles.
#include <string>
#include "../../binding/registry.h"
#include "../kernels.h"
#include "device_args.h"

namespace iv {
namespace cuda {
namespace {

#define IV_NAME(name) #name,
const char* const kUnaryNames[] = {IV_UNARY_OPS(IV_NAME)};
const char* const kBinaryNames[] = {IV_BINARY_OPS(IV_NAME)};
const char* const kReduceNames[] = {IV_REDUCE_OPS(IV_NAME)};
#undef IV_NAME

template <class E, size_t N>
E opNamed(Args& args, const char* const (&names)[N], const char* kind) {
  const std::string name = args.string(0, "op");
  E op;
  if (!parseOp(name.c_str(), names, static_cast<int>(N), op)) args.fail(std::string("unknown ") + kind + " '" + name + "'");
  return op;
}

void checkSameShape(Args& args, const TensorArg& out, const TensorArg& t, const char* name) {
  if (t.shape != out.shape)
    args.fail(std::string("argument '") + name + "' has shape " + t.shapeString() + " but the output has shape " +
              out.shapeString() + " (broadcast inputs before the call)");
}

bool isFloat(DType d) { return d == DType::float32 || d == DType::float64; }

Napi::Value unary(const Napi::CallbackInfo& info) {
  Args args(info, "unary", 5);
  const U op = opNamed<U>(args, kUnaryNames, "unary op");
  TensorArg out = deviceTensor(args, info, 1, "out"), x = deviceTensor(args, info, 2, "x");
  const double a = args.number(3, "a"), b = args.number(4, "b");
  checkSameShape(args, out, x, "x");
  if (out.dtype != x.dtype)
    args.fail(std::string("dtype mismatch: out is ") + dtypeName(out.dtype) + ", x is " + dtypeName(x.dtype));
  if (out.numel() == 0) return info.Env().Undefined();
  const bool isU8 = x.dtype == DType::uint8 || x.dtype == DType::boolean;
  if (!isFloat(x.dtype) && (!intUnaryOk(op) || (isU8 && op == U::neg)))
    args.fail("op '" + std::string(kUnaryNames[static_cast<int>(op)]) +
              (x.dtype == DType::int32 ? "' needs a floating-point tensor, got int32"
                                       : std::string("' is not defined for ") + dtypeName(x.dtype)));
  launchUnary(op, dt(x.dtype), layoutOf(out, {&x}), out.numel(), out.data, x.data, a, b);
  return info.Env().Undefined();
}

Napi::Value binary(const Napi::CallbackInfo& info) {
  Args args(info, "binary", 5);
  const B op = opNamed<B>(args, kBinaryNames, "binary op");
  const std::string name = kBinaryNames[static_cast<int>(op)];
  TensorArg out = deviceTensor(args, info, 1, "out"), a = deviceTensor(args, info, 2, "a"),
            b = deviceTensor(args, info, 3, "b");
  const double alpha = args.number(4, "alpha");
  checkSameShape(args, out, a, "a");
  checkSameShape(args, out, b, "b");
  if (a.dtype != b.dtype)
    args.fail(std::string("dtype mismatch: a is ") + dtypeName(a.dtype) + ", b is " + dtypeName(b.dtype));
  const bool cmp = isComparison(op);
  if (cmp ? out.dtype != DType::boolean : out.dtype != a.dtype)
    args.fail(std::string("output dtype ") + dtypeName(out.dtype) + " does not fit op '" + name + "' on " +
              dtypeName(a.dtype));
  if (out.numel() == 0) return info.Env().Undefined();
  if (!isFloat(a.dtype) && !cmp && (isGradOp(op) || op == B::pow || op == B::atan2))
    args.fail("op '" + name + "' needs floating-point tensors, got " + dtypeName(a.dtype));
  launchBinary(op, dt(a.dtype), layoutOf(out, {&a, &b}), out.numel(), out.data, a.data, b.data, alpha);
  return info.Env().Undefined();
}

Napi::Value where(const Napi::CallbackInfo& info) {
  Args args(info, "where", 4);
  TensorArg out = deviceTensor(args, info, 0, "out"), c = deviceTensor(args, info, 1, "condition"),
            a = deviceTensor(args, info, 2, "a"), b = deviceTensor(args, info, 3, "b");
  checkSameShape(args, out, c, "condition");
  checkSameShape(args, out, a, "a");
  checkSameShape(args, out, b, "b");
  if (c.dtype != DType::boolean && c.dtype != DType::uint8) args.fail("condition must be bool");
  if (a.dtype != out.dtype || b.dtype != out.dtype) args.fail("a, b and out must share a dtype");
  if (out.numel() == 0) return info.Env().Undefined();
  launchWhere(dt(out.dtype), layoutOf(out, {&c, &a, &b}), out.numel(), out.data, c.data, a.data, b.data);
  return info.Env().Undefined();
}

Napi::Value copy(const Napi::CallbackInfo& info) {
  Args args(info, "copy", 2);
  TensorArg out = deviceTensor(args, info, 0, "out"), src = deviceTensor(args, info, 1, "src");
  checkSameShape(args, out, src, "src");
  if (out.numel() == 0) return info.Env().Undefined();
  launchCopy(dt(out.dtype), dt(src.dtype), layoutOf(out, {&src}), out.numel(), out.data, src.data);
  return info.Env().Undefined();
}

Napi::Value fill(const Napi::CallbackInfo& info) {
  Args args(info, "fill", 2);
  TensorArg out = deviceTensor(args, info, 0, "out");
  const double v = args.number(1, "value");
  if (out.numel() == 0) return info.Env().Undefined();
  launchFill(dt(out.dtype), layoutOf(out, {}), out.numel(), out.data, v);
  return info.Env().Undefined();
}

Napi::Value reduce(const Napi::CallbackInfo& info) {
  Args args(info, "reduce", 5);
  const R op = opNamed<R>(args, kReduceNames, "reduction");
  const std::string name = kReduceNames[static_cast<int>(op)];
  TensorArg out = deviceTensor(args, info, 1, "out"), x = deviceTensor(args, info, 2, "x");
  const int64_t reduced = args.integer(3, "reduced");
  const double correction = args.number(4, "correction");
  if (reduced < 0 || static_cast<size_t>(reduced) > x.shape.size())
    args.fail("cannot reduce " + std::to_string(reduced) + " trailing dims of a tensor of shape " + x.shapeString());
  const size_t keep = x.shape.size() - static_cast<size_t>(reduced);
  int64_t outN = 1, count = 1;
  for (size_t d = 0; d < x.shape.size(); d++) (d < keep ? outN : count) *= x.shape[d];
  if (out.numel() != outN || !out.contiguous())
    args.fail("output must be contiguous with " + std::to_string(outN) + " elements, got shape " + out.shapeString());
  if (count == 0 && op != R::sum && op != R::prod && op != R::mean)
    args.fail(name + " of an empty reduction is not defined (input shape " + x.shapeString() + ")");
  const bool index = op == R::argmax || op == R::argmin;
  if (index ? out.dtype != DType::int32 : out.dtype != x.dtype)
    args.fail(std::string("output dtype ") + dtypeName(out.dtype) + " does not fit " + name + " of " + dtypeName(x.dtype));
  if (outN == 0) return info.Env().Undefined();
  if (!isFloat(x.dtype) && (op == R::mean || op == R::logsumexp || op == R::var))
    args.fail(name + " needs a floating-point tensor, got " + dtypeName(x.dtype));
  // Kept dims: operand 0 is the contiguous output, operand 1 x; reduced dims: x alone.
  std::vector<int64_t> keepShape(x.shape.begin(), x.shape.begin() + keep);
  std::vector<int64_t> outStrides(keep);
  for (int64_t s = 1, d = static_cast<int64_t>(keep) - 1; d >= 0; d--) {
    outStrides[d] = s;
    s *= keepShape[d];
  }
  const int64_t* outerStrides[] = {outStrides.data(), x.strides.data()};
  const int64_t* innerStrides[] = {x.strides.data() + keep};
  const Layout outer = makeLayout(static_cast<int>(keep), keepShape.data(), outerStrides, 2);
  const Layout inner = makeLayout(static_cast<int>(reduced), x.shape.data() + keep, innerStrides, 1);
  launchReduce(op, dt(x.dtype), outer, inner, outN, count, out.data, x.data, correction);
  return info.Env().Undefined();
}

// As native/cpu/ops/matmul.cc: a unit stride in either of the last two dims maps to a
// (transposed) GEMM operand without a copy.
GemmOperand asOperand(Args& args, const TensorArg& t, const char* name) {
  const int64_t rows = t.shape[1], cols = t.shape[2];
  const int64_t sr = t.strides[1], sc = t.strides[2];
  if (sc == 1 || cols == 1) return {t.data, false, rows == 1 ? std::max<int64_t>(cols, 1) : sr, t.strides[0]};
  if (sr == 1 || rows == 1) return {t.data, true, cols == 1 ? std::max<int64_t>(rows, 1) : sc, t.strides[0]};
  args.fail(std::string("argument '") + name + "' needs a unit stride in one of its last two dims (make it contiguous)");
}

struct MatmulArgs {
  TensorArg out, a, b, bias;
  bool hasBias;
  int64_t B, M, N, K;
};

MatmulArgs matmulArgs(Args& args, const Napi::CallbackInfo& info, bool floatOnly) {
  MatmulArgs m;
  m.out = deviceTensor(args, info, 0, "out");
  m.a = deviceTensor(args, info, 1, "a");
  m.b = deviceTensor(args, info, 2, "b");
  m.hasBias = !args.isNullish(3);
  if (m.hasBias) m.bias = deviceTensor(args, info, 3, "bias");
  const TensorArg &out = m.out, &a = m.a, &b = m.b;
  if (a.shape.size() != 3 || b.shape.size() != 3 || out.shape.size() != 3)
    args.fail("a, b and out must be 3-d [batch, rows, cols], got a " + a.shapeString() + ", b " + b.shapeString() +
              ", out " + out.shapeString());
  m.B = out.shape[0], m.M = out.shape[1], m.N = out.shape[2], m.K = a.shape[2];
  if (a.shape[0] != m.B || b.shape[0] != m.B || a.shape[1] != m.M || b.shape[1] != m.K || b.shape[2] != m.N)
    args.fail("shapes do not chain: a " + a.shapeString() + " @ b " + b.shapeString() + " -> out " + out.shapeString());
  const bool dtypeOk = floatOnly ? a.dtype == DType::float32 : isFloat(a.dtype);
  if (a.dtype != b.dtype || a.dtype != out.dtype || !dtypeOk)
    args.fail(std::string("a, b and out must share a ") + (floatOnly ? "float32" : "float") + " dtype, got " +
              dtypeName(a.dtype) + ", " + dtypeName(b.dtype) + ", " + dtypeName(out.dtype));
  if (out.strides[2] != 1 || out.strides[1] != m.N || (m.B > 1 && out.strides[0] != m.M * m.N))
    args.fail("out must be contiguous, shape " + out.shapeString());
  if (m.hasBias && (m.bias.shape.size() != 1 || m.bias.shape[0] != m.N || m.bias.dtype != out.dtype))
    args.fail("bias must be 1-d of length " + std::to_string(m.N) + " and dtype " + dtypeName(out.dtype) + ", got " +
              m.bias.shapeString());
  return m;
}

Napi::Value matmul(const Napi::CallbackInfo& info) {
  Args args(info, "matmul", 4);
  MatmulArgs m = matmulArgs(args, info, false);
  if (m.B * m.M * m.N == 0) return info.Env().Undefined();
  const GemmOperand oa = asOperand(args, m.a, "a"), ob = asOperand(args, m.b, "b");
  const int64_t biasStride = m.hasBias ? m.bias.strides[0] : 0;
  if (m.a.dtype == DType::float32)
    gemmF32(m.B, m.M, m.N, m.K, oa, ob, m.out.ptr<float>(), m.hasBias ? m.bias.ptr<float>() : nullptr, biasStride);
  else
    gemmF64(m.B, m.M, m.N, m.K, oa, ob, m.out.ptr<double>(), m.hasBias ? m.bias.ptr<double>() : nullptr, biasStride);
  return info.Env().Undefined();
}

// matmul's contract with float32 tensors, computed from their bf16 roundings on the
// tensor cores (float32 accumulation).
Napi::Value gemmBf16Export(const Napi::CallbackInfo& info) {
  Args args(info, "gemmBf16", 4);
  MatmulArgs m = matmulArgs(args, info, true);
  if (m.B * m.M * m.N == 0) return info.Env().Undefined();
  const GemmOperand oa = asOperand(args, m.a, "a"), ob = asOperand(args, m.b, "b");
  gemmBf16(m.B, m.M, m.N, m.K, oa, ob, m.out.ptr<float>(), m.hasBias ? m.bias.ptr<float>() : nullptr,
           m.hasBias ? m.bias.strides[0] : 0);
  return info.Env().Undefined();
}

Napi::Value timeGemmBf16Export(const Napi::CallbackInfo& info) {
  Args args(info, "timeGemmBf16", 4);
  const int64_t M = args.integer(0, "m"), N = args.integer(1, "n"), K = args.integer(2, "k");
  const int64_t iters = args.integer(3, "iters");
  if (M < 1 || N < 1 || K < 1 || iters < 1) args.fail("m, n, k and iters must be positive");
  return Napi::Number::New(info.Env(), timeGemmBf16(M, N, K, static_cast<int>(iters)));
}

}  // namespace

IV_EXPORT("unary", unary);
IV_EXPORT("binary", binary);
IV_EXPORT("where", where);
IV_EXPORT("copy", copy);
IV_EXPORT("fill", fill);
IV_EXPORT("reduce", reduce);
IV_EXPORT("matmul", matmul);
IV_EXPORT("gemmBf16", gemmBf16Export);
IV_EXPORT("timeGemmBf16", timeGemmBf16Export);

}  // namespace cuda
}  // namespace iv
