// The op vocabulary of the elementwise and reduction kernels, CPU and CUDA, as X-lists so
// that the name parser (elementwise_args.cc, reduce_args.cc) and each kernel dispatch share
// one order. No napi.h here, so nvcc can include it.
#pragma once
#include <cstdint>
#include <cstring>

namespace iv {

#define IV_UNARY_OPS(X)                                                                                             \
  X(neg) X(abs) X(exp) X(log) X(sqrt) X(rsqrt) X(tanh) X(sigmoid) X(relu) X(gelu) X(geluTanh) X(silu) X(hardsigmoid) \
  X(hardswish) X(clamp) X(sign) X(square) X(reciprocal) X(powScalar) X(leakyRelu) X(sin) X(cos) X(floor) X(ceil)    \
  X(round) X(log1p) X(expm1) X(logicalNot)

#define IV_BINARY_OPS(X)                                                                                              \
  X(add) X(sub) X(mul) X(div) X(pow) X(maximum) X(minimum) X(eq) X(ne) X(lt) X(le) X(gt) X(ge) X(logicalAnd)          \
  X(logicalOr) X(reluGrad) X(geluGrad) X(geluTanhGrad) X(siluGrad) X(sigmoidGrad) X(tanhGrad) X(hardsigmoidGrad)      \
  X(hardswishGrad) X(leakyReluGrad) X(atan2) X(remainder)

#define IV_REDUCE_OPS(X) X(sum) X(mean) X(max) X(min) X(argmax) X(argmin) X(logsumexp) X(var) X(prod)

#define IV_ENUM_ENTRY(name) name,
enum class U : int { IV_UNARY_OPS(IV_ENUM_ENTRY) };
enum class B : int { IV_BINARY_OPS(IV_ENUM_ENTRY) };
enum class R : int { IV_REDUCE_OPS(IV_ENUM_ENTRY) };
#undef IV_ENUM_ENTRY

inline bool isComparison(B op) {
  return op == B::eq || op == B::ne || op == B::lt || op == B::le || op == B::gt || op == B::ge ||
         op == B::logicalAnd || op == B::logicalOr;
}
inline bool isGradOp(B op) { return op >= B::reluGrad && op <= B::leakyReluGrad; }
// Integer unary ops are the ones with an exact integer meaning (uint8 also lacks neg).
inline bool intUnaryOk(U op) {
  return op == U::neg || op == U::abs || op == U::clamp || op == U::sign || op == U::square || op == U::relu ||
         op == U::logicalNot;
}
template <class E>
bool parseOp(const char* name, const char* const* names, int count, E& out) {
  for (int i = 0; i < count; i++)
    if (std::strcmp(name, names[i]) == 0) {
      out = static_cast<E>(i);
      return true;
    }
  return false;
}

}  // namespace iv
