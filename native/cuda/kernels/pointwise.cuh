// Pointwise kernel machinery shared by elementwise.cu: a contiguous path with 16-byte
// vector accesses (inputs may also be stride-0 broadcasts of one element) and a generic
// strided path. Functors carry the op; the launchers pick the path.
#pragma once
#include <algorithm>
#include <cstdint>
#include <utility>
#include "../common.h"

namespace iv {
namespace cuda {

constexpr int kPointwiseThreads = 256;

template <class T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

// An input of the contiguous path: unit stride, or one element broadcast (stride 0).
template <class T>
struct Src {
  const T* p;
  bool scalar;
  template <int V>
  __device__ __forceinline__ Pack<T, V> load(int64_t i) const {
    if (scalar) {
      Pack<T, V> r;
      const T s = *p;
#pragma unroll
      for (int j = 0; j < V; j++) r.v[j] = s;
      return r;
    }
    return reinterpret_cast<const Pack<T, V>*>(p)[i];
  }
  __device__ __forceinline__ T at(int64_t e) const { return scalar ? *p : p[e]; }
};

template <class Out, int V, class F, class... In>
__device__ __forceinline__ Pack<Out, V> applyPacks(const F& f, const Pack<In, V>&... p) {
  Pack<Out, V> o;
#pragma unroll
  for (int j = 0; j < V; j++) o.v[j] = f(p.v[j]...);
  return o;
}

// V elements per thread and step (16 bytes of the widest operand); the n % V tail is
// done one element each by the first threads.
template <int V, class Out, class F, class... In>
__global__ void __launch_bounds__(kPointwiseThreads) vecKernel(int64_t n, Out* __restrict__ out, F f, Src<In>... in) {
  const int64_t nvec = n / V;
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int64_t i = t; i < nvec; i += step)
    reinterpret_cast<Pack<Out, V>*>(out)[i] = applyPacks<Out, V>(f, in.template load<V>(i)...);
  const int64_t e = nvec * V + t;
  if (e < n) out[e] = f(in.at(e)...);
}

// Element offsets of flat index i in every operand. 32-bit division when the index fits
// (the common case; 64-bit division is a long software sequence on the GPU).
template <int K>
__device__ __forceinline__ void offsetsOf(const Layout& L, int64_t i, bool narrow, int64_t (&off)[K]) {
#pragma unroll
  for (int k = 0; k < K; k++) off[k] = 0;
  if (narrow) {
    uint32_t rem = static_cast<uint32_t>(i);
    for (int d = L.ndim - 1; d >= 0; d--) {
      const uint32_t s = static_cast<uint32_t>(L.shape[d]);
      const uint32_t q = rem / s;
      const int64_t r = rem - q * s;
      rem = q;
#pragma unroll
      for (int k = 0; k < K; k++) off[k] += r * L.strides[k][d];
    }
  } else {
    int64_t rem = i;
    for (int d = L.ndim - 1; d >= 0; d--) {
      const int64_t q = rem / L.shape[d];
      const int64_t r = rem - q * L.shape[d];
      rem = q;
#pragma unroll
      for (int k = 0; k < K; k++) off[k] += r * L.strides[k][d];
    }
  }
}

template <class F, size_t... I, class... In>
__device__ __forceinline__ auto callAt(const F& f, const int64_t* off, std::index_sequence<I...>, const In*... in) {
  return f(in[off[I + 1]]...);
}

template <class Out, class F, class... In>
__global__ void __launch_bounds__(kPointwiseThreads) stridedKernel(int64_t n, Layout L, Out* out, F f, const In*... in) {
  constexpr int K = 1 + sizeof...(In);
  const bool narrow = n <= int64_t(UINT32_MAX);
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t off[K];
    offsetsOf<K>(L, i, narrow, off);
    out[off[0]] = callAt(f, off, std::index_sequence_for<In...>{}, in...);
  }
}

inline unsigned gridFor(int64_t work) {
  // Enough resident threads to cover memory latency; the kernels loop past this.
  const int64_t cap = int64_t(smCount()) * (2048 / kPointwiseThreads) * 2;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min(cap, (work + kPointwiseThreads - 1) / kPointwiseThreads)));
}

template <class... T>
constexpr int vecWidth() {
  return 16 / static_cast<int>(std::max({sizeof(T)...}));
}

template <class Out, class F, class... In>
void launchStrided(const char* what, const Layout& L, int64_t n, Out* out, F f, const In*... in) {
  stridedKernel<Out, F, In...><<<gridFor(n), kPointwiseThreads, 0, stream()>>>(n, L, out, f, in...);
  IV_CUDA_LAUNCHED(what);
}

// Whether the layout fits the contiguous path: one run, output unit stride, inputs unit or
// zero stride, and unit-stride pointers aligned to the vector width.
template <int V, class Out, class... In, size_t... I>
bool vecPathFits(const Layout& L, std::index_sequence<I...>, const Out* out, const In*... in) {
  if (L.ndim == 0) return true;
  auto aligned = [](const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; };
  return L.ndim == 1 && L.strides[0][0] == 1 && aligned(out, sizeof(Out) * V) &&
         ((L.strides[I + 1][0] == 0 || (L.strides[I + 1][0] == 1 && aligned(in, sizeof(In) * V))) && ...);
}

template <class Out, class F, class... In, size_t... I>
void launchVec(const char* what, const Layout& L, int64_t n, std::index_sequence<I...>, Out* out, F f,
               const In*... in) {
  constexpr int V = vecWidth<Out, In...>();
  vecKernel<V, Out, F, In...><<<gridFor((n + V - 1) / V), kPointwiseThreads, 0, stream()>>>(
      n, out, f, Src<In>{in, L.ndim == 1 && L.strides[I + 1][0] == 0}...);
  IV_CUDA_LAUNCHED(what);
}

// The contiguous path when the layout fits it, else the strided one. FastF and SlowF
// compute the same function: FastF may fix the op at compile time (one instantiation per
// op, only on the path where the switch would cost bandwidth), SlowF selects it at run time.
template <class Out, class FastF, class SlowF, class... In>
void launchPointwise(const char* what, const Layout& L, int64_t n, Out* out, FastF fast, SlowF slow, const In*... in) {
  constexpr int V = vecWidth<Out, In...>();
  if (vecPathFits<V>(L, std::index_sequence_for<In...>{}, out, in...))
    launchVec(what, L, n, std::index_sequence_for<In...>{}, out, fast, in...);
  else
    launchStrided(what, L, n, out, slow, in...);
}

}  // namespace cuda
}  // namespace iv
