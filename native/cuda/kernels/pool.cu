// 2-d pooling on the GPU, NCHW planes, the CPU's semantics (native/cpu/ops/pool.cc): max
// (flat H*W index of each maximum kept; NaN wins; ties keep the first), average (PyTorch's
// padding and ceil-mode divisor rules) and adaptive average, with their backward passes.
// Forward: a thread per output. Backward: the input gradient is zeroed, then a thread per
// output adds its share into its window (atomics: windows may overlap).
#include <algorithm>
#include <cstdint>
#include "pool.cuh"

namespace iv {
namespace cuda {
namespace {

template <class T>
__device__ __forceinline__ bool isNan(T v) { return v != v; }

template <class T>
__global__ void maxFwd(PoolGeometry g, const T* __restrict__ x, T* __restrict__ y, int32_t* __restrict__ idx, int64_t total) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total; o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = o % g.Wo, t = o / g.Wo, r = t % g.Ho, pl = t / g.Ho;
    const T* xp = x + pl * g.H * g.W;
    int64_t h0 = r * g.sh - g.ph;
    const int64_t h1 = min(h0 + (g.kh - 1) * g.dh + 1, g.H);
    while (h0 < 0) h0 += g.dh;
    int64_t w0 = c * g.sw - g.pw;
    const int64_t w1 = min(w0 + (g.kw - 1) * g.dw + 1, g.W);
    while (w0 < 0) w0 += g.dw;
    int64_t best = h0 < h1 && w0 < w1 ? h0 * g.W + w0 : -1;
    T m = -INFINITY;
    for (int64_t h = h0; h < h1; h += g.dh)
      for (int64_t w = w0; w < w1; w += g.dw) {
        const T v = xp[h * g.W + w];
        if (v > m || isNan(v)) m = v, best = h * g.W + w;
      }
    y[o] = m;
    idx[o] = static_cast<int32_t>(best);
  }
}

template <class T>
__global__ void maxBwd(PoolGeometry g, const T* __restrict__ gy, const int32_t* __restrict__ idx, T* __restrict__ gx,
                       int64_t total) {
  const int64_t HW = g.H * g.W, HoWo = g.Ho * g.Wo;
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total; o += int64_t(gridDim.x) * blockDim.x) {
    const int32_t i = idx[o];
    // An index outside the plane (not from maxPool2d) is skipped rather than written.
    if (i >= 0 && i < HW) atomicAdd(gx + (o / HoWo) * HW + i, gy[o]);
  }
}

struct Win {
  int64_t h0, h1, w0, w1;
  double divisor;
};

__device__ __forceinline__ Win avgWindow(const PoolGeometry& g, int64_t r, int64_t c, bool includePad, int64_t div) {
  int64_t h0 = r * g.sh - g.ph, w0 = c * g.sw - g.pw;
  int64_t h1 = min(h0 + g.kh, g.H + g.ph), w1 = min(w0 + g.kw, g.W + g.pw);
  const int64_t padded = (h1 - h0) * (w1 - w0);
  h0 = h0 < 0 ? 0 : h0, w0 = w0 < 0 ? 0 : w0;
  h1 = min(h1, g.H), w1 = min(w1, g.W);
  const double d = div ? double(div) : includePad ? double(padded) : double((h1 - h0) * (w1 - w0));
  return {h0, h1, w0, w1, d};
}

template <class T>
__global__ void avgFwd(PoolGeometry g, const T* __restrict__ x, T* __restrict__ y, bool includePad, int64_t div,
                       int64_t total) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total; o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = o % g.Wo, t = o / g.Wo, r = t % g.Ho, pl = t / g.Ho;
    const T* xp = x + pl * g.H * g.W;
    const Win win = avgWindow(g, r, c, includePad, div);
    T s = 0;
    for (int64_t h = win.h0; h < win.h1; h++)
      for (int64_t w = win.w0; w < win.w1; w++) s += xp[h * g.W + w];
    y[o] = win.h1 > win.h0 && win.w1 > win.w0 ? T(s / win.divisor) : T(0);
  }
}

template <class T>
__global__ void avgBwd(PoolGeometry g, const T* __restrict__ gy, T* __restrict__ gx, bool includePad, int64_t div,
                       int64_t total) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total; o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = o % g.Wo, t = o / g.Wo, r = t % g.Ho, pl = t / g.Ho;
    T* gp = gx + pl * g.H * g.W;
    const Win win = avgWindow(g, r, c, includePad, div);
    const T v = T(gy[o] / win.divisor);
    for (int64_t h = win.h0; h < win.h1; h++)
      for (int64_t w = win.w0; w < win.w1; w++) atomicAdd(gp + h * g.W + w, v);
  }
}

__device__ __forceinline__ int64_t aStart(int64_t o, int64_t in, int64_t out) { return o * in / out; }
__device__ __forceinline__ int64_t aEnd(int64_t o, int64_t in, int64_t out) { return ((o + 1) * in + out - 1) / out; }

template <class T>
__global__ void adaptiveFwd(PoolGeometry g, const T* __restrict__ x, T* __restrict__ y, int64_t total) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total; o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = o % g.Wo, t = o / g.Wo, r = t % g.Ho, pl = t / g.Ho;
    const T* xp = x + pl * g.H * g.W;
    const int64_t h0 = aStart(r, g.H, g.Ho), h1 = aEnd(r, g.H, g.Ho);
    const int64_t w0 = aStart(c, g.W, g.Wo), w1 = aEnd(c, g.W, g.Wo);
    T s = 0;
    for (int64_t h = h0; h < h1; h++)
      for (int64_t w = w0; w < w1; w++) s += xp[h * g.W + w];
    y[o] = s / T((h1 - h0) * (w1 - w0));
  }
}

template <class T>
__global__ void adaptiveBwd(PoolGeometry g, const T* __restrict__ gy, T* __restrict__ gx, int64_t total) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total; o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = o % g.Wo, t = o / g.Wo, r = t % g.Ho, pl = t / g.Ho;
    T* gp = gx + pl * g.H * g.W;
    const int64_t h0 = aStart(r, g.H, g.Ho), h1 = aEnd(r, g.H, g.Ho);
    const int64_t w0 = aStart(c, g.W, g.Wo), w1 = aEnd(c, g.W, g.Wo);
    const T v = gy[o] / T((h1 - h0) * (w1 - w0));
    for (int64_t h = h0; h < h1; h++)
      for (int64_t w = w0; w < w1; w++) atomicAdd(gp + h * g.W + w, v);
  }
}

void zero(void* p, int64_t n, size_t elem, const char* what) {
  if (n > 0) IV_CUDA_CHECK(cudaMemsetAsync(p, 0, static_cast<size_t>(n) * elem, stream()), what);
}

}  // namespace

void poolMaxForward(Dt dt, const PoolGeometry& g, const void* x, void* y, int32_t* idx) {
  const int64_t total = g.planes * g.Ho * g.Wo;
  if (total == 0) return;
  if (dt == kF32) maxFwd<float><<<gridStrideBlocks(total), 256, 0, stream()>>>(g, (const float*)x, (float*)y, idx, total);
  else maxFwd<double><<<gridStrideBlocks(total), 256, 0, stream()>>>(g, (const double*)x, (double*)y, idx, total);
  IV_CUDA_LAUNCHED("maxPool2d kernel");
}

void poolMaxBackward(Dt dt, const PoolGeometry& g, const void* gy, const int32_t* idx, void* gx) {
  const size_t elem = dt == kF32 ? 4 : 8;
  zero(gx, g.planes * g.H * g.W, elem, "maxPool2dBackward zeroing");
  const int64_t total = g.planes * g.Ho * g.Wo;
  if (total == 0) return;
  if (dt == kF32) maxBwd<float><<<gridStrideBlocks(total), 256, 0, stream()>>>(g, (const float*)gy, idx, (float*)gx, total);
  else maxBwd<double><<<gridStrideBlocks(total), 256, 0, stream()>>>(g, (const double*)gy, idx, (double*)gx, total);
  IV_CUDA_LAUNCHED("maxPool2dBackward kernel");
}

void poolAvgForward(Dt dt, const PoolGeometry& g, const void* x, void* y, bool includePad, int64_t div) {
  const int64_t total = g.planes * g.Ho * g.Wo;
  if (total == 0) return;
  if (dt == kF32)
    avgFwd<float><<<gridStrideBlocks(total), 256, 0, stream()>>>(g, (const float*)x, (float*)y, includePad, div, total);
  else avgFwd<double><<<gridStrideBlocks(total), 256, 0, stream()>>>(g, (const double*)x, (double*)y, includePad, div, total);
  IV_CUDA_LAUNCHED("avgPool2d kernel");
}

void poolAvgBackward(Dt dt, const PoolGeometry& g, const void* gy, void* gx, bool includePad, int64_t div) {
  zero(gx, g.planes * g.H * g.W, dt == kF32 ? 4 : 8, "avgPool2dBackward zeroing");
  const int64_t total = g.planes * g.Ho * g.Wo;
  if (total == 0) return;
  if (dt == kF32)
    avgBwd<float><<<gridStrideBlocks(total), 256, 0, stream()>>>(g, (const float*)gy, (float*)gx, includePad, div, total);
  else avgBwd<double><<<gridStrideBlocks(total), 256, 0, stream()>>>(g, (const double*)gy, (double*)gx, includePad, div, total);
  IV_CUDA_LAUNCHED("avgPool2dBackward kernel");
}

void poolAdaptiveForward(Dt dt, const PoolGeometry& g, const void* x, void* y) {
  const int64_t total = g.planes * g.Ho * g.Wo;
  if (total == 0) return;
  if (dt == kF32) adaptiveFwd<float><<<gridStrideBlocks(total), 256, 0, stream()>>>(g, (const float*)x, (float*)y, total);
  else adaptiveFwd<double><<<gridStrideBlocks(total), 256, 0, stream()>>>(g, (const double*)x, (double*)y, total);
  IV_CUDA_LAUNCHED("adaptiveAvgPool2d kernel");
}

void poolAdaptiveBackward(Dt dt, const PoolGeometry& g, const void* gy, void* gx) {
  zero(gx, g.planes * g.H * g.W, dt == kF32 ? 4 : 8, "adaptiveAvgPool2dBackward zeroing");
  const int64_t total = g.planes * g.Ho * g.Wo;
  if (total == 0) return;
  if (dt == kF32) adaptiveBwd<float><<<gridStrideBlocks(total), 256, 0, stream()>>>(g, (const float*)gy, (float*)gx, total);
  else adaptiveBwd<double><<<gridStrideBlocks(total), 256, 0, stream()>>>(g, (const double*)gy, (double*)gx, total);
  IV_CUDA_LAUNCHED("adaptiveAvgPool2dBackward kernel");
}

}  // namespace cuda
}  // namespace iv
