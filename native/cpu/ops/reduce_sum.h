// The sum of a contiguous float32 run in double, on the widest instruction set
// (reduce_sum.inc, compiled by reduce_sum_avx512.cc and reduce_sum_avx2.cc): each vector of
// floats is widened to doubles and added, so the result is as accurate as a double loop's.
#pragma once
#include <cstdint>

namespace iv {

double sumFloatsAvx512(const float* p, int64_t n);
double sumFloatsAvx2(const float* p, int64_t n);

}  // namespace iv
