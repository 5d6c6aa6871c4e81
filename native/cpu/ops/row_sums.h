// Sums in double over a row, for the reductions, the norm kernels and the conv bias gradient.
// One running sum waits on each add's latency (about 4 cycles an element, slower than the
// memory it reads); these keep eight partial sums. sumRow adds stored values (float32 rows
// on the widest vectors, reduce_sum.h); sum8 adds computed terms. Inline in each translation
// unit that includes this, compiled for that unit's (baseline) instruction set.
#pragma once
#include <cstdint>
#include <type_traits>
#include "../cpu_features.h"
#include "reduce_sum.h"

namespace iv {
namespace {

// The sum of term(i) for i < n.
template <class F>
inline double sum8(int64_t n, F term) {
  double a[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; k++) a[k] += term(i + k);
  for (int k = 0; i < n; i++, k++) a[k] += term(i);
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

using SumFloats = double (*)(const float* p, int64_t n);
inline SumFloats vectorSumFloats() {
  switch (activeIsa()) {
    case Isa::avx512: return sumFloatsAvx512;
    case Isa::avx2: return sumFloatsAvx2;
    default: return nullptr;
  }
}

// The sum of the n values p[0], p[s], ..., p[(n - 1) s].
template <class T>
inline double sumRow(const T* p, int64_t n, int64_t s = 1) {
  if constexpr (std::is_same_v<T, float>) {
    static const SumFloats sumFloats = vectorSumFloats();
    if (s == 1 && sumFloats) return sumFloats(p, n);
  }
  return sum8(n, [p, s](int64_t i) { return static_cast<double>(p[i * s]); });
}

}  // namespace
}  // namespace iv
