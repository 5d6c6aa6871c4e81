// Layer norm over the rows of a contiguous [M, K] view (native/cpu/ops/norm.cc's contract):
// a block per row, two-pass statistics in double (mean, then squared deviations), then one
// fused multiply-add per element. Backward: a block per row for the input gradient; the
// weight and bias gradients sum over rows in fixed chunks (a partial per chunk and column,
// then the chunks in order), so the result does not depend on scheduling.
#include <algorithm>
#include <cmath>
#include "../allocator.h"
#include "../common.h"
#include "block.cuh"
#include "norm.cuh"

namespace iv {
namespace cuda {
namespace {

template <class T>
__device__ __forceinline__ T vecAt(const T* p, int64_t stride, int64_t i, T fallback) {
  return p ? p[i * stride] : fallback;
}

template <class T>
__global__ void layerNormFwdKernel(const T* __restrict__ x, T* __restrict__ out, const T* __restrict__ w, int64_t ws,
                                   const T* __restrict__ b, int64_t bs, T* __restrict__ saveMean,
                                   T* __restrict__ saveRstd, int64_t K, double eps) {
  __shared__ double sh[32];
  const T* row = x + blockIdx.x * K;
  T* orow = out + blockIdx.x * K;
  double s = 0;
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x) s += row[k];
  const double mean = blockReduce<double, false>(s, sh) / static_cast<double>(K);
  double ss = 0;
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x) {
    const double d = row[k] - mean;
    ss += d * d;
  }
  const double rstd = 1.0 / ::sqrt(blockReduce<double, false>(ss, sh) / static_cast<double>(K) + eps);
  if (threadIdx.x == 0) {
    saveMean[blockIdx.x] = static_cast<T>(mean);
    saveRstd[blockIdx.x] = static_cast<T>(rstd);
  }
  const T m = static_cast<T>(mean), r = static_cast<T>(rstd);
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x)
    orow[k] = (row[k] - m) * r * vecAt<T>(w, ws, k, T(1)) + vecAt<T>(b, bs, k, T(0));
}

template <class T>
__global__ void layerNormBwdXKernel(const T* __restrict__ g, const T* __restrict__ x, const T* __restrict__ w,
                                    int64_t ws, const T* __restrict__ mean, const T* __restrict__ rstd,
                                    T* __restrict__ gx, int64_t K) {
  __shared__ double sh[32];
  const int64_t r = blockIdx.x;
  const T *row = x + r * K, *grow = g + r * K;
  const T mu = mean[r], rs = rstd[r];
  double sdy = 0, sdyx = 0;
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x) {
    const double dy = static_cast<double>(grow[k]) * vecAt<T>(w, ws, k, T(1));
    sdy += dy;
    sdyx += dy * ((row[k] - mu) * rs);
  }
  sdy = blockReduce<double, false>(sdy, sh);
  sdyx = blockReduce<double, false>(sdyx, sh);
  const double invK = 1.0 / static_cast<double>(K);
  const T c1 = static_cast<T>(sdy * invK), c2 = static_cast<T>(sdyx * invK);
  T* orow = gx + r * K;
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x)
    orow[k] = rs * (grow[k] * vecAt<T>(w, ws, k, T(1)) - c1 - (row[k] - mu) * rs * c2);
}

// Partial column sums over the rows [M * c / chunks, M * (c + 1) / chunks) of chunk c.
template <class T>
__global__ void layerNormBwdParamKernel(const T* __restrict__ g, const T* __restrict__ x, const T* __restrict__ mean,
                                        const T* __restrict__ rstd, double* __restrict__ pw, double* __restrict__ pb,
                                        int64_t M, int64_t K, int64_t chunks) {
  const int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  const int64_t c = blockIdx.y;
  if (k >= K) return;
  const int64_t r0 = M * c / chunks, r1 = M * (c + 1) / chunks;
  double sw = 0, sb = 0;
  for (int64_t r = r0; r < r1; r++) {
    const T gv = g[r * K + k];
    sw += static_cast<double>(gv) * ((x[r * K + k] - mean[r]) * rstd[r]);
    sb += gv;
  }
  pw[c * K + k] = sw;
  pb[c * K + k] = sb;
}

template <class T>
__global__ void layerNormParamFinishKernel(const double* __restrict__ pw, const double* __restrict__ pb, T* gw,
                                           int64_t gws, T* gb, int64_t gbs, int64_t K, int64_t chunks) {
  const int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (k >= K) return;
  double sw = 0, sb = 0;
  for (int64_t c = 0; c < chunks; c++) {
    sw += pw[c * K + k];
    sb += pb[c * K + k];
  }
  if (gw) gw[k * gws] = static_cast<T>(sw);
  if (gb) gb[k * gbs] = static_cast<T>(sb);
}

int rowThreads(int64_t K) { return K >= 2048 ? 512 : K >= 512 ? 256 : K >= 128 ? 128 : 64; }

template <class T>
void forwardT(const void* x, void* out, const void* w, int64_t ws, const void* b, int64_t bs, void* mean, void* rstd,
              int64_t M, int64_t K, double eps) {
  layerNormFwdKernel<T><<<static_cast<unsigned>(M), rowThreads(K), 0, stream()>>>(
      static_cast<const T*>(x), static_cast<T*>(out), static_cast<const T*>(w), ws, static_cast<const T*>(b), bs,
      static_cast<T*>(mean), static_cast<T*>(rstd), K, eps);
  IV_CUDA_LAUNCHED("layerNormForward kernel");
}

template <class T>
void backwardT(void* gx, void* gw, int64_t gws, void* gb, int64_t gbs, const void* g, const void* x, const void* w,
               int64_t ws, const void* mean, const void* rstd, int64_t M, int64_t K) {
  if (gx && M > 0) {
    layerNormBwdXKernel<T><<<static_cast<unsigned>(M), rowThreads(K), 0, stream()>>>(
        static_cast<const T*>(g), static_cast<const T*>(x), static_cast<const T*>(w), ws, static_cast<const T*>(mean),
        static_cast<const T*>(rstd), static_cast<T*>(gx), K);
    IV_CUDA_LAUNCHED("layerNormBackward input-gradient kernel");
  }
  if (!gw && !gb) return;
  // Enough chunks to fill the GPU, each a run of rows (at least 8).
  const int64_t colBlocks = (K + 127) / 128;
  int64_t chunks = std::max<int64_t>(1, std::min<int64_t>((M + 7) / 8, (4 * smCount() + colBlocks - 1) / colBlocks));
  chunks = std::min<int64_t>(chunks, 65535);
  ScopedBlock part(static_cast<size_t>(2 * chunks * K) * sizeof(double), "layerNormBackward");
  double* pw = part.as<double>();
  double* pb = pw + chunks * K;
  if (M > 0) {
    layerNormBwdParamKernel<T><<<dim3(static_cast<unsigned>(colBlocks), static_cast<unsigned>(chunks)), 128, 0,
                                 stream()>>>(static_cast<const T*>(g), static_cast<const T*>(x),
                                             static_cast<const T*>(mean), static_cast<const T*>(rstd), pw, pb, M, K,
                                             chunks);
    IV_CUDA_LAUNCHED("layerNormBackward parameter-gradient kernel");
  } else {
    IV_CUDA_CHECK(cudaMemsetAsync(pw, 0, static_cast<size_t>(2 * chunks * K) * sizeof(double), stream()),
                  "layerNormBackward zero");
  }
  layerNormParamFinishKernel<T><<<static_cast<unsigned>(colBlocks), 128, 0, stream()>>>(
      pw, pb, static_cast<T*>(gw), gws, static_cast<T*>(gb), gbs, K, chunks);
  IV_CUDA_LAUNCHED("layerNormBackward parameter-gradient sum");
}

}  // namespace

void launchLayerNormForward(Dt dtype, const void* x, void* out, const void* w, int64_t ws, const void* b, int64_t bs,
                            void* mean, void* rstd, int64_t M, int64_t K, double eps) {
  if (dtype == kF32) forwardT<float>(x, out, w, ws, b, bs, mean, rstd, M, K, eps);
  else forwardT<double>(x, out, w, ws, b, bs, mean, rstd, M, K, eps);
}

void launchLayerNormBackward(Dt dtype, void* gx, void* gw, int64_t gws, void* gb, int64_t gbs, const void* g,
                             const void* x, const void* w, int64_t ws, const void* mean, const void* rstd, int64_t M,
                             int64_t K) {
  if (dtype == kF32) backwardT<float>(gx, gw, gws, gb, gbs, g, x, w, ws, mean, rstd, M, K);
  else backwardT<double>(gx, gw, gws, gb, gbs, g, x, w, ws, mean, rstd, M, K);
}

}  // namespace cuda
}  // namespace iv
