// Scaled dot-product attention on the GPU (native/cpu/ops/attention.cc's contract): q
// [B, L, E], k [B, S, E], v [B, S, Ev] contiguous; the forward saves only the logsumexp per
// query, the backward recomputes probabilities from it (FlashAttention-2's scheme).
//
// float32 with E == Ev in {32, 48, 64, 128}: tiled kernels. A block holds 64 rows (queries
// in the forward and dQ passes, keys in the dK/dV pass), TPQ threads per row, each owning an
// interleaved set of float4 chunks of the row in registers (so a group's shared-memory reads
// are contiguous and groups broadcast); tiles of 32 keys (or queries) stream through shared
// memory; dot products reduce over the TPQ lanes with shuffles. Forward: online softmax per
// tile (one rescale per tile). Backward: D = rowsum(dOut o out), then one pass owning query
// rows (dQ, and dMask) and one owning key rows (dK, dV), so no atomics and no partial sums.
// Everything else (float64, other head dims, E != Ev): plain kernels, a thread per row.
// Dropout is not supported on the GPU (the binding refuses dropoutP > 0).
#include <algorithm>
#include <cmath>
#include "../allocator.h"
#include "../common.h"
#include "attention.cuh"
#include "block.cuh"

namespace iv {
namespace cuda {
namespace {

constexpr int kRows = 64;  // rows owned by a block
constexpr int kTile = 32;  // rows streamed through shared memory per step

__host__ __device__ __forceinline__ int64_t lmin(int64_t a, int64_t b) { return a < b ? a : b; }

__device__ __forceinline__ int64_t maskBase(const AttnMask& M, int64_t b) {
  int64_t off = 0, rem = b;
  for (int d = M.nb - 1; d >= 0; d--) {
    off += (rem % M.shape[d]) * M.stride[d];
    rem /= M.shape[d];
  }
  return off;
}

template <class T>
__device__ __forceinline__ T masked(const AttnMask& M, int64_t base, bool causal, int64_t i, int64_t j, T s) {
  if (causal && j > i) return -INFINITY;
  if (M.kind == 1) return static_cast<const uint8_t*>(M.p)[base + i * M.msL + j * M.msS] ? s : T(-INFINITY);
  if (M.kind == 2) return s + static_cast<const T*>(M.p)[base + i * M.msL + j * M.msS];
  return s;
}

__device__ __forceinline__ float dot4(float4 a, float4 b, float acc) {
  acc = fmaf(a.x, b.x, acc);
  acc = fmaf(a.y, b.y, acc);
  acc = fmaf(a.z, b.z, acc);
  return fmaf(a.w, b.w, acc);
}
__device__ __forceinline__ void axpy4(float4& y, float a, float4 x) {
  y.x = fmaf(a, x.x, y.x);
  y.y = fmaf(a, x.y, y.y);
  y.z = fmaf(a, x.z, y.z);
  y.w = fmaf(a, x.w, y.w);
}
__device__ __forceinline__ float4 scale4(float4 a, float s) { return make_float4(a.x * s, a.y * s, a.z * s, a.w * s); }

template <int TPQ>
__device__ __forceinline__ float groupSum(float v) {
#pragma unroll
  for (int o = TPQ / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// q pre-scaled as the CPU does: float(q * scale), the product in double.
__device__ __forceinline__ float4 scaledQ(float4 a, double s) {
  return make_float4(static_cast<float>(a.x * s), static_cast<float>(a.y * s), static_cast<float>(a.z * s),
                     static_cast<float>(a.w * s));
}

// ---- float32 tiled kernels ----

template <int D, int TPQ>
__global__ void __launch_bounds__(kRows* TPQ) fwdFast(AttnMask M, int64_t L, int64_t S, double scale, bool causal,
                                                       int nQB, const float* __restrict__ q,
                                                       const float* __restrict__ k, const float* __restrict__ v,
                                                       float* __restrict__ out, float* __restrict__ lse) {
  constexpr int CH = D / 4, CPT = CH / TPQ;
  __shared__ float4 Ks[kTile][CH], Vs[kTile][CH];
  const int64_t b = blockIdx.x / nQB, i0 = static_cast<int64_t>(blockIdx.x % nQB) * kRows;
  const int tid = threadIdx.x, t = tid % TPQ;
  const int64_t i = i0 + tid / TPQ;
  const bool valid = i < L;
  const float4* q4 = reinterpret_cast<const float4*>(q) + (b * L + (valid ? i : 0)) * CH;
  const float4* k4 = reinterpret_cast<const float4*>(k) + b * S * CH;
  const float4* v4 = reinterpret_cast<const float4*>(v) + b * S * CH;
  float4 qr[CPT], o[CPT];
#pragma unroll
  for (int u = 0; u < CPT; u++) {
    qr[u] = scaledQ(q4[t + TPQ * u], scale);
    o[u] = make_float4(0, 0, 0, 0);
  }
  const int64_t mb = M.kind ? maskBase(M, b) : 0;
  float m = -INFINITY, l = 0;
  const int64_t jEnd = causal ? lmin(S, i0 + kRows) : S;
  for (int64_t j0 = 0; j0 < jEnd; j0 += kTile) {
    __syncthreads();
    for (int x = tid; x < kTile * CH; x += kRows * TPQ) {
      const int jj = x / CH, c = x % CH;
      const bool in = j0 + jj < S;
      Ks[jj][c] = in ? k4[(j0 + jj) * CH + c] : make_float4(0, 0, 0, 0);
      Vs[jj][c] = in ? v4[(j0 + jj) * CH + c] : make_float4(0, 0, 0, 0);
    }
    __syncthreads();
    const int bc = static_cast<int>(lmin(kTile, jEnd - j0));
    float s[kTile];
    float mt = -INFINITY;
#pragma unroll
    for (int jj = 0; jj < kTile; jj++) {
      float acc = 0;
#pragma unroll
      for (int u = 0; u < CPT; u++) acc = dot4(qr[u], Ks[jj][t + TPQ * u], acc);
      acc = groupSum<TPQ>(acc);
      if (jj >= bc) acc = -INFINITY;
      else if (valid) acc = masked<float>(M, mb, causal, i, j0 + jj, acc);
      s[jj] = acc;
      mt = fmaxf(mt, acc);
    }
    const float mNew = fmaxf(m, mt);
    const float sub = isinf(mNew) ? 0.f : mNew;  // a row masked so far keeps exp(-inf) = 0
    const float alpha = expf(m - sub);
    m = mNew;
    if (alpha != 1.f) {
      l *= alpha;
#pragma unroll
      for (int u = 0; u < CPT; u++) o[u] = scale4(o[u], alpha);
    }
#pragma unroll
    for (int jj = 0; jj < kTile; jj++) {
      if (jj < bc) {
        const float p = expf(s[jj] - sub);
        l += p;
#pragma unroll
        for (int u = 0; u < CPT; u++) axpy4(o[u], p, Vs[jj][t + TPQ * u]);
      }
    }
  }
  if (!valid) return;
  const float inv = l > 0 ? 1.f / l : 0.f;
  float4* o4 = reinterpret_cast<float4*>(out) + (b * L + i) * CH;
#pragma unroll
  for (int u = 0; u < CPT; u++) o4[t + TPQ * u] = scale4(o[u], inv);
  if (t == 0) lse[b * L + i] = l > 0 ? m + logf(l) : INFINITY;
}

// dQ (and dMask): a block owns 64 query rows and streams key tiles.
template <int D, int TPQ>
__global__ void __launch_bounds__(kRows* TPQ) bwdQFast(AttnMask M, int64_t L, int64_t S, double scale, bool causal,
                                                        int nQB, const float* __restrict__ q,
                                                        const float* __restrict__ k, const float* __restrict__ v,
                                                        const float* __restrict__ gout, const float* __restrict__ lse,
                                                        const float* __restrict__ Dv, float* __restrict__ dq,
                                                        float* __restrict__ dmask) {
  constexpr int CH = D / 4, CPT = CH / TPQ;
  __shared__ float4 Ks[kTile][CH], Vs[kTile][CH];
  const int64_t b = blockIdx.x / nQB, i0 = static_cast<int64_t>(blockIdx.x % nQB) * kRows;
  const int tid = threadIdx.x, t = tid % TPQ;
  const int64_t i = i0 + tid / TPQ;
  const bool valid = i < L;
  const int64_t row = b * L + (valid ? i : 0);
  const float4* q4 = reinterpret_cast<const float4*>(q) + row * CH;
  const float4* g4 = reinterpret_cast<const float4*>(gout) + row * CH;
  const float4* k4 = reinterpret_cast<const float4*>(k) + b * S * CH;
  const float4* v4 = reinterpret_cast<const float4*>(v) + b * S * CH;
  float4 qr[CPT], gr[CPT], acc4[CPT];
#pragma unroll
  for (int u = 0; u < CPT; u++) {
    qr[u] = scaledQ(q4[t + TPQ * u], scale);
    gr[u] = g4[t + TPQ * u];
    acc4[u] = make_float4(0, 0, 0, 0);
  }
  const float li = lse[row], Di = Dv[row];
  const int64_t mb = M.kind ? maskBase(M, b) : 0;
  const int64_t jEnd = causal ? lmin(S, i0 + kRows) : S;
  for (int64_t j0 = 0; j0 < jEnd; j0 += kTile) {
    __syncthreads();
    for (int x = tid; x < kTile * CH; x += kRows * TPQ) {
      const int jj = x / CH, c = x % CH;
      const bool in = j0 + jj < S;
      Ks[jj][c] = in ? k4[(j0 + jj) * CH + c] : make_float4(0, 0, 0, 0);
      Vs[jj][c] = in ? v4[(j0 + jj) * CH + c] : make_float4(0, 0, 0, 0);
    }
    __syncthreads();
    const int bc = static_cast<int>(lmin(kTile, jEnd - j0));
    for (int jj = 0; jj < bc; jj++) {
      float s = 0, dp = 0;
#pragma unroll
      for (int u = 0; u < CPT; u++) {
        s = dot4(qr[u], Ks[jj][t + TPQ * u], s);
        dp = dot4(gr[u], Vs[jj][t + TPQ * u], dp);
      }
      s = groupSum<TPQ>(s);
      dp = groupSum<TPQ>(dp);
      if (!valid) continue;
      s = masked<float>(M, mb, causal, i, j0 + jj, s);
      const float p = expf(s - li);
      const float ds = p * (dp - Di);
#pragma unroll
      for (int u = 0; u < CPT; u++) axpy4(acc4[u], ds, Ks[jj][t + TPQ * u]);
      if (dmask && t == 0) dmask[row * S + j0 + jj] = ds;
    }
  }
  if (!valid) return;
  float4* d4 = reinterpret_cast<float4*>(dq) + row * CH;
  const float sc = static_cast<float>(scale);
#pragma unroll
  for (int u = 0; u < CPT; u++) d4[t + TPQ * u] = scale4(acc4[u], sc);
}

// dK and dV: a block owns 64 key rows and streams query tiles (q scaled, dOut, lse, D).
template <int D, int TPQ>
__global__ void __launch_bounds__(kRows* TPQ) bwdKVFast(AttnMask M, int64_t L, int64_t S, double scale, bool causal,
                                                         int nKB, const float* __restrict__ q,
                                                         const float* __restrict__ k, const float* __restrict__ v,
                                                         const float* __restrict__ gout,
                                                         const float* __restrict__ lse, const float* __restrict__ Dv,
                                                         float* __restrict__ dk, float* __restrict__ dv) {
  constexpr int CH = D / 4, CPT = CH / TPQ;
  __shared__ float4 Qs[kTile][CH], Gs[kTile][CH];
  __shared__ float Ls[kTile], Ds[kTile];
  const int64_t b = blockIdx.x / nKB, j0 = static_cast<int64_t>(blockIdx.x % nKB) * kRows;
  const int tid = threadIdx.x, t = tid % TPQ;
  const int64_t j = j0 + tid / TPQ;
  const bool valid = j < S;
  const int64_t krow = b * S + (valid ? j : 0);
  const float4* k4 = reinterpret_cast<const float4*>(k) + krow * CH;
  const float4* v4 = reinterpret_cast<const float4*>(v) + krow * CH;
  const float4* q4 = reinterpret_cast<const float4*>(q) + b * L * CH;
  const float4* g4 = reinterpret_cast<const float4*>(gout) + b * L * CH;
  float4 kr[CPT], vr[CPT], dk4[CPT], dv4[CPT];
#pragma unroll
  for (int u = 0; u < CPT; u++) {
    kr[u] = k4[t + TPQ * u];
    vr[u] = v4[t + TPQ * u];
    dk4[u] = make_float4(0, 0, 0, 0);
    dv4[u] = make_float4(0, 0, 0, 0);
  }
  const int64_t mb = M.kind ? maskBase(M, b) : 0;
  for (int64_t ib = causal ? j0 : 0; ib < L; ib += kTile) {
    __syncthreads();
    for (int x = tid; x < kTile * CH; x += kRows * TPQ) {
      const int ii = x / CH, c = x % CH;
      const bool in = ib + ii < L;
      Qs[ii][c] = in ? scaledQ(q4[(ib + ii) * CH + c], scale) : make_float4(0, 0, 0, 0);
      Gs[ii][c] = in ? g4[(ib + ii) * CH + c] : make_float4(0, 0, 0, 0);
    }
    if (tid < kTile) {
      const bool in = ib + tid < L;
      Ls[tid] = in ? lse[b * L + ib + tid] : INFINITY;
      Ds[tid] = in ? Dv[b * L + ib + tid] : 0.f;
    }
    __syncthreads();
    const int br = static_cast<int>(lmin(kTile, L - ib));
    for (int ii = 0; ii < br; ii++) {
      float s = 0, dp = 0;
#pragma unroll
      for (int u = 0; u < CPT; u++) {
        s = dot4(Qs[ii][t + TPQ * u], kr[u], s);
        dp = dot4(Gs[ii][t + TPQ * u], vr[u], dp);
      }
      s = groupSum<TPQ>(s);
      dp = groupSum<TPQ>(dp);
      if (!valid) continue;
      s = masked<float>(M, mb, causal, ib + ii, j, s);
      const float p = expf(s - Ls[ii]);
      const float ds = p * (dp - Ds[ii]);
#pragma unroll
      for (int u = 0; u < CPT; u++) {
        axpy4(dv4[u], p, Gs[ii][t + TPQ * u]);
        axpy4(dk4[u], ds, Qs[ii][t + TPQ * u]);
      }
    }
  }
  if (!valid) return;
  float4* dk4o = reinterpret_cast<float4*>(dk) + krow * CH;
  float4* dv4o = reinterpret_cast<float4*>(dv) + krow * CH;
#pragma unroll
  for (int u = 0; u < CPT; u++) {
    dk4o[t + TPQ * u] = dk4[u];
    dv4o[t + TPQ * u] = dv4[u];
  }
}

// ---- plain kernels: a thread per row, any float type and dims ----

template <class T>
__global__ void fwdPlain(AttnMask M, int64_t B, int64_t L, int64_t S, int64_t E, int64_t Ev, double scale,
                         bool causal, const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                         T* __restrict__ out, T* __restrict__ lse) {
  const int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (r >= B * L) return;
  const int64_t b = r / L, i = r % L;
  const T* qi = q + r * E;
  T* o = out + r * Ev;
  for (int64_t e = 0; e < Ev; e++) o[e] = 0;
  const int64_t mb = M.kind ? maskBase(M, b) : 0;
  T m = -INFINITY, l = 0;
  const int64_t jEnd = causal ? lmin(S, i + 1) : S;
  for (int64_t j = 0; j < jEnd; j++) {
    const T* kj = k + (b * S + j) * E;
    T s = 0;
    for (int64_t e = 0; e < E; e++) s += static_cast<T>(qi[e] * scale) * kj[e];
    s = masked<T>(M, mb, causal, i, j, s);
    const T mNew = s > m ? s : m;
    const T sub = isinf(mNew) ? T(0) : mNew;
    const T alpha = dexp<T>(m - sub), p = dexp<T>(s - sub);
    m = mNew;
    l = l * alpha + p;
    const T* vj = v + (b * S + j) * Ev;
    for (int64_t e = 0; e < Ev; e++) o[e] = o[e] * alpha + p * vj[e];
  }
  const T inv = l > 0 ? T(1) / l : T(0);
  for (int64_t e = 0; e < Ev; e++) o[e] *= inv;
  lse[r] = l > 0 ? m + ::log(l) : T(INFINITY);
}

template <class T>
__global__ void bwdQPlain(AttnMask M, int64_t B, int64_t L, int64_t S, int64_t E, int64_t Ev, double scale,
                          bool causal, const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                          const T* __restrict__ gout, const T* __restrict__ lse, const T* __restrict__ Dv,
                          T* __restrict__ dq, T* __restrict__ dmask) {
  const int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (r >= B * L) return;
  const int64_t b = r / L, i = r % L;
  const T *qi = q + r * E, *gi = gout + r * Ev;
  T* d = dq + r * E;
  for (int64_t e = 0; e < E; e++) d[e] = 0;
  const int64_t mb = M.kind ? maskBase(M, b) : 0;
  const T li = lse[r], Di = Dv[r];
  const int64_t jEnd = causal ? lmin(S, i + 1) : S;
  for (int64_t j = 0; j < jEnd; j++) {
    const T *kj = k + (b * S + j) * E, *vj = v + (b * S + j) * Ev;
    T s = 0, dp = 0;
    for (int64_t e = 0; e < E; e++) s += static_cast<T>(qi[e] * scale) * kj[e];
    for (int64_t e = 0; e < Ev; e++) dp += gi[e] * vj[e];
    s = masked<T>(M, mb, causal, i, j, s);
    const T p = dexp<T>(s - li), ds = p * (dp - Di);
    for (int64_t e = 0; e < E; e++) d[e] += ds * kj[e];
    if (dmask) dmask[r * S + j] = ds;
  }
  for (int64_t e = 0; e < E; e++) d[e] = static_cast<T>(d[e] * scale);
}

template <class T>
__global__ void bwdKVPlain(AttnMask M, int64_t B, int64_t L, int64_t S, int64_t E, int64_t Ev, double scale,
                           bool causal, const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                           const T* __restrict__ gout, const T* __restrict__ lse, const T* __restrict__ Dv,
                           T* __restrict__ dk, T* __restrict__ dv) {
  const int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (r >= B * S) return;
  const int64_t b = r / S, j = r % S;
  const T *kj = k + r * E, *vj = v + r * Ev;
  T *dkj = dk + r * E, *dvj = dv + r * Ev;
  for (int64_t e = 0; e < E; e++) dkj[e] = 0;
  for (int64_t e = 0; e < Ev; e++) dvj[e] = 0;
  const int64_t mb = M.kind ? maskBase(M, b) : 0;
  for (int64_t i = causal ? j : 0; i < L; i++) {
    const T *qi = q + (b * L + i) * E, *gi = gout + (b * L + i) * Ev;
    T s = 0, dp = 0;
    for (int64_t e = 0; e < E; e++) s += static_cast<T>(qi[e] * scale) * kj[e];
    for (int64_t e = 0; e < Ev; e++) dp += gi[e] * vj[e];
    s = masked<T>(M, mb, causal, i, j, s);
    const T p = dexp<T>(s - lse[b * L + i]), ds = p * (dp - Dv[b * L + i]);
    for (int64_t e = 0; e < Ev; e++) dvj[e] += p * gi[e];
    for (int64_t e = 0; e < E; e++) dkj[e] += ds * static_cast<T>(qi[e] * scale);
  }
}

// D_i = sum_e dOut[i, e] * out[i, e], in double: a warp per row.
template <class T>
__global__ void rowDotKernel(const T* __restrict__ g, const T* __restrict__ o, T* __restrict__ D, int64_t rows,
                             int64_t Ev) {
  const int64_t r = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (r >= rows) return;
  double s = 0;
  for (int64_t e = lane; e < Ev; e += 32) s += static_cast<double>(g[r * Ev + e]) * o[r * Ev + e];
  for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
  if (lane == 0) D[r] = static_cast<T>(s);
}

unsigned blocksFor(int64_t n, int threads) { return static_cast<unsigned>((n + threads - 1) / threads); }

template <int D, int TPQ>
void forwardFast(const AttnMask& M, int64_t B, int64_t L, int64_t S, double scale, bool causal, const float* q,
                 const float* k, const float* v, float* out, float* lse) {
  const int nQB = static_cast<int>((L + kRows - 1) / kRows);
  fwdFast<D, TPQ><<<static_cast<unsigned>(B * nQB), kRows * TPQ, 0, stream()>>>(M, L, S, scale, causal, nQB, q, k, v,
                                                                               out, lse);
  IV_CUDA_LAUNCHED("attentionForward kernel");
}

template <int D, int TPQ>
void backwardFast(const AttnMask& M, int64_t B, int64_t L, int64_t S, double scale, bool causal, const float* q,
                  const float* k, const float* v, const float* gout, const float* lse, const float* Dv, float* dq,
                  float* dk, float* dv, float* dmask) {
  const int nQB = static_cast<int>((L + kRows - 1) / kRows), nKB = static_cast<int>((S + kRows - 1) / kRows);
  if (L > 0) {
    bwdQFast<D, TPQ><<<static_cast<unsigned>(B * nQB), kRows * TPQ, 0, stream()>>>(M, L, S, scale, causal, nQB, q, k,
                                                                                  v, gout, lse, Dv, dq, dmask);
    IV_CUDA_LAUNCHED("attentionBackward dQ kernel");
  }
  if (S > 0) {
    bwdKVFast<D, TPQ><<<static_cast<unsigned>(B * nKB), kRows * TPQ, 0, stream()>>>(M, L, S, scale, causal, nKB, q,
                                                                                   k, v, gout, lse, Dv, dk, dv);
    IV_CUDA_LAUNCHED("attentionBackward dK/dV kernel");
  }
}

// The tiled path: float32, E == Ev in {32, 48, 64, 128}, 16-byte aligned rows.
bool fastShape(Dt dtype, int64_t E, int64_t Ev, std::initializer_list<const void*> ptrs) {
  if (dtype != kF32 || E != Ev || (E != 32 && E != 48 && E != 64 && E != 128)) return false;
  for (const void* p : ptrs)
    if (p && reinterpret_cast<uintptr_t>(p) % 16) return false;
  return true;
}

}  // namespace

bool attentionTiled(Dt dtype, int64_t E, int64_t Ev) { return fastShape(dtype, E, Ev, {}); }

void launchAttentionForward(Dt dtype, const AttnMask& M, int64_t B, int64_t L, int64_t S, int64_t E, int64_t Ev,
                            double scale, bool causal, const void* q, const void* k, const void* v, void* out,
                            void* lse) {
  if (B * L == 0) return;
  if (fastShape(dtype, E, Ev, {q, k, v, out})) {
    auto qf = static_cast<const float*>(q), kf = static_cast<const float*>(k), vf = static_cast<const float*>(v);
    auto of = static_cast<float*>(out), lf = static_cast<float*>(lse);
    switch (E) {
      case 32: return forwardFast<32, 2>(M, B, L, S, scale, causal, qf, kf, vf, of, lf);
      case 48: return forwardFast<48, 4>(M, B, L, S, scale, causal, qf, kf, vf, of, lf);
      case 64: return forwardFast<64, 4>(M, B, L, S, scale, causal, qf, kf, vf, of, lf);
      default: return forwardFast<128, 8>(M, B, L, S, scale, causal, qf, kf, vf, of, lf);
    }
  }
  auto run = [&](auto tag) {
    using T = decltype(tag);
    fwdPlain<T><<<blocksFor(B * L, 128), 128, 0, stream()>>>(M, B, L, S, E, Ev, scale, causal,
                                                              static_cast<const T*>(q), static_cast<const T*>(k),
                                                              static_cast<const T*>(v), static_cast<T*>(out),
                                                              static_cast<T*>(lse));
  };
  if (dtype == kF32) run(float{});
  else run(double{});
  IV_CUDA_LAUNCHED("attentionForward kernel");
}

void launchAttentionBackward(Dt dtype, const AttnMask& M, int64_t B, int64_t L, int64_t S, int64_t E, int64_t Ev,
                             double scale, bool causal, const void* q, const void* k, const void* v, const void* out,
                             const void* lse, const void* gout, void* dq, void* dk, void* dv, void* dmask) {
  if (B == 0) return;
  const size_t elem = dtype == kF32 ? sizeof(float) : sizeof(double);
  ScopedBlock Dblock(static_cast<size_t>((B * L > 0 ? B * L : 1)) * elem, "attentionBackward");
  auto run = [&](auto tag) {
    using T = decltype(tag);
    T* Dv = Dblock.as<T>();
    if (B * L > 0) {
      rowDotKernel<T><<<blocksFor(B * L * 32, 256), 256, 0, stream()>>>(static_cast<const T*>(gout),
                                                                       static_cast<const T*>(out), Dv, B * L, Ev);
      IV_CUDA_LAUNCHED("attentionBackward rowsum(dOut * out)");
    }
    if (fastShape(dtype, E, Ev, {q, k, v, gout, dq, dk, dv})) {
      auto f = [](const void* p) { return static_cast<const float*>(p); };
      auto w = [](void* p) { return static_cast<float*>(p); };
      const float* Df = reinterpret_cast<const float*>(Dv);
      switch (E) {
        case 32: return backwardFast<32, 2>(M, B, L, S, scale, causal, f(q), f(k), f(v), f(gout), f(lse), Df, w(dq), w(dk), w(dv), w(dmask));
        case 48: return backwardFast<48, 4>(M, B, L, S, scale, causal, f(q), f(k), f(v), f(gout), f(lse), Df, w(dq), w(dk), w(dv), w(dmask));
        case 64: return backwardFast<64, 4>(M, B, L, S, scale, causal, f(q), f(k), f(v), f(gout), f(lse), Df, w(dq), w(dk), w(dv), w(dmask));
        default: return backwardFast<128, 8>(M, B, L, S, scale, causal, f(q), f(k), f(v), f(gout), f(lse), Df, w(dq), w(dk), w(dv), w(dmask));
      }
    }
    if (B * L > 0) {
      bwdQPlain<T><<<blocksFor(B * L, 128), 128, 0, stream()>>>(
          M, B, L, S, E, Ev, scale, causal, static_cast<const T*>(q), static_cast<const T*>(k),
          static_cast<const T*>(v), static_cast<const T*>(gout), static_cast<const T*>(lse), Dv, static_cast<T*>(dq),
          static_cast<T*>(dmask));
      IV_CUDA_LAUNCHED("attentionBackward dQ kernel");
    }
    if (B * S > 0) {
      bwdKVPlain<T><<<blocksFor(B * S, 128), 128, 0, stream()>>>(
          M, B, L, S, E, Ev, scale, causal, static_cast<const T*>(q), static_cast<const T*>(k),
          static_cast<const T*>(v), static_cast<const T*>(gout), static_cast<const T*>(lse), Dv, static_cast<T*>(dk),
          static_cast<T*>(dv));
      IV_CUDA_LAUNCHED("attentionBackward dK/dV kernel");
    }
  };
  if (dtype == kF32) run(float{});
  else run(double{});
}

}  // namespace cuda
}  // namespace iv
