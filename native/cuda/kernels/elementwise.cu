// Elementwise kernels with the CPU's semantics (native/cpu/ops/elementwise.cc): the same
// formulas, NaN rules and integer behaviour, in float or double as the tensor's dtype.
#include <cmath>
#include <type_traits>
#include "elementwise.cuh"
#include "pointwise.cuh"

namespace iv {
namespace cuda {
namespace {

constexpr double kSqrt1_2 = 0.70710678118654752440;
constexpr double kSqrt2OverPi = 0.79788456080286535588;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

template <class T>
__device__ __forceinline__ T sigmoidOf(T x) {
  return x >= T(0) ? T(1) / (T(1) + exp(-x)) : exp(x) / (T(1) + exp(x));
}
template <class T>
__device__ __forceinline__ T hardsigmoidOf(T x) {
  return x <= T(-3) ? T(0) : x >= T(3) ? T(1) : x / T(6) + T(0.5);
}
template <class T>
__device__ __forceinline__ T geluTanhOf(T x) {
  return T(0.5) * x * (T(1) + tanh(T(kSqrt2OverPi) * (x + T(0.044715) * x * x * x)));
}

template <class T>
__device__ __forceinline__ T applyUnary(U op, T x, double a, double b) {
  switch (op) {
    case U::neg: return -x;
    case U::abs: return x < T(0) ? -x : x;
    case U::exp: return exp(x);
    case U::log: return log(x);
    case U::sqrt: return sqrt(x);
    case U::rsqrt: return T(1) / sqrt(x);
    case U::tanh: return tanh(x);
    case U::sigmoid: return sigmoidOf(x);
    case U::relu: return x > T(0) ? x : T(0);
    case U::gelu: return T(0.5) * x * (T(1) + erf(x * T(kSqrt1_2)));
    case U::geluTanh: return geluTanhOf(x);
    case U::silu: return x * sigmoidOf(x);
    case U::hardsigmoid: return hardsigmoidOf(x);
    case U::hardswish: return x * hardsigmoidOf(x);
    case U::clamp: {
      T y = x;
      if (!isnan(a) && y < T(a)) y = T(a);
      if (!isnan(b) && y > T(b)) y = T(b);
      return y;
    }
    case U::sign: return x > T(0) ? T(1) : x < T(0) ? T(-1) : T(0);
    case U::square: return x * x;
    case U::reciprocal: return T(1) / x;
    case U::powScalar: return a == 2 ? x * x : pow(x, T(a));
    case U::leakyRelu: return x > T(0) ? x : T(a) * x;
    case U::sin: return sin(x);
    case U::cos: return cos(x);
    case U::floor: return floor(x);
    case U::ceil: return ceil(x);
    case U::round: return rint(x);  // nearbyint in round-to-nearest-even, as the CPU
    case U::log1p: return log1p(x);
    case U::expm1: return expm1(x);
    case U::logicalNot: return x == T(0) ? T(1) : T(0);
  }
  return x;
}

// Integer tensors: only the ops intUnaryOk() admits reach here.
template <class T>
__device__ __forceinline__ T applyIntUnary(U op, T x, double a, double b) {
  switch (op) {
    case U::neg: return static_cast<T>(-x);
    case U::abs:
      if constexpr (std::is_signed<T>::value) return x < T(0) ? static_cast<T>(-x) : x;
      return x;
    case U::clamp: {
      T y = x;
      if (!isnan(a) && y < T(a)) y = T(a);
      if (!isnan(b) && y > T(b)) y = T(b);
      return y;
    }
    case U::sign:
      if constexpr (std::is_signed<T>::value) return x > T(0) ? T(1) : x < T(0) ? T(-1) : T(0);
      return x > T(0) ? T(1) : T(0);
    case U::square: return static_cast<T>(x * x);
    case U::relu: return x > T(0) ? x : T(0);
    case U::logicalNot: return x == T(0) ? T(1) : T(0);
    default: return x;
  }
}

template <class T>
__device__ __forceinline__ T applyBinary(B op, T x, T y, T alpha) {
  switch (op) {
    case B::add: return x + alpha * y;
    case B::sub: return x - alpha * y;
    case B::mul: return x * y;
    case B::div: return x / y;
    case B::pow: return pow(x, y);
    case B::maximum: return (x != x || x > y) ? x : y;
    case B::minimum: return (x != x || x < y) ? x : y;
    case B::reluGrad: return x > T(0) ? y : T(0);
    case B::geluGrad: {
      const T cdf = T(0.5) * (T(1) + erf(x * T(kSqrt1_2)));
      const T pdf = exp(T(-0.5) * x * x) * T(kInvSqrt2Pi);
      return y * (cdf + x * pdf);
    }
    case B::geluTanhGrad: {
      const T u = T(kSqrt2OverPi) * (x + T(0.044715) * x * x * x);
      const T t = tanh(u);
      const T du = T(kSqrt2OverPi) * (T(1) + T(3 * 0.044715) * x * x);
      return y * (T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * du);
    }
    case B::siluGrad: {
      const T s = sigmoidOf(x);
      return y * s * (T(1) + x * (T(1) - s));
    }
    case B::sigmoidGrad: return y * x * (T(1) - x);  // x is the forward output
    case B::tanhGrad: return y * (T(1) - x * x);     // x is the forward output
    case B::hardsigmoidGrad: return (x > T(-3) && x < T(3)) ? y / T(6) : T(0);
    case B::hardswishGrad: return x < T(-3) ? T(0) : x > T(3) ? y : y * (T(2) * x + T(3)) / T(6);
    case B::leakyReluGrad: return x > T(0) ? y : alpha * y;
    case B::atan2: return atan2(x, y);
    case B::remainder: {
      const T r = fmod(x, y);
      return (r != T(0) && ((r < T(0)) != (y < T(0)))) ? r + y : r;
    }
    default: return T(0);
  }
}

template <class T>
__device__ __forceinline__ T applyIntBinary(B op, T x, T y, T alpha) {
  switch (op) {
    case B::add: return static_cast<T>(x + alpha * y);
    case B::sub: return static_cast<T>(x - alpha * y);
    case B::mul: return static_cast<T>(x * y);
    case B::maximum: return x > y ? x : y;
    case B::minimum: return x < y ? x : y;
    case B::remainder: {
      if (y == 0) return 0;
      const T r = static_cast<T>(x % y);
      if constexpr (std::is_signed<T>::value) return (r != 0 && ((r < 0) != (y < 0))) ? static_cast<T>(r + y) : r;
      return r;
    }
    case B::div: return y == 0 ? T(0) : static_cast<T>(x / y);
    default: return T(0);
  }
}

template <class T>
__device__ __forceinline__ uint8_t applyCompare(B op, T x, T y) {
  switch (op) {
    case B::eq: return x == y;
    case B::ne: return x != y;
    case B::lt: return x < y;
    case B::le: return x <= y;
    case B::gt: return x > y;
    case B::ge: return x >= y;
    case B::logicalAnd: return x != T(0) && y != T(0);
    case B::logicalOr: return x != T(0) || y != T(0);
    default: return 0;
  }
}

// Functors. The *Op forms fix the op at compile time (contiguous path), the others carry it.
template <class T, U Op>
struct UnaryOp {
  double a, b;
  __device__ __forceinline__ T operator()(T x) const { return applyUnary<T>(Op, x, a, b); }
};
template <class T>
struct UnaryAny {
  U op;
  double a, b;
  __device__ __forceinline__ T operator()(T x) const { return applyUnary<T>(op, x, a, b); }
};
template <class T>
struct IntUnary {
  U op;
  double a, b;
  __device__ __forceinline__ T operator()(T x) const { return applyIntUnary<T>(op, x, a, b); }
};
template <class T, B Op>
struct BinaryOp {
  T alpha;
  __device__ __forceinline__ T operator()(T x, T y) const { return applyBinary<T>(Op, x, y, alpha); }
};
template <class T>
struct BinaryAny {
  B op;
  T alpha;
  __device__ __forceinline__ T operator()(T x, T y) const { return applyBinary<T>(op, x, y, alpha); }
};
template <class T>
struct IntBinary {
  B op;
  T alpha;
  __device__ __forceinline__ T operator()(T x, T y) const { return applyIntBinary<T>(op, x, y, alpha); }
};
template <class T, B Op>
struct CompareOp {
  __device__ __forceinline__ uint8_t operator()(T x, T y) const { return applyCompare<T>(Op, x, y); }
};
template <class T>
struct CompareAny {
  B op;
  __device__ __forceinline__ uint8_t operator()(T x, T y) const { return applyCompare<T>(op, x, y); }
};
template <class T>
struct Select {
  __device__ __forceinline__ T operator()(uint8_t c, T a, T b) const { return c ? a : b; }
};
template <class O, class I>
struct Cast {
  __device__ __forceinline__ O operator()(I x) const { return static_cast<O>(x); }
};
template <class I>
struct CastToBool {
  __device__ __forceinline__ uint8_t operator()(I x) const { return x != I(0) ? 1 : 0; }
};
template <class T>
struct Constant {
  T value;
  __device__ __forceinline__ T operator()() const { return value; }
};

template <class T>
void unaryFloat(U op, const Layout& L, int64_t n, T* out, const T* x, double a, double b) {
  const UnaryAny<T> any{op, a, b};
  switch (op) {
#define IV_CASE(name) \
  case U::name: return launchPointwise("unary", L, n, out, UnaryOp<T, U::name>{a, b}, any, x);
    IV_UNARY_OPS(IV_CASE)
#undef IV_CASE
  }
}

template <class T>
void binaryFloat(B op, const Layout& L, int64_t n, void* out, const T* a, const T* b, T alpha) {
  if (isComparison(op)) {
    uint8_t* o = static_cast<uint8_t*>(out);
    const CompareAny<T> any{op};
    switch (op) {
#define IV_CASE(name) \
  case B::name: return launchPointwise("binary", L, n, o, CompareOp<T, B::name>{}, any, a, b);
      IV_CASE(eq) IV_CASE(ne) IV_CASE(lt) IV_CASE(le) IV_CASE(gt) IV_CASE(ge) IV_CASE(logicalAnd) IV_CASE(logicalOr)
#undef IV_CASE
      default: return;
    }
  }
  T* o = static_cast<T*>(out);
  const BinaryAny<T> any{op, alpha};
  switch (op) {
#define IV_CASE(name) \
  case B::name: return launchPointwise("binary", L, n, o, BinaryOp<T, B::name>{alpha}, any, a, b);
    IV_BINARY_OPS(IV_CASE)
#undef IV_CASE
  }
}

template <class T>
void binaryInt(B op, const Layout& L, int64_t n, void* out, const T* a, const T* b, double alpha) {
  if (isComparison(op)) {
    const CompareAny<T> f{op};
    return launchPointwise("binary", L, n, static_cast<uint8_t*>(out), f, f, a, b);
  }
  const IntBinary<T> f{op, static_cast<T>(alpha)};
  launchPointwise("binary", L, n, static_cast<T*>(out), f, f, a, b);
}

template <class T>
void whereTyped(const Layout& L, int64_t n, void* out, const void* c, const void* a, const void* b) {
  launchPointwise("where", L, n, static_cast<T*>(out), Select<T>{}, Select<T>{}, static_cast<const uint8_t*>(c),
                  static_cast<const T*>(a), static_cast<const T*>(b));
}

template <class O, class I>
void copyTyped(bool toBool, const Layout& L, int64_t n, void* out, const void* src) {
  const I* s = static_cast<const I*>(src);
  if (toBool) return launchPointwise("copy", L, n, static_cast<uint8_t*>(out), CastToBool<I>{}, CastToBool<I>{}, s);
  launchPointwise("copy", L, n, static_cast<O*>(out), Cast<O, I>{}, Cast<O, I>{}, s);
}

template <class O>
void copyFrom(Dt srcType, bool toBool, const Layout& L, int64_t n, void* out, const void* src) {
  switch (srcType) {
    case kF32: return copyTyped<O, float>(toBool, L, n, out, src);
    case kF64: return copyTyped<O, double>(toBool, L, n, out, src);
    case kI32: return copyTyped<O, int32_t>(toBool, L, n, out, src);
    default: return copyTyped<O, uint8_t>(toBool, L, n, out, src);
  }
}

template <class T>
void fillTyped(const Layout& L, int64_t n, void* out, T value) {
  launchPointwise("fill", L, n, static_cast<T*>(out), Constant<T>{value}, Constant<T>{value});
}

}  // namespace

void launchUnary(U op, Dt dtype, const Layout& L, int64_t n, void* out, const void* x, double a, double b) {
  switch (dtype) {
    case kF32: return unaryFloat(op, L, n, static_cast<float*>(out), static_cast<const float*>(x), a, b);
    case kF64: return unaryFloat(op, L, n, static_cast<double*>(out), static_cast<const double*>(x), a, b);
    case kI32: {
      const IntUnary<int32_t> f{op, a, b};
      return launchPointwise("unary", L, n, static_cast<int32_t*>(out), f, f, static_cast<const int32_t*>(x));
    }
    default: {
      const IntUnary<uint8_t> f{op, a, b};
      return launchPointwise("unary", L, n, static_cast<uint8_t*>(out), f, f, static_cast<const uint8_t*>(x));
    }
  }
}

void launchBinary(B op, Dt dtype, const Layout& L, int64_t n, void* out, const void* a, const void* b, double alpha) {
  switch (dtype) {
    case kF32:
      return binaryFloat(op, L, n, out, static_cast<const float*>(a), static_cast<const float*>(b),
                         static_cast<float>(alpha));
    case kF64:
      return binaryFloat(op, L, n, out, static_cast<const double*>(a), static_cast<const double*>(b), alpha);
    case kI32:
      return binaryInt(op, L, n, out, static_cast<const int32_t*>(a), static_cast<const int32_t*>(b), alpha);
    default:
      return binaryInt(op, L, n, out, static_cast<const uint8_t*>(a), static_cast<const uint8_t*>(b), alpha);
  }
}

void launchWhere(Dt dtype, const Layout& L, int64_t n, void* out, const void* cond, const void* a, const void* b) {
  switch (dtype) {
    case kF32: return whereTyped<float>(L, n, out, cond, a, b);
    case kF64: return whereTyped<double>(L, n, out, cond, a, b);
    case kI32: return whereTyped<int32_t>(L, n, out, cond, a, b);
    default: return whereTyped<uint8_t>(L, n, out, cond, a, b);
  }
}

void launchCopy(Dt outType, Dt srcType, const Layout& L, int64_t n, void* out, const void* src) {
  switch (outType) {
    case kF32: return copyFrom<float>(srcType, false, L, n, out, src);
    case kF64: return copyFrom<double>(srcType, false, L, n, out, src);
    case kI32: return copyFrom<int32_t>(srcType, false, L, n, out, src);
    case kBool: return copyFrom<uint8_t>(srcType, true, L, n, out, src);
    default: return copyFrom<uint8_t>(srcType, false, L, n, out, src);
  }
}

void launchFill(Dt dtype, const Layout& L, int64_t n, void* out, double v) {
  switch (dtype) {
    case kF32: return fillTyped<float>(L, n, out, static_cast<float>(v));
    case kF64: return fillTyped<double>(L, n, out, v);
    case kI32: return fillTyped<int32_t>(L, n, out, static_cast<int32_t>(v));
    case kBool: return fillTyped<uint8_t>(L, n, out, v != 0 ? 1 : 0);
    default: return fillTyped<uint8_t>(L, n, out, static_cast<uint8_t>(v));
  }
}

}  // namespace cuda
}  // namespace iv
