// Lane helpers shared by the AVX-512 files. Each includes this inside its own anonymous
// namespace, so every copy stays internal to a file compiled with AVX-512 and none can be
// linked into code for another instruction set (docs/ARCHITECTURE.md on ISA files).
#pragma once

// The first n of 16 lanes (none for n <= 0). Branches, not a variable shift: in a loop's full
// blocks the mask is then a constant (scatterAdd measured far slower with the shift).
inline __mmask16 firstLanes(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : static_cast<__mmask16>((1u << n) - 1);
}

// _mm512_permutex2var_ps indices that interleave lanes of a and b: (a[0], b[0], a[1], b[1],
// ...) over lanes 0..7 (first half) or 8..15 (second), e.g. a row's even and odd columns.
inline __m512i interleaveIndex(int half) {
  return _mm512_add_epi32(_mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0),
                          _mm512_set1_epi32(8 * half));
}
