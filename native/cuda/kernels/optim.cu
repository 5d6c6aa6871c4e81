// Fused optimizer steps (native/cpu/ops/optim.cc's contract and arithmetic, operation by
// operation in the tensor's precision): one pass over memory per parameter. The norm helpers
// sum fixed per-block partials in double, then the partials in order on one block, so a
// result does not depend on scheduling; they return to the host (one synchronisation).
#include <algorithm>
#include <cmath>
#include "../allocator.h"
#include "../common.h"
#include "optim.cuh"

namespace iv {
namespace cuda {
namespace {

constexpr int kThreads = 256;

#define IV_GRID_LOOP(i, n)                                                                               \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

template <class T>
__global__ void sgdKernel(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ buf, int64_t n, T gsign, T wd,
                          T mom, T damp1, T negLr, T trust, bool useWd, bool scaled, bool first, bool nest) {
  IV_GRID_LOOP(i, n) {
    T d = gsign * g[i];
    if (useWd) d = d + wd * p[i];
    if (scaled) d = d * trust;
    if (buf) {
      const T m = first ? d : buf[i] * mom + damp1 * d;
      buf[i] = m;
      d = nest ? d + mom * m : m;
    }
    p[i] = p[i] + negLr * d;
  }
}

template <class T>
__global__ void adamKernel(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ m, T* __restrict__ v,
                           T* __restrict__ vmax, int64_t n, T gsign, T decay, T wd, T b1, T omb1, T b2, T omb2,
                           T bc2sqrt, T eps, T negStep, bool decoupled, bool useWd) {
  IV_GRID_LOOP(i, n) {
    T gi = gsign * g[i];
    T pi = p[i];
    if (decoupled) {
      if (useWd) pi = pi * decay;
    } else if (useWd) {
      gi = gi + wd * pi;
    }
    const T mi = m[i] * b1 + omb1 * gi;
    const T vi = v[i] * b2 + omb2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    T vv = vi;
    if (vmax) {
      const T vm = vmax[i];
      vv = (vm < vi || vi != vi) ? vi : vm;
      vmax[i] = vv;
    }
    const T denom = sqrt(vv) / bc2sqrt + eps;
    p[i] = pi + negStep * mi / denom;
  }
}

template <class T>
__global__ void emaKernel(T* __restrict__ e, const T* __restrict__ x, int64_t n, T decay, T omd) {
  IV_GRID_LOOP(i, n) e[i] = e[i] * decay + omd * x[i];
}

template <class T>
__global__ void scaleKernel(T* __restrict__ x, int64_t n, T c) {
  IV_GRID_LOOP(i, n) x[i] = x[i] * c;
}

// kind: 0 sum of squares, 1 sum of |x|, 2 sum of |x|^p, 3 max |x| (NaN wins).
template <class T>
__global__ void normPartialKernel(const T* __restrict__ x, int64_t n, int kind, double p, double* __restrict__ part) {
  __shared__ double sh[kThreads / 32];
  double acc = 0;
  IV_GRID_LOOP(i, n) {
    const double v = fabs(static_cast<double>(x[i]));
    switch (kind) {
      case 0: acc += v * v; break;
      case 1: acc += v; break;
      case 2: acc += pow(v, p); break;
      default: acc = (v > acc || v != v || acc != acc) ? (acc != acc ? acc : v) : acc;
    }
  }
  for (int o = 16; o > 0; o >>= 1) {
    const double w = __shfl_xor_sync(0xffffffffu, acc, o);
    acc = kind == 3 ? ((w > acc || w != w) && acc == acc ? w : acc) : acc + w;
  }
  if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = acc;
  __syncthreads();
  if (threadIdx.x == 0) {
    double r = sh[0];
    for (int i = 1; i < kThreads / 32; i++) r = kind == 3 ? ((sh[i] > r || sh[i] != sh[i]) && r == r ? sh[i] : r) : r + sh[i];
    part[blockIdx.x] = r;
  }
}

__global__ void normFinishKernel(const double* __restrict__ part, int blocks, int kind, double* out) {
  if (threadIdx.x || blockIdx.x) return;
  double r = 0;
  for (int i = 0; i < blocks; i++) {
    const double v = part[i];
    r = kind == 3 ? ((v > r || v != v) && r == r ? v : r) : r + v;
  }
  *out = r;
}

}  // namespace

void launchSgd(Dt dtype, void* p, const void* g, void* buf, int64_t n, double gsign, double wd, double mom,
               double damp1, double lr, double trust, bool scaled, bool nesterov, bool first) {
  if (n == 0) return;
  auto run = [&](auto tag) {
    using T = decltype(tag);
    sgdKernel<T><<<gridStrideBlocks(n, kThreads), kThreads, 0, stream()>>>(static_cast<T*>(p), static_cast<const T*>(g),
                                                        static_cast<T*>(buf), n, T(gsign), T(wd), T(mom), T(damp1),
                                                        T(-lr), T(trust), wd != 0, scaled, buf && first,
                                                        buf && nesterov);
  };
  if (dtype == kF32) run(float{});
  else run(double{});
  IV_CUDA_LAUNCHED("sgdStep kernel");
}

void launchAdam(Dt dtype, bool decoupled, void* p, const void* g, void* m, void* v, void* vmax, int64_t n, double lr,
                double b1, double b2, double eps, double wd, int64_t step, bool maximize) {
  if (n == 0) return;
  const double bc1 = 1.0 - std::pow(b1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(b2, static_cast<double>(step));
  auto run = [&](auto tag) {
    using T = decltype(tag);
    adamKernel<T><<<gridStrideBlocks(n, kThreads), kThreads, 0, stream()>>>(
        static_cast<T*>(p), static_cast<const T*>(g), static_cast<T*>(m), static_cast<T*>(v), static_cast<T*>(vmax),
        n, T(maximize ? -1.0 : 1.0), T(1.0 - lr * wd), T(wd), T(b1), T(1.0 - b1), T(b2), T(1.0 - b2),
        T(std::sqrt(bc2)), T(eps), T(-(lr / bc1)), decoupled, wd != 0);
  };
  if (dtype == kF32) run(float{});
  else run(double{});
  IV_CUDA_LAUNCHED(decoupled ? "adamwStep kernel" : "adamStep kernel");
}

void launchEma(Dt dtype, void* e, const void* x, int64_t n, double decay) {
  if (n == 0) return;
  if (dtype == kF32)
    emaKernel<float><<<gridStrideBlocks(n, kThreads), kThreads, 0, stream()>>>(static_cast<float*>(e), static_cast<const float*>(x), n,
                                                             float(decay), float(1.0 - decay));
  else
    emaKernel<double><<<gridStrideBlocks(n, kThreads), kThreads, 0, stream()>>>(static_cast<double*>(e), static_cast<const double*>(x),
                                                              n, decay, 1.0 - decay);
  IV_CUDA_LAUNCHED("emaUpdate kernel");
}

void launchScale(Dt dtype, void* x, int64_t n, double c) {
  if (n == 0) return;
  if (dtype == kF32) scaleKernel<float><<<gridStrideBlocks(n, kThreads), kThreads, 0, stream()>>>(static_cast<float*>(x), n, float(c));
  else scaleKernel<double><<<gridStrideBlocks(n, kThreads), kThreads, 0, stream()>>>(static_cast<double*>(x), n, c);
  IV_CUDA_LAUNCHED("optimScale kernel");
}

// sum |x|^p (kind 0..2) or max |x| (kind 3) over n elements, on the host (synchronises).
double normPow(Dt dtype, const void* x, int64_t n, int kind, double p) {
  if (n == 0) return 0;
  const unsigned blocks = std::min<unsigned>(gridStrideBlocks(n, kThreads), 1024);
  ScopedBlock part((blocks + 1) * sizeof(double), "optimNormPow");
  double* dev = part.as<double>();
  if (dtype == kF32)
    normPartialKernel<float><<<blocks, kThreads, 0, stream()>>>(static_cast<const float*>(x), n, kind, p, dev + 1);
  else
    normPartialKernel<double><<<blocks, kThreads, 0, stream()>>>(static_cast<const double*>(x), n, kind, p, dev + 1);
  IV_CUDA_LAUNCHED("norm partial sums");
  normFinishKernel<<<1, 1, 0, stream()>>>(dev + 1, static_cast<int>(blocks), kind, dev);
  IV_CUDA_LAUNCHED("norm final sum");
  double r = 0;
  IV_CUDA_CHECK(cudaMemcpyAsync(&r, dev, sizeof(double), cudaMemcpyDeviceToHost, stream()), "norm read");
  IV_CUDA_CHECK(cudaStreamSynchronize(stream()), "norm sync");
  return r;
}

}  // namespace cuda
}  // namespace iv
