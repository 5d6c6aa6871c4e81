// The sum of term(i) for i < n in double, as eight partial sums: one running sum waits on each
// add's latency (about 4 cycles an element, which made the norm kernels slower than the memory
// they read); eight keep the adders busy. Inline in each translation unit that includes it,
// compiled for that unit's instruction set.
#pragma once
#include <cstdint>

namespace iv {
namespace {

template <class F>
inline double sum8(int64_t n, F term) {
  double a[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; k++) a[k] += term(i + k);
  for (int k = 0; i < n; i++, k++) a[k] += term(i);
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

}  // namespace
}  // namespace iv
