// Reductions over the trailing dims with the CPU's semantics (native/cpu/ops/reduce.cc):
// double accumulation, NaN wins in max/min/argmax/argmin (first index on ties), NaN-aware
// logsumexp, var with a correction. Each reducer has a State, update, an order-free
// combine and finalize; one kernel template runs them all: a group of threads (1, a warp
// or the block) per output, warp shuffles and shared memory to combine, and a second
// pass over per-split partial states when the outputs alone cannot fill the GPU.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <type_traits>
#include "../allocator.h"
#include "reduce.cuh"

namespace iv {
namespace cuda {
namespace {

constexpr int kThreads = 256;

template <class O>
__device__ __forceinline__ O fromDouble(double v) {
  if constexpr (std::is_floating_point<O>::value) return static_cast<O>(v);
  return static_cast<O>(static_cast<int64_t>(v));  // integers wrap, as the CPU's conversion does in range
}

template <class T, class O, bool Mean>
struct Sum {
  using State = double;
  __device__ State init() const { return 0; }
  __device__ void update(State& s, T v, int64_t) const { s += static_cast<double>(v); }
  __device__ State combine(State a, State b) const { return a + b; }
  __device__ O finalize(State s, int64_t count) const {
    return fromDouble<O>(Mean ? s / static_cast<double>(count) : s);
  }
};

template <class T, class O>
struct Prod {
  using State = double;
  __device__ State init() const { return 1; }
  __device__ void update(State& s, T v, int64_t) const { s *= static_cast<double>(v); }
  __device__ State combine(State a, State b) const { return a * b; }
  __device__ O finalize(State s, int64_t) const { return fromDouble<O>(s); }
};

// The value in the tensor's own type (float stays float: comparisons are exact either
// way), integers as int; i == kNoIndex marks a state that has seen no element.
template <class V>
struct ValueIndex {
  V v;
  int64_t i;
};
constexpr int64_t kNoIndex = INT64_MAX;

// max/min and their indices: NaN beats any number, the lower index breaks ties.
template <class T, class O, bool IsMax, bool Index>
struct Extreme {
  using V = typename std::conditional<std::is_floating_point<T>::value, T, int>::type;
  using State = ValueIndex<V>;
  __device__ State init() const { return {V(0), kNoIndex}; }
  __device__ State combine(State a, State b) const {
    if (a.i == kNoIndex) return b;
    if (b.i == kNoIndex) return a;
    const bool an = a.v != a.v, bn = b.v != b.v;
    if (an || bn) return (an && bn) ? (a.i <= b.i ? a : b) : (an ? a : b);
    if (IsMax ? b.v > a.v : b.v < a.v) return b;
    return (b.v == a.v && b.i < a.i) ? b : a;
  }
  // combine(s, {v, i}) for a thread that visits its indices in increasing order (every
  // loop here does), so i > s.i and a tie or a later NaN never replaces s: the CPU's
  // running max (strict comparison, first NaN wins) in a compare and two selects.
  __device__ __forceinline__ void update(State& s, T tv, int64_t i) const {
    const V v = static_cast<V>(tv);
    if (s.i == kNoIndex || (s.v == s.v && (v != v || (IsMax ? v > s.v : v < s.v)))) s = {v, i};
  }
  __device__ O finalize(State s, int64_t) const {
    if constexpr (Index) return static_cast<O>(s.i);
    return static_cast<O>(s.v);
  }
};

// Online logsumexp. As on the CPU, the maximum ignores NaN, a NaN term makes the sum NaN,
// and an infinite maximum is the result.
struct MaxSum {
  double m, s;
  int nan;
};
template <class T, class O>
struct LogSumExp {
  using State = MaxSum;
  __device__ State init() const { return {-HUGE_VAL, 0, 0}; }
  __device__ void update(State& st, T tv, int64_t) const {
    const double v = static_cast<double>(tv);
    if (v != v) st.nan = 1;
    else if (v == -HUGE_VAL) return;
    else if (v > st.m) {
      st.s = st.s * exp(st.m - v) + 1;
      st.m = v;
    } else st.s += exp(v - st.m);
  }
  __device__ State combine(State a, State b) const {
    const int nan = a.nan | b.nan;
    if (b.m == -HUGE_VAL) return {a.m, a.s, nan};
    if (a.m == -HUGE_VAL) return {b.m, b.s, nan};
    const double m = a.m > b.m ? a.m : b.m;
    return {m, a.s * exp(a.m - m) + b.s * exp(b.m - m), nan};
  }
  __device__ O finalize(State st, int64_t) const {
    if (isinf(st.m)) return static_cast<O>(st.m);
    return static_cast<O>(st.nan ? NAN : st.m + log(st.s));
  }
};

// Welford per thread, Chan's formula to combine.
struct Moments {
  double n, mean, m2;
};
template <class T, class O>
struct Variance {
  using State = Moments;
  double correction;
  __device__ State init() const { return {0, 0, 0}; }
  __device__ void update(State& s, T tv, int64_t) const {
    const double v = static_cast<double>(tv);
    s.n += 1;
    const double d = v - s.mean;
    s.mean += d / s.n;
    s.m2 += d * (v - s.mean);
  }
  __device__ State combine(State a, State b) const {
    if (a.n == 0) return b;
    if (b.n == 0) return a;
    const double n = a.n + b.n, d = b.mean - a.mean;
    return {n, a.mean + d * (b.n / n), a.m2 + b.m2 + d * d * (a.n * b.n / n)};
  }
  __device__ O finalize(State s, int64_t count) const {
    const double denom = static_cast<double>(count) - correction;
    return static_cast<O>(denom > 0 ? s.m2 / denom : NAN);
  }
};

constexpr unsigned kFullMask = 0xffffffffu;
__device__ __forceinline__ double shuffleDown(double v, int d) { return __shfl_down_sync(kFullMask, v, d); }
template <class V>
__device__ __forceinline__ ValueIndex<V> shuffleDown(ValueIndex<V> s, int d) {
  return {__shfl_down_sync(kFullMask, s.v, d), __shfl_down_sync(kFullMask, s.i, d)};
}
__device__ __forceinline__ MaxSum shuffleDown(MaxSum s, int d) {
  return {__shfl_down_sync(kFullMask, s.m, d), __shfl_down_sync(kFullMask, s.s, d), __shfl_down_sync(kFullMask, s.nan, d)};
}
__device__ __forceinline__ Moments shuffleDown(Moments s, int d) {
  return {__shfl_down_sync(kFullMask, s.n, d), __shfl_down_sync(kFullMask, s.mean, d),
          __shfl_down_sync(kFullMask, s.m2, d)};
}

template <class Red, class S>
__device__ __forceinline__ S warpCombine(const Red& red, S s) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) s = red.combine(s, shuffleDown(s, d));
  return s;
}

__device__ __forceinline__ int64_t offsetOf(const Layout& L, int operand, int64_t i) {
  int64_t off = 0;
  for (int d = L.ndim - 1; d >= 0; d--) {
    const int64_t q = i / L.shape[d];
    off += (i - q * L.shape[d]) * L.strides[operand][d];
    i = q;
  }
  return off;
}

template <class T, int V>
struct alignas(sizeof(T) * V) VecOf {
  T v[V];
};

// `group` threads reduce one output over the reduced indices [y * chunk, (y + 1) * chunk).
template <class Red, class T, class O>
__global__ void __launch_bounds__(kThreads) reduceKernel(const T* __restrict__ x, Layout outer, Layout inner,
                                                         int64_t outN, int64_t count, int64_t chunk, int group,
                                                         typename Red::State* partial, O* out, Red red) {
  using S = typename Red::State;
  const int64_t o = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / group;
  const int lane = threadIdx.x % group;
  const int64_t begin = int64_t(blockIdx.y) * chunk;
  const int64_t end = min(count, begin + chunk);
  S s = red.init();
  if (o < outN) {
    const T* base = x + offsetOf(outer, 1, o);
    if (inner.ndim == 1 && inner.strides[0][0] == 1 && group >= 32) {
      // A contiguous run: 16-byte loads for the aligned middle. Each thread still visits
      // its indices in increasing order (head, then middle, then tail).
      constexpr int VW = 16 / sizeof(T);
      const T* p = base + begin;
      const int64_t len = end - begin;
      const int64_t mis = static_cast<int64_t>(reinterpret_cast<uintptr_t>(p) % 16) / int64_t(sizeof(T));
      const int64_t head = min(len, mis == 0 ? int64_t(0) : int64_t(VW) - mis);
      for (int64_t k = lane; k < head; k += group) red.update(s, p[k], begin + k);
      const int64_t nv = (len - head) / VW;
      const VecOf<T, VW>* pv = reinterpret_cast<const VecOf<T, VW>*>(p + head);
#pragma unroll 4
      for (int64_t k = lane; k < nv; k += group) {
        const VecOf<T, VW> q = pv[k];
        const int64_t i0 = begin + head + k * VW;
#pragma unroll
        for (int j = 0; j < VW; j++) red.update(s, q.v[j], i0 + j);
      }
      for (int64_t k = head + nv * VW + lane; k < len; k += group) red.update(s, p[k], begin + k);
    } else if (inner.ndim <= 1) {
      const int64_t st = inner.ndim == 0 ? 0 : inner.strides[0][0];
#pragma unroll 4
      for (int64_t i = begin + lane; i < end; i += group) red.update(s, base[i * st], i);
    } else {
      for (int64_t i = begin + lane; i < end; i += group) red.update(s, base[offsetOf(inner, 0, i)], i);
    }
  }
  if (group >= 32) s = warpCombine(red, s);
  if (group > 32) {
    __shared__ S warpStates[kThreads / 32];
    const int warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
    if (threadIdx.x % 32 == 0) warpStates[warp] = s;
    __syncthreads();
    if (warp == 0) {
      s = threadIdx.x < nwarps ? warpStates[threadIdx.x] : red.init();
      s = warpCombine(red, s);
    }
  }
  if (lane == 0 && o < outN) {
    if (gridDim.y == 1) out[o] = red.finalize(s, count);
    else partial[int64_t(blockIdx.y) * outN + o] = s;
  }
}

template <class Red, class O>
__global__ void __launch_bounds__(kThreads) finishKernel(const typename Red::State* partial, int splits, int64_t outN,
                                                         int64_t count, O* out, Red red) {
  const int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (o >= outN) return;
  typename Red::State s = partial[o];
  for (int k = 1; k < splits; k++) s = red.combine(s, partial[int64_t(k) * outN + o]);
  out[o] = red.finalize(s, count);
}

template <class Red, class T, class O>
void run(const Red& red, const Layout& outer, const Layout& inner, int64_t outN, int64_t count, void* outPtr,
         const void* xPtr) {
  using S = typename Red::State;
  const T* x = static_cast<const T*>(xPtr);
  O* out = static_cast<O*>(outPtr);
  const bool innerUnit = inner.ndim >= 1 && inner.strides[0][inner.ndim - 1] == 1;
  const bool outerUnit = outer.ndim >= 1 && outer.strides[1][outer.ndim - 1] == 1;
  // Coalescing decides who cooperates: across outputs when they are adjacent in memory and
  // the reduced elements are not, else across the reduced elements of one output.
  const int group = (!innerUnit && outerUnit) ? 1 : count <= 512 ? 32 : kThreads;
  const int64_t perBlock = kThreads / group;
  const int64_t blocksX = (outN + perBlock - 1) / perBlock;
  const int64_t target = int64_t(smCount()) * 4;
  const int64_t minChunk = group == 1 ? 64 : int64_t(group) * 16;
  int64_t splits = 1;
  if (blocksX < target && count > 2 * minChunk)
    splits = std::min<int64_t>({(target + blocksX - 1) / blocksX, count / minChunk, int64_t(65535)});
  const int64_t chunk = (count + splits - 1) / splits;
  splits = (count + chunk - 1) / chunk;
  if (blocksX > 0x7fffffff) throw CudaError("too many outputs (" + std::to_string(outN) + ")");
  const dim3 grid(static_cast<unsigned>(blocksX), static_cast<unsigned>(splits));
  if (splits == 1) {
    reduceKernel<Red, T, O><<<grid, kThreads, 0, stream()>>>(x, outer, inner, outN, count, chunk, group, nullptr, out, red);
    IV_CUDA_LAUNCHED("reduce");
    return;
  }
  ScopedBlock partial(static_cast<size_t>(splits * outN) * sizeof(S), "reduce");
  reduceKernel<Red, T, O><<<grid, kThreads, 0, stream()>>>(x, outer, inner, outN, count, chunk, group, partial.as<S>(),
                                                            out, red);
  IV_CUDA_LAUNCHED("reduce");
  finishKernel<Red, O><<<static_cast<unsigned>((outN + kThreads - 1) / kThreads), kThreads, 0, stream()>>>(
      partial.as<S>(), static_cast<int>(splits), outN, count, out, red);
  IV_CUDA_LAUNCHED("reduce (second pass)");
}

// The ops every dtype has: sum, prod, max, min, argmax, argmin (indices are int32).
template <class T>
void common(R op, const Layout& outer, const Layout& inner, int64_t outN, int64_t count, void* out, const void* x) {
  switch (op) {
    case R::sum: return run<Sum<T, T, false>, T, T>({}, outer, inner, outN, count, out, x);
    case R::prod: return run<Prod<T, T>, T, T>({}, outer, inner, outN, count, out, x);
    case R::max: return run<Extreme<T, T, true, false>, T, T>({}, outer, inner, outN, count, out, x);
    case R::min: return run<Extreme<T, T, false, false>, T, T>({}, outer, inner, outN, count, out, x);
    case R::argmax: return run<Extreme<T, int32_t, true, true>, T, int32_t>({}, outer, inner, outN, count, out, x);
    case R::argmin: return run<Extreme<T, int32_t, false, true>, T, int32_t>({}, outer, inner, outN, count, out, x);
    default: throw CudaError("op not defined for integer tensors");
  }
}

template <class T>
void floating(R op, const Layout& outer, const Layout& inner, int64_t outN, int64_t count, void* out, const void* x,
              double correction) {
  switch (op) {
    case R::mean: return run<Sum<T, T, true>, T, T>({}, outer, inner, outN, count, out, x);
    case R::logsumexp: return run<LogSumExp<T, T>, T, T>({}, outer, inner, outN, count, out, x);
    case R::var: return run<Variance<T, T>, T, T>({correction}, outer, inner, outN, count, out, x);
    default: return common<T>(op, outer, inner, outN, count, out, x);
  }
}

}  // namespace

void launchReduce(R op, Dt xType, const Layout& outer, const Layout& inner, int64_t outN, int64_t count, void* out,
                  const void* x, double correction) {
  switch (xType) {
    case kF32: return floating<float>(op, outer, inner, outN, count, out, x, correction);
    case kF64: return floating<double>(op, outer, inner, outN, count, out, x, correction);
    case kI32: return common<int32_t>(op, outer, inner, outN, count, out, x);
    default: return common<uint8_t>(op, outer, inner, outN, count, out, x);
  }
}

}  // namespace cuda
}  // namespace iv
