// The contiguous float32 <-> bfloat16 casts, split over threads. The loops are branch-free so
// the compiler vectorises them at the baseline instruction set.
#include "bfloat16.h"
#include "parallel.h"
#include <cstring>

namespace iv {

namespace {
constexpr int64_t kGrain = int64_t(1) << 16;
}

void widenBfloat16(const bfloat16* src, float* dst, int64_t n) {
  parallelFor(n, kGrain, [&](int64_t b, int64_t e) {
    // Local copies of the pointers: the stores could alias the captured ones, which keeps
    // the loop scalar.
    const bfloat16* s = src;
    float* d = dst;
    for (int64_t i = b; i < e; i++) {
      const uint32_t u = static_cast<uint32_t>(s[i].bits) << 16;
      std::memcpy(d + i, &u, 4);
    }
  });
}

void narrowToBfloat16(const float* src, bfloat16* dst, int64_t n) {
  parallelFor(n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) {
      uint32_t u;
      std::memcpy(&u, src + i, 4);
      const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
      const uint32_t quiet = (u >> 16) | 0x0040u;
      dst[i].bits = static_cast<uint16_t>((u & 0x7fffffffu) > 0x7f800000u ? quiet : rounded);
    }
  });
}

}  // namespace iv
