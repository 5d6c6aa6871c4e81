// The sum of a contiguous float32 run in double, on the widest instruction set
// (reduce_sum.inc, compiled by reduce_sum_avx512.cc and reduce_sum_avx2.cc): each lane adds 8
// floats pairwise in float, and those block sums are widened to doubles and added, so the
// error is a few float roundings of a block sum's magnitude, where a float loop's grows with
// the run's length.
#pragma once
#include <cstdint>

namespace iv {

double sumFloatsAvx512(const float* p, int64_t n);
double sumFloatsAvx2(const float* p, int64_t n);

}  // namespace iv
