// Softmax and log-softmax along one dim, forward and backward, on [outer, K, inner]
// contiguous views (native/cpu/ops/softmax.cc's contract). inner == 1: a block per row
// (max, sum of exp, write: three sweeps over a row that stays in L1/L2); inner > 1: a
// thread per (outer, inner) column, so loads are coalesced across the inner positions.
// Sums accumulate in double as the CPU does.
#include <cmath>
#include "../common.h"
#include "block.cuh"
#include "softmax.cuh"

namespace iv {
namespace cuda {
namespace {

template <class T>
__global__ void softmaxRowsKernel(const T* __restrict__ px, T* __restrict__ py, int64_t K, bool log) {
  __shared__ double sh[32];
  __shared__ T shT[32];
  const T* x = px + blockIdx.x * K;
  T* y = py + blockIdx.x * K;
  T m = -INFINITY;
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x) m = x[k] > m ? x[k] : m;
  m = blockReduce<T, true>(m, shT);
  double s = 0;
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x) s += static_cast<double>(dexp<T>(x[k] - m));
  s = blockReduce<double, false>(s, sh);
  if (log) {
    const T shift = static_cast<T>(m + ::log(s));
    for (int64_t k = threadIdx.x; k < K; k += blockDim.x) y[k] = x[k] - shift;
  } else {
    const T inv = static_cast<T>(1.0 / s);
    for (int64_t k = threadIdx.x; k < K; k += blockDim.x) y[k] = dexp<T>(x[k] - m) * inv;
  }
}

template <class T>
__global__ void softmaxColumnsKernel(const T* __restrict__ px, T* __restrict__ py, int64_t outer, int64_t K,
                                     int64_t inner, bool log) {
  const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c >= outer * inner) return;
  const int64_t o = c / inner, i = c % inner;
  const T* x = px + o * K * inner + i;
  T* y = py + o * K * inner + i;
  T m = -INFINITY;
  for (int64_t k = 0; k < K; k++) m = x[k * inner] > m ? x[k * inner] : m;
  double s = 0;
  for (int64_t k = 0; k < K; k++) s += static_cast<double>(dexp<T>(x[k * inner] - m));
  if (log) {
    const double shift = m + ::log(s);
    for (int64_t k = 0; k < K; k++) y[k * inner] = static_cast<T>(x[k * inner] - shift);
  } else {
    const double inv = 1.0 / s;
    for (int64_t k = 0; k < K; k++) y[k * inner] = static_cast<T>(dexp<T>(x[k * inner] - m) * inv);
  }
}

// softmax: dx = y * (g - sum(g * y)); log-softmax: dx = g - exp(y) * sum(g).
template <class T>
__global__ void softmaxBackRowsKernel(const T* __restrict__ pg, const T* __restrict__ py, T* __restrict__ pd,
                                      int64_t K, bool log) {
  __shared__ double sh[32];
  const int64_t base = blockIdx.x * K;
  const T *g = pg + base, *y = py + base;
  T* d = pd + base;
  double s = 0;
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x)
    s += log ? static_cast<double>(g[k]) : static_cast<double>(g[k]) * y[k];
  s = blockReduce<double, false>(s, sh);
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x)
    d[k] = log ? static_cast<T>(g[k] - dexp<T>(y[k]) * s) : static_cast<T>(y[k] * (g[k] - s));
}

template <class T>
__global__ void softmaxBackColumnsKernel(const T* __restrict__ pg, const T* __restrict__ py, T* __restrict__ pd,
                                         int64_t outer, int64_t K, int64_t inner, bool log) {
  const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c >= outer * inner) return;
  const int64_t base = (c / inner) * K * inner + c % inner;
  const T *g = pg + base, *y = py + base;
  T* d = pd + base;
  double s = 0;
  for (int64_t k = 0; k < K; k++)
    s += log ? static_cast<double>(g[k * inner]) : static_cast<double>(g[k * inner]) * y[k * inner];
  for (int64_t k = 0; k < K; k++) {
    const int64_t e = k * inner;
    d[e] = log ? static_cast<T>(g[e] - dexp<T>(y[e]) * s) : static_cast<T>(y[e] * (g[e] - s));
  }
}

int rowThreads(int64_t K) { return K >= 1024 ? 512 : K >= 256 ? 256 : K >= 64 ? 64 : 32; }

template <class T>
void forwardT(const void* x, void* y, int64_t outer, int64_t K, int64_t inner, bool log) {
  if (inner == 1) {
    softmaxRowsKernel<T><<<static_cast<unsigned>(outer), rowThreads(K), 0, stream()>>>(
        static_cast<const T*>(x), static_cast<T*>(y), K, log);
  } else {
    const int64_t n = outer * inner;
    softmaxColumnsKernel<T><<<static_cast<unsigned>((n + 127) / 128), 128, 0, stream()>>>(
        static_cast<const T*>(x), static_cast<T*>(y), outer, K, inner, log);
  }
  IV_CUDA_LAUNCHED("softmaxForward kernel");
}

template <class T>
void backwardT(const void* g, const void* y, void* d, int64_t outer, int64_t K, int64_t inner, bool log) {
  if (inner == 1) {
    softmaxBackRowsKernel<T><<<static_cast<unsigned>(outer), rowThreads(K), 0, stream()>>>(
        static_cast<const T*>(g), static_cast<const T*>(y), static_cast<T*>(d), K, log);
  } else {
    const int64_t n = outer * inner;
    softmaxBackColumnsKernel<T><<<static_cast<unsigned>((n + 127) / 128), 128, 0, stream()>>>(
        static_cast<const T*>(g), static_cast<const T*>(y), static_cast<T*>(d), outer, K, inner, log);
  }
  IV_CUDA_LAUNCHED("softmaxBackward kernel");
}

}  // namespace

// Row counts above 2^31 - 1 are refused by the binding.
void launchSoftmaxForward(Dt dtype, const void* x, void* y, int64_t outer, int64_t K, int64_t inner, bool log) {
  if (dtype == kF32) forwardT<float>(x, y, outer, K, inner, log);
  else forwardT<double>(x, y, outer, K, inner, log);
}

void launchSoftmaxBackward(Dt dtype, const void* g, const void* y, void* d, int64_t outer, int64_t K, int64_t inner,
                           bool log) {
  if (dtype == kF32) backwardT<float>(g, y, d, outer, K, inner, log);
  else backwardT<double>(g, y, d, outer, K, inner, log);
}

}  // namespace cuda
}  // namespace iv
