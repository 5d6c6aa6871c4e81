// Portable SIMD for the normalisation, softmax, loss and attention kernels, written with
// GCC vector extensions. Everything here has internal linkage, so each translation unit
// (baseline, *_avx2.cc, *_avx512.cc) gets its own copy compiled for its instruction set and
// the linker never swaps an AVX-512 copy into baseline code. Define IV_VEC_FLOATS (floats
// per vector: 4, 8 or 16) before including; the default suits baseline x86-64 (SSE2).
#pragma once
#include <cstdint>

#ifndef IV_VEC_FLOATS
#define IV_VEC_FLOATS 4
#endif

namespace iv {
namespace {

constexpr int kVF = IV_VEC_FLOATS;
typedef float vfloat __attribute__((vector_size(IV_VEC_FLOATS * 4), aligned(4)));
typedef int32_t vint __attribute__((vector_size(IV_VEC_FLOATS * 4), aligned(4)));

inline vfloat vset(float c) { return vfloat{} + c; }
inline vfloat vload(const float* p) { return *reinterpret_cast<const vfloat*>(p); }
inline void vstore(float* p, vfloat v) { *reinterpret_cast<vfloat*>(p) = v; }
inline vfloat vmax(vfloat a, vfloat b) { return a > b ? a : b; }

// Horizontal sum and maximum as a tree: the upper half folded onto the lower until four lanes
// are left, not a chain of kVF - 1 dependent adds (part of each row's fixed cost).
typedef float vfloat4 __attribute__((vector_size(16), aligned(4)));
template <class V, class F>
inline vfloat4 foldToFour(V v, F f) {
  if constexpr (sizeof(V) == 16) {
    return v;
  } else {
    typedef float half __attribute__((vector_size(sizeof(V) / 2), aligned(4)));
    half lo, hi;
    __builtin_memcpy(&lo, &v, sizeof(half));
    __builtin_memcpy(&hi, reinterpret_cast<const char*>(&v) + sizeof(half), sizeof(half));
    return foldToFour(f(lo, hi), f);
  }
}
inline float hsum(vfloat v) {
  const vfloat4 q = foldToFour(v, [](auto a, auto b) { return a + b; });
  return (q[0] + q[2]) + (q[1] + q[3]);
}
inline float hmax(vfloat v) {
  const vfloat4 q = foldToFour(v, [](auto a, auto b) { return a > b ? a : b; });
  const float a = q[0] > q[2] ? q[0] : q[2], b = q[1] > q[3] ? q[1] : q[3];
  return a > b ? a : b;
}

// exp(x) to about 2 ulp (Cephes' polynomial after Cody-Waite reduction). Inputs below
// -87.3 give exactly 0, so masked scores of -inf vanish; NaN propagates.
inline vfloat vexp(vfloat x) {
  const vint under = x < -87.3f;
  x = x > 88.3f ? vset(88.3f) : x;
  x = under ? vset(-87.3f) : x;
  const vfloat magic = vset(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  const vfloat t = x * 1.44269504088896341f + magic;
  const vfloat n = t - magic;
  vfloat r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  vfloat p = vset(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const vint e = (vint)t - (vint)magic;  // vector casts reinterpret the bits
  const vint bits = (e + 127) << 23;
  const vfloat res = p * (vfloat)bits;
  return under ? vfloat{} : res;
}

inline float sexp(float x) {
  vfloat v = vfloat{} + x;
  return vexp(v)[0];
}

// dst[i] = exp(src[i] - sub) for i < n; returns the sum in double.
inline double expSubRow(const float* src, float* dst, int64_t n, float sub) {
  vfloat acc = vfloat{};
  int64_t i = 0;
  for (; i + kVF <= n; i += kVF) {
    const vfloat e = vexp(vload(src + i) - sub);
    vstore(dst + i, e);
    acc += e;
  }
  double s = hsum(acc);
  for (; i < n; i++) {
    dst[i] = sexp(src[i] - sub);
    s += dst[i];
  }
  return s;
}

inline float maxRow(const float* p, int64_t n) {
  float m = -__builtin_inff();
  int64_t i = 0;
  if (n >= kVF) {
    vfloat acc = vload(p);
    for (i = kVF; i + kVF <= n; i += kVF) acc = vmax(acc, vload(p + i));
    m = hmax(acc);
  }
  for (; i < n; i++) m = p[i] > m ? p[i] : m;
  return m;
}

// Dropout's counter-based random stream: element `index` of a draw seeded with `seed` is kept
// when its hash clears `threshold` (p scaled to 2^24). Any thread, in any order, forward or
// backward, recomputes the same mask from the seed alone, so nothing L^2 is stored.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
inline bool dropoutKeep(uint64_t seed, uint64_t index, uint32_t threshold) {
  return static_cast<uint32_t>(mix64(seed + index * 0x9e3779b97f4a7c15ULL) >> 40) >= threshold;
}

}  // namespace
}  // namespace iv
