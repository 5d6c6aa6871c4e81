// Device helpers the kernels share: exp in the tensor's precision, and a block-wide
// reduction that adds (or takes the max of) the warps' partials in warp order, so a result
// does not depend on scheduling.
#pragma once
#include <cuda_runtime.h>

namespace iv {
namespace cuda {

template <class T>
__device__ __forceinline__ T dexp(T x);
template <>
__device__ __forceinline__ float dexp<float>(float x) { return expf(x); }
template <>
__device__ __forceinline__ double dexp<double>(double x) { return exp(x); }

// One value per thread in, the block's sum (or max) out to every thread. shared holds 32
// values; back-to-back calls may reuse it (each call syncs before writing).
template <class A, bool Max>
__device__ A blockReduce(A v, A* shared) {
  for (int o = 16; o > 0; o >>= 1) {
    const A w = __shfl_xor_sync(0xffffffffu, v, o);
    v = Max ? (w > v ? w : v) : v + w;
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  A r = shared[0];
  for (int i = 1; i < warps; i++) r = Max ? (shared[i] > r ? shared[i] : r) : r + shared[i];
  return r;
}

}  // namespace cuda
}  // namespace iv
