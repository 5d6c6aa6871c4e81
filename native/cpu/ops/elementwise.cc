// Elementwise kernels: unary, binary (with an optional scalar alpha), where, fill and the
// strided copy that also casts between dtypes. Inputs arrive already broadcast to the
// output's shape (stride-0 views); any strides work, contiguous rows take the fast loop.
#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>
#include "../../binding/elementwise_args.h"
#include "../../binding/registry.h"
#include "../bfloat16.h"
#include "../cpu_features.h"
#include "../parallel.h"
#include "../strided.h"
#include "conv.h"
#include "rows_simd.h"
#include "elementwise_fastmath.h"

namespace iv {
namespace {

constexpr double kSqrt1_2 = 0.70710678118654752440;
constexpr double kSqrt2OverPi = 0.79788456080286535588;

template <class T>
struct Math {
  static T gelu(T x) { return T(0.5) * x * (T(1) + std::erf(x * T(kSqrt1_2))); }
  static T geluGrad(T x) {
    const T cdf = T(0.5) * (T(1) + std::erf(x * T(kSqrt1_2)));
    const T pdf = std::exp(T(-0.5) * x * x) * T(0.39894228040143267794);
    return cdf + x * pdf;
  }
  static T geluTanh(T x) {
    return T(0.5) * x * (T(1) + std::tanh(T(kSqrt2OverPi) * (x + T(0.044715) * x * x * x)));
  }
  static T geluTanhGrad(T x) {
    const T u = T(kSqrt2OverPi) * (x + T(0.044715) * x * x * x);
    const T t = std::tanh(u);
    const T du = T(kSqrt2OverPi) * (T(1) + T(3 * 0.044715) * x * x);
    return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * du;
  }
  static T sigmoid(T x) { return x >= T(0) ? T(1) / (T(1) + std::exp(-x)) : std::exp(x) / (T(1) + std::exp(x)); }
  // PyTorch's form, min(max(x + 3, 0), 6) / 6: selects that vectorise, NaN stays NaN
  static T relu6Shifted(T x) {
    T h = x + T(3);
    h = h < T(0) ? T(0) : h;
    return h > T(6) ? T(6) : h;
  }
  static T hardsigmoid(T x) { return relu6Shifted(x) / T(6); }
  static T hardswish(T x) { return x * relu6Shifted(x) / T(6); }
};

template <class T>
inline T applyUnary(U op, T x, double a, double b) {
  using M = Math<T>;
  switch (op) {
    case U::neg: return -x;
    case U::abs: return x < T(0) ? -x : x;
    case U::exp: return std::exp(x);
    case U::log: return std::log(x);
    case U::sqrt: return std::sqrt(x);
    case U::rsqrt: return T(1) / std::sqrt(x);
    case U::tanh: return std::tanh(x);
    case U::sigmoid: return M::sigmoid(x);
    case U::relu: return x > T(0) ? x : T(0);
    case U::gelu: return M::gelu(x);
    case U::geluTanh: return M::geluTanh(x);
    case U::silu: return x * M::sigmoid(x);
    case U::hardsigmoid: return M::hardsigmoid(x);
    case U::hardswish: return M::hardswish(x);
    case U::clamp: {
      T y = x;
      if (!std::isnan(a) && y < T(a)) y = T(a);
      if (!std::isnan(b) && y > T(b)) y = T(b);
      return y;
    }
    case U::sign: return x > T(0) ? T(1) : x < T(0) ? T(-1) : T(0);
    case U::square: return x * x;
    case U::reciprocal: return T(1) / x;
    case U::powScalar: return a == 2 ? x * x : std::pow(x, T(a));
    case U::leakyRelu: return x > T(0) ? x : T(a) * x;
    case U::sin: return std::sin(x);
    case U::cos: return std::cos(x);
    case U::floor: return std::floor(x);
    case U::ceil: return std::ceil(x);
    case U::round: return std::nearbyint(x);
    case U::log1p: return std::log1p(x);
    case U::expm1: return std::expm1(x);
    case U::logicalNot: return x == T(0) ? T(1) : T(0);
  }
  return x;
}

// Each op gets its own instantiation of the loop (the op is a compile-time constant inside
// the lambda), so the switch folds away and contiguous rows vectorise.
template <class T, class F>
void mapUnary(const StridedLayout& L, T* o, const T* p, F f) {
  const int64_t so = L.innerStride(0), sx = L.innerStride(1);
  forEachRow(L, [&](const int64_t* off, int64_t n) {
    T* po = o + off[0];
    const T* px = p + off[1];
    if (so == 1 && sx == 1)
      for (int64_t i = 0; i < n; i++) po[i] = f(px[i]);
    else
      for (int64_t i = 0; i < n; i++) po[i * so] = f(px[i * sx]);
  });
}

using FastUnary = void (*)(const float*, float*, int64_t);
using FastGrad = void (*)(const float*, const float*, float*, int64_t);

FastUnary fastUnary(U op) {
  const RowsSimd* rows = simdRows();
  switch (op) {
    case U::gelu: return rows ? rows->gelu : fastmath::gelu;
    case U::sigmoid: return rows ? rows->sigmoid : fastmath::sigmoid;
    case U::hardswish: return rows ? rows->hardswish : nullptr;
    case U::silu: return rows ? rows->silu : fastmath::silu;
    case U::exp: return fastmath::exp;
    default: return nullptr;
  }
}

// Contiguous float32 rows of the transcendental activations take the vectorised loops.
template <class T>
bool runFastUnary(U op, const StridedLayout& L, T* o, const T* p) {
  if constexpr (std::is_same_v<T, float>) {
    FastUnary fn = fastUnary(op);
    if (!fn || L.innerStride(0) != 1 || L.innerStride(1) != 1) return false;
    forEachRow(L, [&](const int64_t* off, int64_t n) { fn(p + off[1], o + off[0], n); });
    return true;
  }
  return false;
}

// x^a for a float exponent: the exponents with an exact short form skip std::pow, as PyTorch
// does (x * x * x for 3, a square root for 0.5, ...).
template <class T>
void mapPow(const StridedLayout& L, T* o, const T* p, double a) {
  if (a == 1) mapUnary<T>(L, o, p, [](T v) { return v; });
  else if (a == 2) mapUnary<T>(L, o, p, [](T v) { return v * v; });
  else if (a == 3) mapUnary<T>(L, o, p, [](T v) { return v * v * v; });
  else if (a == 0.5) mapUnary<T>(L, o, p, [](T v) { return std::sqrt(v); });
  else if (a == -0.5) mapUnary<T>(L, o, p, [](T v) { return T(1) / std::sqrt(v); });
  else if (a == -1) mapUnary<T>(L, o, p, [](T v) { return T(1) / v; });
  else if (a == -2) mapUnary<T>(L, o, p, [](T v) { return T(1) / (v * v); });
  else mapUnary<T>(L, o, p, [a](T v) { return std::pow(v, T(a)); });
}

template <class T>
void runUnary(U op, const TensorArg& out, const TensorArg& x, double a, double b) {
  StridedLayout L = makeLayout(out.shape, {&out.strides, &x.strides});
  T* o = out.ptr<T>();
  const T* p = x.ptr<T>();
  if (runFastUnary<T>(op, L, o, p)) return;
  if constexpr (std::is_floating_point_v<T>) {
    if (op == U::powScalar) return mapPow<T>(L, o, p, a);
  }
  switch (op) {
#define IV_CASE(name) \
  case U::name: mapUnary<T>(L, o, p, [a, b](T v) { return applyUnary<T>(U::name, v, a, b); }); break;
    IV_UNARY_OPS(IV_CASE)
#undef IV_CASE
  }
}

template <class T>
inline T applyBinary(B op, T x, T y, double alpha) {
  using M = Math<T>;
  switch (op) {
    case B::add: return x + T(alpha) * y;
    case B::sub: return x - T(alpha) * y;
    case B::mul: return x * y;
    case B::div: return x / y;
    case B::pow: return std::pow(x, y);
    case B::maximum: return (x != x || x > y) ? x : y;
    case B::minimum: return (x != x || x < y) ? x : y;
    case B::reluGrad: return x > T(0) ? y : T(0);
    case B::geluGrad: return y * M::geluGrad(x);
    case B::geluTanhGrad: return y * M::geluTanhGrad(x);
    case B::siluGrad: {
      const T s = M::sigmoid(x);
      return y * s * (T(1) + x * (T(1) - s));
    }
    case B::sigmoidGrad: return y * x * (T(1) - x);  // x is the forward output
    case B::tanhGrad: return y * (T(1) - x * x);     // x is the forward output
    case B::hardsigmoidGrad: return (x > T(-3) && x < T(3)) ? y / T(6) : T(0);
    case B::hardswishGrad: {
      const T mid = y * (x / T(3) + T(0.5));
      const T r = x > T(3) ? y : mid;
      return x < T(-3) ? T(0) : r;
    }
    case B::leakyReluGrad: return x > T(0) ? y : T(alpha) * y;
    case B::atan2: return std::atan2(x, y);
    case B::remainder: {
      T r = std::fmod(x, y);
      return (r != T(0) && ((r < T(0)) != (y < T(0)))) ? r + y : r;
    }
    default: return T(0);
  }
}

template <class T>
inline T applyIntBinary(B op, T x, T y, double alpha) {
  switch (op) {
    case B::add: return static_cast<T>(x + static_cast<T>(alpha) * y);
    case B::sub: return static_cast<T>(x - static_cast<T>(alpha) * y);
    case B::mul: return static_cast<T>(x * y);
    case B::maximum: return x > y ? x : y;
    case B::minimum: return x < y ? x : y;
    case B::remainder: {
      if (y == 0) return 0;
      T r = static_cast<T>(x % y);
      return (r != 0 && ((r < 0) != (y < 0))) ? static_cast<T>(r + y) : r;
    }
    case B::div: return y == 0 ? 0 : static_cast<T>(x / y);
    default: return 0;
  }
}

template <class T>
inline bool applyCompare(B op, T x, T y) {
  switch (op) {
    case B::eq: return x == y;
    case B::ne: return x != y;
    case B::lt: return x < y;
    case B::le: return x <= y;
    case B::gt: return x > y;
    case B::ge: return x >= y;
    case B::logicalAnd: return x != T(0) && y != T(0);
    case B::logicalOr: return x != T(0) || y != T(0);
    default: return false;
  }
}

template <class O, class T, class F>
void mapBinary(const StridedLayout& L, O* o, const T* pa, const T* pb, F f) {
  const int64_t so = L.innerStride(0), sa = L.innerStride(1), sb = L.innerStride(2);
  forEachRow(L, [&](const int64_t* off, int64_t n) {
    O* po = o + off[0];
    const T* x = pa + off[1];
    const T* y = pb + off[2];
    if (so == 1 && sa == 1 && sb == 1) {
      for (int64_t i = 0; i < n; i++) po[i] = f(x[i], y[i]);
    } else if (so == 1 && sa == 1 && sb == 0) {
      const T s = y[0];
      for (int64_t i = 0; i < n; i++) po[i] = f(x[i], s);
    } else if (so == 1 && sa == 0 && sb == 1) {
      const T s = x[0];
      for (int64_t i = 0; i < n; i++) po[i] = f(s, y[i]);
    } else {
      for (int64_t i = 0; i < n; i++) po[i * so] = f(x[i * sa], y[i * sb]);
    }
  });
}

#define IV_FLOAT_BINARY_OPS(X)                                                                                       \
  X(add) X(sub) X(mul) X(div) X(pow) X(maximum) X(minimum) X(reluGrad) X(geluGrad) X(geluTanhGrad) X(siluGrad)     \
  X(sigmoidGrad) X(tanhGrad) X(hardsigmoidGrad) X(hardswishGrad) X(leakyReluGrad) X(atan2) X(remainder)
#define IV_INT_BINARY_OPS(X) X(add) X(sub) X(mul) X(div) X(maximum) X(minimum) X(remainder)
#define IV_COMPARE_OPS(X) X(eq) X(ne) X(lt) X(le) X(gt) X(ge) X(logicalAnd) X(logicalOr)

template <class T, bool Float>
void runBinary(B op, const TensorArg& out, const TensorArg& a, const TensorArg& b, double alpha) {
  StridedLayout L = makeLayout(out.shape, {&out.strides, &a.strides, &b.strides});
  const T* pa = a.ptr<T>();
  const T* pb = b.ptr<T>();
  if (isComparison(op)) {
    uint8_t* o = out.ptr<uint8_t>();
    switch (op) {
#define IV_CASE(name) \
  case B::name: mapBinary<uint8_t, T>(L, o, pa, pb, [](T x, T y) -> uint8_t { return applyCompare<T>(B::name, x, y); }); break;
      IV_COMPARE_OPS(IV_CASE)
#undef IV_CASE
      default: break;
    }
    return;
  }
  T* o = out.ptr<T>();
  if constexpr (std::is_same_v<T, float>) {
    const RowsSimd* rows = simdRows();
    FastGrad fn = op == B::geluGrad                  ? (rows ? rows->geluGrad : fastmath::geluGrad)
                  : op == B::siluGrad                ? (rows ? rows->siluGrad : fastmath::siluGrad)
                  : op == B::hardswishGrad && rows ? rows->hardswishGrad
                                                     : nullptr;
    if (fn && L.innerStride(0) == 1 && L.innerStride(1) == 1) {
      // A gradient with another inner stride (an expanded scalar's is 0, from sum().backward())
      // is laid out contiguously per row first: the transcendentals cost far more than the copy.
      const int64_t sg = L.innerStride(2);
      forEachRow(L, [&](const int64_t* off, int64_t n) {
        const float* g = pb + off[2];
        if (sg != 1) {
          static thread_local std::vector<float> row;
          row.resize(static_cast<size_t>(n));
          if (sg == 0) std::fill(row.begin(), row.end(), g[0]);
          else for (int64_t i = 0; i < n; i++) row[i] = g[i * sg];
          g = row.data();
        }
        fn(pa + off[1], g, o + off[0], n);
      });
      return;
    }
    // add and sub (a gradient accumulating into a leaf's, a residual sum) on the widest vectors.
    const int64_t sb = L.innerStride(2);
    const bool rowsOk = L.innerStride(0) == 1 && L.innerStride(1) == 1 && (sb == 0 || sb == 1);
    if ((op == B::add || op == B::sub) && rows && rowsOk) {
      const float a = static_cast<float>(op == B::sub ? -alpha : alpha);
      forEachRow(L, [&](const int64_t* off, int64_t n) {
        rows->axpy(pa + off[1], pb + off[2], sb, o + off[0], n, a);
      });
      return;
    }
  }
  if constexpr (Float) {
    switch (op) {
#define IV_CASE(name) \
  case B::name: mapBinary<T, T>(L, o, pa, pb, [alpha](T x, T y) { return applyBinary<T>(B::name, x, y, alpha); }); break;
      IV_FLOAT_BINARY_OPS(IV_CASE)
#undef IV_CASE
      default: break;
    }
  } else {
    switch (op) {
#define IV_CASE(name) \
  case B::name: mapBinary<T, T>(L, o, pa, pb, [alpha](T x, T y) { return applyIntBinary<T>(B::name, x, y, alpha); }); break;
      IV_INT_BINARY_OPS(IV_CASE)
#undef IV_CASE
      default: break;
    }
  }
}

Napi::Value unary(const Napi::CallbackInfo& info) {
  Args args(info, "unary", 5);
  const UnaryArgs u = parseUnaryArgs(args);
  if (u.out.numel() == 0) return info.Env().Undefined();
  switch (u.x.dtype) {
    case DType::float32: runUnary<float>(u.op, u.out, u.x, u.a, u.b); break;
    case DType::float64: runUnary<double>(u.op, u.out, u.x, u.a, u.b); break;
    case DType::int32: runUnary<int32_t>(u.op, u.out, u.x, u.a, u.b); break;
    default: runUnary<uint8_t>(u.op, u.out, u.x, u.a, u.b);
  }
  return info.Env().Undefined();
}

Napi::Value binary(const Napi::CallbackInfo& info) {
  Args args(info, "binary", 5);
  const BinaryArgs v = parseBinaryArgs(args);
  if (v.out.numel() == 0) return info.Env().Undefined();
  switch (v.a.dtype) {
    case DType::float32: runBinary<float, true>(v.op, v.out, v.a, v.b, v.alpha); break;
    case DType::float64: runBinary<double, true>(v.op, v.out, v.a, v.b, v.alpha); break;
    case DType::int32: runBinary<int32_t, false>(v.op, v.out, v.a, v.b, v.alpha); break;
    default: runBinary<uint8_t, false>(v.op, v.out, v.a, v.b, v.alpha); break;
  }
  return info.Env().Undefined();
}

// d(x^a)/dx times g, = a x^(a-1) g, with the exponents of mapPow in their short forms.
template <class T>
void runPowScalarBackward(const TensorArg& out, const TensorArg& x, const TensorArg& g, double a) {
  StridedLayout L = makeLayout(out.shape, {&out.strides, &x.strides, &g.strides});
  T* o = out.ptr<T>();
  const T* px = x.ptr<T>();
  const T* pg = g.ptr<T>();
  const T ta = T(a);
  if (a == 1) mapBinary<T, T>(L, o, px, pg, [](T, T y) { return y; });
  else if (a == 2) mapBinary<T, T>(L, o, px, pg, [](T v, T y) { return T(2) * v * y; });
  else if (a == 3) mapBinary<T, T>(L, o, px, pg, [](T v, T y) { return T(3) * v * v * y; });
  else if (a == 0.5) mapBinary<T, T>(L, o, px, pg, [](T v, T y) { return T(0.5) / std::sqrt(v) * y; });
  else if (a == -1) mapBinary<T, T>(L, o, px, pg, [](T v, T y) { return -y / (v * v); });
  else mapBinary<T, T>(L, o, px, pg, [ta](T v, T y) { return ta * std::pow(v, ta - T(1)) * y; });
}

// powScalarBackward(out, x, gradOut, exponent): x and gradOut broadcast to out's shape.
Napi::Value powScalarBackward(const Napi::CallbackInfo& info) {
  Args args(info, "powScalarBackward", 4);
  TensorArg out = args.tensor(0, "out"), x = args.tensor(1, "x"), g = args.tensor(2, "gradOut");
  const double a = args.number(3, "exponent");
  checkSameShape(args, out, x, "x");
  checkSameShape(args, out, g, "gradOut");
  if (out.dtype != x.dtype || g.dtype != x.dtype || (x.dtype != DType::float32 && x.dtype != DType::float64))
    args.fail(std::string("out, x and gradOut must share a float dtype, got ") + dtypeName(out.dtype) + ", " +
              dtypeName(x.dtype) + " and " + dtypeName(g.dtype));
  if (out.numel() == 0) return info.Env().Undefined();
  if (x.dtype == DType::float32) runPowScalarBackward<float>(out, x, g, a);
  else runPowScalarBackward<double>(out, x, g, a);
  return info.Env().Undefined();
}

template <class T>
void runWhere(const TensorArg& out, const TensorArg& c, const TensorArg& a, const TensorArg& b) {
  StridedLayout L = makeLayout(out.shape, {&out.strides, &c.strides, &a.strides, &b.strides});
  const int64_t s0 = L.innerStride(0), s1 = L.innerStride(1), s2 = L.innerStride(2), s3 = L.innerStride(3);
  T* o = out.ptr<T>();
  const uint8_t* pc = c.ptr<uint8_t>();
  const T* pa = a.ptr<T>();
  const T* pb = b.ptr<T>();
  // Both values are loaded before the choice, so it compiles to a select: a branch on a
  // random mask would be mispredicted half the time.
  forEachRow(L, [&](const int64_t* off, int64_t n) {
    T* po = o + off[0];
    const uint8_t* c = pc + off[1];
    const T* x = pa + off[2];
    const T* y = pb + off[3];
    if (s0 == 1 && s1 == 1 && s2 == 1 && s3 == 1) {
      for (int64_t i = 0; i < n; i++) {
        const T va = x[i], vb = y[i];
        po[i] = c[i] ? va : vb;
      }
    } else if (s0 == 1 && s1 == 1 && s3 == 0) {
      const T vb = y[0];
      for (int64_t i = 0; i < n; i++) {
        const T va = x[i * s2];
        po[i] = c[i] ? va : vb;
      }
    } else if (s0 == 1 && s1 == 1 && s2 == 0) {
      const T va = x[0];
      for (int64_t i = 0; i < n; i++) {
        const T vb = y[i * s3];
        po[i] = c[i] ? va : vb;
      }
    } else {
      for (int64_t i = 0; i < n; i++) {
        const T va = x[i * s2], vb = y[i * s3];
        po[i * s0] = c[i * s1] ? va : vb;
      }
    }
  });
}

Napi::Value where(const Napi::CallbackInfo& info) {
  Args args(info, "where", 4);
  const WhereArgs w = parseWhereArgs(args);
  if (w.out.numel() == 0) return info.Env().Undefined();
  switch (w.out.dtype) {
    case DType::float32: runWhere<float>(w.out, w.condition, w.a, w.b); break;
    case DType::float64: runWhere<double>(w.out, w.condition, w.a, w.b); break;
    case DType::int32: runWhere<int32_t>(w.out, w.condition, w.a, w.b); break;
    default: runWhere<uint8_t>(w.out, w.condition, w.a, w.b); break;
  }
  return info.Env().Undefined();
}

// A float32 copy whose last two dims are a transposition (permute(...).contiguous(), a
// channels-last conversion): the output's rows are contiguous and the source's run along its
// columns. Copied in 16 x 16 register tiles (avx512::transpose, the convolutions' own), split
// among threads by the outer dims and blocks of 64 output rows; false where the layout is not
// one, or the CPU has no AVX-512 (the strided loop copies it then).
bool copyTransposed(const StridedLayout& L, float* o, const float* p) {
  const int n = L.ndim;
  if (n < 2 || activeIsa() != Isa::avx512 || L.strides[0][n - 1] != 1 || L.strides[1][n - 2] != 1 ||
      L.strides[1][n - 1] == 1)
    return false;
  const int64_t R = L.shape[n - 2], C = L.shape[n - 1], ldo = L.strides[0][n - 2], lds = L.strides[1][n - 1];
  if (R < 8 || C < 8) return false;
  int64_t outer = 1;
  for (int d = 0; d < n - 2; d++) outer *= L.shape[d];
  constexpr int64_t kRows = 64;
  const int64_t blocks = (R + kRows - 1) / kRows;
  parallelFor(outer * blocks, 1, [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; q++) {
      int64_t rem = q / blocks, off0 = 0, off1 = 0;
      for (int d = n - 3; d >= 0; d--) {
        const int64_t i = rem % L.shape[d];
        rem /= L.shape[d];
        off0 += i * L.strides[0][d];
        off1 += i * L.strides[1][d];
      }
      const int64_t r0 = (q % blocks) * kRows, rn = std::min(kRows, R - r0);
      // Output (r, c) is source (c, r) of a matrix with rows lds apart.
      avx512::transpose(p + off1 + r0, C, rn, lds, o + off0 + r0 * ldo, ldo);
    }
  });
  return true;
}

template <class O, class I>
void runCopy(const TensorArg& out, const TensorArg& src) {
  StridedLayout L = makeLayout(out.shape, {&out.strides, &src.strides});
  if constexpr (std::is_same_v<O, float> && std::is_same_v<I, float>)
    if (copyTransposed(L, out.ptr<float>(), src.ptr<float>())) return;
  const int64_t so = L.innerStride(0), ss = L.innerStride(1);
  O* o = out.ptr<O>();
  const I* p = src.ptr<I>();
  const bool toBool = out.dtype == DType::boolean;
  forEachRow(L, [&](const int64_t* off, int64_t n) {
    O* po = o + off[0];
    const I* ps = p + off[1];
    if (toBool) {
      for (int64_t i = 0; i < n; i++) po[i * so] = ps[i * ss] != I(0) ? O(1) : O(0);
    } else if (so == 1 && ss == 1) {
      if constexpr (std::is_same_v<O, bfloat16> && std::is_same_v<I, float>) narrowToBfloat16(ps, po, n);
      else if constexpr (std::is_same_v<O, float> && std::is_same_v<I, bfloat16>) widenBfloat16(ps, po, n);
      else for (int64_t i = 0; i < n; i++) po[i] = static_cast<O>(ps[i]);
    } else if (so == 1 && ss == 0) {
      // A broadcast source (the gradient of a sum, expanded): a fill, which vectorises.
      std::fill(po, po + n, static_cast<O>(ps[0]));
    } else {
      for (int64_t i = 0; i < n; i++) po[i * so] = static_cast<O>(ps[i * ss]);
    }
  });
}

template <class O>
void copyFrom(const TensorArg& out, const TensorArg& src) {
  switch (src.dtype) {
    case DType::float32: runCopy<O, float>(out, src); break;
    case DType::float64: runCopy<O, double>(out, src); break;
    case DType::int32: runCopy<O, int32_t>(out, src); break;
    case DType::bfloat16: runCopy<O, bfloat16>(out, src); break;
    default: runCopy<O, uint8_t>(out, src); break;
  }
}

Napi::Value copy(const Napi::CallbackInfo& info) {
  Args args(info, "copy", 2);
  const CopyArgs c = parseCopyArgs(args);
  if (c.out.numel() == 0) return info.Env().Undefined();
  switch (c.out.dtype) {
    case DType::float32: copyFrom<float>(c.out, c.src); break;
    case DType::float64: copyFrom<double>(c.out, c.src); break;
    case DType::int32: copyFrom<int32_t>(c.out, c.src); break;
    case DType::bfloat16: copyFrom<bfloat16>(c.out, c.src); break;
    default: copyFrom<uint8_t>(c.out, c.src); break;
  }
  return info.Env().Undefined();
}

template <class T>
void runFill(const TensorArg& out, T v) {
  StridedLayout L = makeLayout(out.shape, {&out.strides});
  const int64_t so = L.innerStride(0);
  T* o = out.ptr<T>();
  forEachRow(L, [&](const int64_t* off, int64_t n) {
    for (int64_t i = 0; i < n; i++) o[off[0] + i * so] = v;
  });
}

Napi::Value fill(const Napi::CallbackInfo& info) {
  Args args(info, "fill", 2);
  const FillArgs f = parseFillArgs(args);
  const TensorArg& out = f.out;
  const double v = f.value;
  if (out.numel() == 0) return info.Env().Undefined();
  switch (out.dtype) {
    case DType::float32: runFill<float>(out, static_cast<float>(v)); break;
    case DType::float64: runFill<double>(out, v); break;
    case DType::int32: runFill<int32_t>(out, static_cast<int32_t>(v)); break;
    case DType::boolean: runFill<uint8_t>(out, v != 0 ? 1 : 0); break;
    case DType::bfloat16: runFill<bfloat16>(out, bfloat16(v)); break;
    default: runFill<uint8_t>(out, static_cast<uint8_t>(v)); break;
  }
  return info.Env().Undefined();
}

}  // namespace

IV_BFLOAT16("copy");
IV_BFLOAT16("fill");
IV_EXPORT("unary", unary);
IV_EXPORT("binary", binary);
IV_EXPORT("where", where);
IV_EXPORT("powScalarBackward", powScalarBackward);
IV_EXPORT("copy", copy);
IV_EXPORT("fill", fill);

}  // namespace iv
