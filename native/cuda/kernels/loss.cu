// Cross-entropy with the softmax fused in (native/cpu/ops/loss.cc's contract): logits a
// contiguous [N, C, S] view, targets int32 [N, S] class indices or float [N, C, S]
// probabilities, optional class weights (any stride). Forward saves the logsumexp per
// position; backward recomputes the probabilities from it. S == 1: a block per row (class
// loops split over threads); S > 1: a thread per position (loads coalesced along S).
#include <algorithm>
#include <cmath>
#include "../allocator.h"
#include "../common.h"
#include "block.cuh"
#include "loss.cuh"

namespace iv {
namespace cuda {
namespace {

struct CeArgs {
  int64_t N, C, S;
  bool probs;
  int64_t ignore;
  double smoothing;
  const void* w;  // null: ones
  int64_t ws;
};

template <class T>
__device__ __forceinline__ double wAt(const CeArgs& P, int64_t c) {
  return P.w ? static_cast<double>(static_cast<const T*>(P.w)[c * P.ws]) : 1.0;
}

// Sums over the classes of one position: by `step` threads starting at `first`.
struct Sums {
  double a, b, wx, wsum;
};

template <class T>
__device__ Sums positionSums(const CeArgs& P, const T* x, int64_t xs, const T* t, int64_t first, int64_t step) {
  const double e = P.smoothing, C = static_cast<double>(P.C);
  Sums s{0, 0, 0, 0};
  for (int64_t c = first; c < P.C; c += step) {
    const double w = wAt<T>(P, c);
    if (P.probs) {
      const double tw = w * ((1 - e) * t[c * xs] + e / C);
      s.a += tw;
      s.b += tw * x[c * xs];
    } else if (e > 0) {
      s.wx += w * x[c * xs];
      s.wsum += w;
    }
  }
  return s;
}

template <class T>
__device__ double lossFrom(const CeArgs& P, const T* x, int64_t xs, int32_t y, double lse, const Sums& s) {
  const double e = P.smoothing, C = static_cast<double>(P.C);
  if (P.probs) return lse * s.a - s.b;
  if (y == P.ignore) return 0;
  if (y < 0 || y >= P.C) return NAN;
  double loss = (1 - e) * wAt<T>(P, y) * (lse - x[y * xs]);
  if (e > 0) loss += e / C * (lse * s.wsum - s.wx);
  return loss;
}

template <class T>
__global__ void ceFwdRowsKernel(CeArgs P, const T* __restrict__ x, const T* __restrict__ tp,
                                const int32_t* __restrict__ ti, T* __restrict__ loss, T* __restrict__ lse) {
  __shared__ double sh[32];
  __shared__ T shT[32];
  const int64_t n = blockIdx.x;
  const T* row = x + n * P.C;
  T m = -INFINITY;
  for (int64_t c = threadIdx.x; c < P.C; c += blockDim.x) m = row[c] > m ? row[c] : m;
  m = blockReduce<T, true>(m, shT);
  double s = 0;
  for (int64_t c = threadIdx.x; c < P.C; c += blockDim.x) s += static_cast<double>(dexp<T>(row[c] - m));
  s = blockReduce<double, false>(s, sh);
  Sums q = positionSums<T>(P, row, 1, P.probs ? tp + n * P.C : nullptr, threadIdx.x, blockDim.x);
  q.a = blockReduce<double, false>(q.a, sh);
  q.b = blockReduce<double, false>(q.b, sh);
  q.wx = blockReduce<double, false>(q.wx, sh);
  q.wsum = blockReduce<double, false>(q.wsum, sh);
  if (threadIdx.x == 0) {
    const double l = m + ::log(s);
    lse[n] = static_cast<T>(l);
    loss[n] = static_cast<T>(lossFrom<T>(P, row, 1, P.probs ? 0 : ti[n], l, q));
  }
}

template <class T>
__global__ void ceFwdColumnsKernel(CeArgs P, const T* __restrict__ x, const T* __restrict__ tp,
                                   const int32_t* __restrict__ ti, T* __restrict__ loss, T* __restrict__ lse) {
  const int64_t pos = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (pos >= P.N * P.S) return;
  const int64_t n = pos / P.S, s0 = pos % P.S, off = n * P.C * P.S + s0;
  const T* base = x + off;
  double m = -INFINITY, s = 0;
  for (int64_t c = 0; c < P.C; c++) m = fmax(m, static_cast<double>(base[c * P.S]));
  for (int64_t c = 0; c < P.C; c++) s += ::exp(base[c * P.S] - m);
  const double l = m + ::log(s);
  const Sums q = positionSums<T>(P, base, P.S, P.probs ? tp + off : nullptr, 0, 1);
  lse[pos] = static_cast<T>(l);
  loss[pos] = static_cast<T>(lossFrom<T>(P, base, P.S, P.probs ? 0 : ti[pos], l, q));
}

// d loss / d x[c] = g * (p[c] * k - extra[c]), as the CPU's positionGrad. A target out of
// range (which the forward pass refused) gives NaN gradients.
template <class T>
__device__ void positionGrad(const CeArgs& P, const T* x, int64_t xs, const T* t, int32_t y, double lse, double g,
                             T* out, int64_t first, int64_t step, double k) {
  const double e = P.smoothing, C = static_cast<double>(P.C);
  if (!P.probs && y == P.ignore) {
    for (int64_t c = first; c < P.C; c += step) out[c * xs] = 0;
    return;
  }
  const bool bad = !P.probs && (y < 0 || y >= P.C);
  for (int64_t c = first; c < P.C; c += step) {
    const double p = ::exp(static_cast<double>(x[c * xs]) - lse);
    const double w = wAt<T>(P, c);
    const double extra = P.probs ? w * ((1 - e) * t[c * xs] + e / C) : e / C * w;
    double v = static_cast<double>(static_cast<T>(g * (p * k - extra)));
    if (!P.probs && c == y) v = static_cast<T>(static_cast<T>(v) - g * (1 - e) * w);
    out[c * xs] = bad ? static_cast<T>(NAN) : static_cast<T>(v);
  }
}

template <class T>
__device__ double gradK(const CeArgs& P, const T* t, int64_t xs, int32_t y, double wsum) {
  const double e = P.smoothing, C = static_cast<double>(P.C);
  if (!P.probs) return (y < 0 || y >= P.C) ? 0.0 : (1 - e) * wAt<T>(P, y) + e / C * wsum;
  double k = 0;
  for (int64_t c = 0; c < P.C; c++) k += wAt<T>(P, c) * ((1 - e) * t[c * xs] + e / C);
  return k;
}

template <class T>
__global__ void ceBwdKernel(CeArgs P, const T* __restrict__ x, const T* __restrict__ tp,
                            const int32_t* __restrict__ ti, const T* __restrict__ lse, const T* __restrict__ gl,
                            int64_t gs0, int64_t gs1, double scale, double wsum, T* __restrict__ gx, bool rows) {
  // rows: a block per position (S == 1); otherwise a thread per position.
  const int64_t q = rows ? blockIdx.x : blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (q >= P.N * P.S) return;
  const int64_t n = q / P.S, s = q % P.S, off = n * P.C * P.S + s;
  const double g = static_cast<double>(gl[n * gs0 + s * gs1]) * scale;
  const T* t = P.probs ? tp + off : nullptr;
  const int32_t y = P.probs ? 0 : ti[q];
  const double k = gradK<T>(P, t, P.S, y, wsum);
  positionGrad<T>(P, x + off, P.S, t, y, lse[q], g, gx + off, rows ? threadIdx.x : 0, rows ? blockDim.x : 1, k);
}

// The 'mean' denominator and the count of out-of-range targets (first one kept).
__global__ void ceTargetsKernel(const int32_t* __restrict__ t, int64_t n, int64_t C, int64_t ignore, const void* w,
                                int64_t ws, bool f32, double* denom, unsigned long long* bad, int* firstBad) {
  __shared__ double sh[32];
  double d = 0;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int32_t y = t[i];
    if (y == ignore) continue;
    if (y < 0 || y >= C) {
      atomicAdd(bad, 1ull);
      atomicCAS(firstBad, 0x7fffffff, y);
      continue;
    }
    d += w ? (f32 ? static_cast<const float*>(w)[y * ws] : static_cast<const double*>(w)[y * ws]) : 1.0;
  }
  for (int o = 16; o > 0; o >>= 1) d += __shfl_xor_sync(0xffffffffu, d, o);
  if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = d;
  __syncthreads();
  if (threadIdx.x == 0) {
    double s = 0;
    for (int i = 0; i < (blockDim.x + 31) / 32; i++) s += sh[i];
    atomicAdd(denom, s);
  }
}

__global__ void weightSumKernel(const void* w, int64_t ws, bool f32, int64_t C, double* out) {
  if (threadIdx.x || blockIdx.x) return;
  double s = 0;
  for (int64_t c = 0; c < C; c++)
    s += w ? (f32 ? static_cast<const float*>(w)[c * ws] : static_cast<const double*>(w)[c * ws]) : 1.0;
  *out = s;
}

CeArgs makeArgs(int64_t N, int64_t C, int64_t S, bool probs, int64_t ignore, double smoothing, const void* w,
                int64_t ws) {
  CeArgs P;
  P.N = N, P.C = C, P.S = S, P.probs = probs, P.ignore = ignore, P.smoothing = smoothing, P.w = w, P.ws = ws;
  return P;
}

int classThreads(int64_t C) { return C >= 1024 ? 256 : C >= 128 ? 128 : 32; }

}  // namespace

// Checks class-index targets on the device: returns the denominator; `bad` gets the number
// out of range and `firstBad` one of them. Synchronises (the host needs the answer).
double ceTargets(const int32_t* t, int64_t n, int64_t C, int64_t ignore, const void* w, int64_t ws, bool f32,
                 long long& bad, int& firstBad) {
  struct R {
    double denom;
    unsigned long long bad;
    int first;
  };
  R host{0, 0, 0x7fffffff};
  ScopedBlock block(sizeof(R), "crossEntropyForward");
  R* dev = block.as<R>();
  IV_CUDA_CHECK(cudaMemcpyAsync(dev, &host, sizeof(R), cudaMemcpyHostToDevice, stream()), "crossEntropy targets init");
  if (n > 0) {
    const int64_t blocks = std::min<int64_t>((n + 255) / 256, 4 * smCount());
    ceTargetsKernel<<<static_cast<unsigned>(blocks), 256, 0, stream()>>>(t, n, C, ignore, w, ws, f32, &dev->denom,
                                                                        &dev->bad, &dev->first);
    IV_CUDA_LAUNCHED("crossEntropy target check");
  }
  IV_CUDA_CHECK(cudaMemcpyAsync(&host, dev, sizeof(R), cudaMemcpyDeviceToHost, stream()), "crossEntropy targets read");
  IV_CUDA_CHECK(cudaStreamSynchronize(stream()), "crossEntropy targets sync");
  bad = static_cast<long long>(host.bad);
  firstBad = host.first;
  return host.denom;
}

void launchCrossEntropyForward(Dt dtype, int64_t N, int64_t C, int64_t S, bool probs, int64_t ignore,
                               double smoothing, const void* w, int64_t ws, const void* x, const void* target,
                               void* loss, void* lse) {
  const CeArgs P = makeArgs(N, C, S, probs, ignore, smoothing, w, ws);
  if (N * S == 0) return;
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const T* tp = probs ? static_cast<const T*>(target) : nullptr;
    const int32_t* ti = probs ? nullptr : static_cast<const int32_t*>(target);
    if (S == 1)
      ceFwdRowsKernel<T><<<static_cast<unsigned>(N), classThreads(C), 0, stream()>>>(
          P, static_cast<const T*>(x), tp, ti, static_cast<T*>(loss), static_cast<T*>(lse));
    else
      ceFwdColumnsKernel<T><<<static_cast<unsigned>((N * S + 127) / 128), 128, 0, stream()>>>(
          P, static_cast<const T*>(x), tp, ti, static_cast<T*>(loss), static_cast<T*>(lse));
  };
  if (dtype == kF32) run(float{});
  else run(double{});
  IV_CUDA_LAUNCHED("crossEntropyForward kernel");
}

void launchCrossEntropyBackward(Dt dtype, int64_t N, int64_t C, int64_t S, bool probs, int64_t ignore,
                                double smoothing, const void* w, int64_t ws, const void* x, const void* target,
                                const void* lse, const void* gl, int64_t gs0, int64_t gs1, double scale, void* gx) {
  const CeArgs P = makeArgs(N, C, S, probs, ignore, smoothing, w, ws);
  if (N * S == 0) return;
  // sum(w) on the device, read by the kernel through a pointer would need a sync to pass
  // by value; it is only needed for smoothing with class indices.
  double wsum = static_cast<double>(C);
  if (w && smoothing > 0 && !probs) {
    ScopedBlock block(sizeof(double), "crossEntropyBackward");
    double* dev = block.as<double>();
    weightSumKernel<<<1, 1, 0, stream()>>>(w, ws, dtype == kF32, C, dev);
    IV_CUDA_LAUNCHED("crossEntropyBackward weight sum");
    IV_CUDA_CHECK(cudaMemcpyAsync(&wsum, dev, sizeof(double), cudaMemcpyDeviceToHost, stream()), "crossEntropy wsum");
    IV_CUDA_CHECK(cudaStreamSynchronize(stream()), "crossEntropy wsum sync");
  }
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const T* tp = probs ? static_cast<const T*>(target) : nullptr;
    const int32_t* ti = probs ? nullptr : static_cast<const int32_t*>(target);
    const bool rows = S == 1;
    const int64_t n = N * S;
    ceBwdKernel<T><<<static_cast<unsigned>(rows ? n : (n + 127) / 128), rows ? classThreads(C) : 128, 0, stream()>>>(
        P, static_cast<const T*>(x), tp, ti, static_cast<const T*>(lse), static_cast<const T*>(gl), gs0, gs1, scale,
        wsum, static_cast<T*>(gx), rows);
  };
  if (dtype == kF32) run(float{});
  else run(double{});
  IV_CUDA_LAUNCHED("crossEntropyBackward kernel");
}

}  // namespace cuda
}  // namespace iv
