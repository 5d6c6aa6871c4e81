// bfloat16: the top 16 bits of a float32 (8 exponent bits, 7 mantissa bits). Narrowing rounds
// to nearest, ties to even, and keeps NaN a (quiet) NaN, as PyTorch's c10::BFloat16 does;
// widening is exact. Other arithmetic types convert through float32, as in PyTorch.
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace iv {

inline uint16_t floatToBfloat16Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

inline float bfloat16BitsToFloat(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

struct bfloat16 {
  uint16_t bits = 0;
  bfloat16() = default;
  template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>>
  explicit bfloat16(T v) : bits(floatToBfloat16Bits(static_cast<float>(v))) {}
  operator float() const { return bfloat16BitsToFloat(bits); }
};
static_assert(sizeof(bfloat16) == 2, "bfloat16 must be 2 bytes");

// Contiguous conversions for the hot casts (autocast, the widening fallback).
void widenBfloat16(const bfloat16* src, float* dst, int64_t n);
void narrowToBfloat16(const float* src, bfloat16* dst, int64_t n);

}  // namespace iv
