// 2-d convolution on the GPU, NCHW, the CPU's semantics (native/cpu/ops/conv.cc): forward
// with bias / pre-activation / activation fused, input gradient and weight gradient.
//
// Dense and grouped convolutions are implicit GEMMs (no im2col buffer): each block computes
// a BM x BN tile of one group's GEMM, gathering its operands straight from the NCHW tensors
// into shared memory, K in steps of BK, double-buffered through registers (the next step's
// global loads are in flight while this step computes). The three passes are three GEMMs:
//   forward      M = N*Ho*Wo (output pixels), N = K/groups,        K = C/groups*kh*kw
//   input grad   M = N*H*W   (input pixels),  N = C/groups,        K = K/groups*kh*kw
//   weight grad  M = C/groups*kh*kw,          N = K/groups,        K = N*Ho*Wo (split-K, atomics)
// Rows (M) run along the contiguous pixel dim, so gathers and stores are coalesced along M.
// Each thread owns TM rows (strided by BM/TM) x TN adjacent columns; plain FMA (no TF32).
//
// Depthwise convolutions (groups == C) run on direct kernels instead (a thread per output,
// per input pixel, or a block per (image, channel) plane for the weight gradient), as the
// CPU dispatches them.
//
// Index math is 32-bit: the launchers require every tensor to have fewer than 2^31 elements.
#include <algorithm>
#include <cstdint>
#include "conv.cuh"

namespace iv {
namespace cuda {
namespace {

enum Mode { kFwd = 0, kDgrad = 1, kWgrad = 2 };

struct Geo {
  int N, C, H, W, K, P, Q, R, S, sh, sw, pt, pl, dh, dw, G, Cg, Kg;
  int HW, PQ, RS;
  int M, Nn, Kr;  // this pass's GEMM, per group
  int kChunk;     // reduction length per split (multiple of BK)
  int splits;
};

__device__ __forceinline__ float erfT(float v) { return erff(v); }
__device__ __forceinline__ double erfT(double v) { return erf(v); }
__device__ __forceinline__ float expT(float v) { return expf(v); }
__device__ __forceinline__ double expT(double v) { return exp(v); }

template <class T>
__device__ __forceinline__ T activate(int act, T z) {
  switch (act) {
    case static_cast<int>(Act::relu): return z > T(0) ? z : T(0);
    case static_cast<int>(Act::gelu): return T(0.5) * z * (T(1) + erfT(z * T(0.70710678118654752440)));
    case static_cast<int>(Act::silu): return z / (T(1) + expT(-z));
    default: return z;
  }
}

template <class T>
struct Ptrs {
  const T* a;     // fwd: x, dgrad: gy, wgrad: x
  const T* b;     // fwd: w, dgrad: w,  wgrad: gy
  T* out;         // fwd: y, dgrad: gx, wgrad: gw (zeroed; atomically accumulated)
  const T* bias;  // fwd only, may be null
  T* pre;         // fwd only, may be null
  int act;
};

template <class T, int MODE, int BM, int BN, int BK, int TM, int TN>
__global__ void __launch_bounds__((BM / TM) * (BN / TN))
    implicitGemm(Ptrs<T> p, Geo g) {
  constexpr int kThreads = (BM / TM) * (BN / TN);
  constexpr int kAPer = BM * BK / kThreads, kBPer = BN * BK / kThreads;
  static_assert(kThreads % BM == 0 && kThreads % BK == 0, "loader layout");
  static_assert(kAPer * kThreads == BM * BK && kBPer * kThreads == BN * BK, "loader layout");
  constexpr int kPad = 4;
  __shared__ T As[2][BK][BM + kPad];
  __shared__ T Bs[2][BK][BN + kPad];

  const int tid = threadIdx.x;
  const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
  const int gi = blockIdx.z / g.splits, split = blockIdx.z % g.splits;
  const int kBegin = split * g.kChunk, kEnd = min(g.Kr, kBegin + g.kChunk);

  // ---- A loader: rows m, reduction index kk ----
  // fwd/dgrad: m-fastest, each thread one fixed row, kk = tid / BM + i * (threads / BM).
  // wgrad: kk-fastest, each thread one fixed kk column, rows tid / BK + i * (threads / BK).
  int aBase = 0, aHb = 0, aWb = 0;
  bool aRow = false;
  int aOff[MODE == kWgrad ? kAPer : 1], aRh[MODE == kWgrad ? kAPer : 1], aSw[MODE == kWgrad ? kAPer : 1];
  if constexpr (MODE == kFwd) {
    const int m = m0 + tid % BM;
    aRow = m < g.M;
    const int mm = aRow ? m : 0;
    const int n = mm / g.PQ, pq = mm - n * g.PQ, pp = pq / g.Q, q = pq - pp * g.Q;
    aBase = (n * g.C + gi * g.Cg) * g.HW;
    aHb = pp * g.sh - g.pt;
    aWb = q * g.sw - g.pl;
  } else if constexpr (MODE == kDgrad) {
    const int m = m0 + tid % BM;
    aRow = m < g.M;
    const int mm = aRow ? m : 0;
    const int n = mm / g.HW, hw = mm - n * g.HW, h = hw / g.W, w = hw - h * g.W;
    aBase = (n * g.K + gi * g.Kg) * g.PQ;
    aHb = h + g.pt;
    aWb = w + g.pl;
  } else {
#pragma unroll
    for (int i = 0; i < kAPer; i++) {
      const int m = m0 + tid / BK + i * (kThreads / BK);
      if (m < g.M) {
        const int c = m / g.RS, rs = m - c * g.RS, r = rs / g.S, s = rs - r * g.S;
        aOff[i] = (gi * g.Cg + c) * g.HW;
        aRh[i] = r * g.dh - g.pt;
        aSw[i] = s * g.dw - g.pl;
      } else {
        aOff[i] = -1, aRh[i] = 0, aSw[i] = 0;
      }
    }
  }

  T ra[kAPer], rb[kBPer];

  auto loadA = [&](int k0) {
    if constexpr (MODE == kFwd) {
      // (c, r, s) of this thread's first kk, then stepped by threads / BM without divisions.
      const int kk0 = k0 + tid / BM;
      int c = kk0 / g.RS, s = kk0 - c * g.RS, r = s / g.S;
      s -= r * g.S;
#pragma unroll
      for (int i = 0; i < kAPer; i++) {
        const int kk = kk0 + i * (kThreads / BM);
        T v = T(0);
        if (aRow && kk < kEnd) {
          const int ih = aHb + r * g.dh, iw = aWb + s * g.dw;
          if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) v = __ldg(p.a + aBase + c * g.HW + ih * g.W + iw);
        }
        ra[i] = v;
        s += kThreads / BM;
        while (s >= g.S) {
          s -= g.S;
          if (++r == g.R) r = 0, c++;
        }
      }
    } else if constexpr (MODE == kDgrad) {
      const int kk0 = k0 + tid / BM;
      int k = kk0 / g.RS, s = kk0 - k * g.RS, r = s / g.S;
      s -= r * g.S;
#pragma unroll
      for (int i = 0; i < kAPer; i++) {
        const int kk = kk0 + i * (kThreads / BM);
        T v = T(0);
        if (aRow && kk < kEnd) {
          const int th = aHb - r * g.dh, tw = aWb - s * g.dw;
          if (th >= 0 && tw >= 0) {
            const int pp = th / g.sh, q = tw / g.sw;
            if (pp * g.sh == th && q * g.sw == tw && pp < g.P && q < g.Q)
              v = __ldg(p.a + aBase + k * g.PQ + pp * g.Q + q);
          }
        }
        ra[i] = v;
        s += kThreads / BM;
        while (s >= g.S) {
          s -= g.S;
          if (++r == g.R) r = 0, k++;
        }
      }
    } else {
      const int kk = k0 + tid % BK;
      const bool ok = kk < kEnd;
      int n = 0, pp = 0, q = 0;
      if (ok) {
        n = kk / g.PQ;
        const int pq = kk - n * g.PQ;
        pp = pq / g.Q;
        q = pq - pp * g.Q;
      }
      const int hb = pp * g.sh, wb = q * g.sw, nb = n * g.C * g.HW;
#pragma unroll
      for (int i = 0; i < kAPer; i++) {
        T v = T(0);
        if (ok && aOff[i] >= 0) {
          const int ih = hb + aRh[i], iw = wb + aSw[i];
          if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) v = __ldg(p.a + nb + aOff[i] + ih * g.W + iw);
        }
        ra[i] = v;
      }
    }
  };

  // ---- B loader: kk-fastest, kk = tid % BK fixed, columns tid / BK + i * (threads / BK) ----
  auto loadB = [&](int k0) {
    const int kk = k0 + tid % BK;
    const bool ok = kk < kEnd;
    if constexpr (MODE == kFwd) {
#pragma unroll
      for (int i = 0; i < kBPer; i++) {
        const int n = n0 + tid / BK + i * (kThreads / BK);
        rb[i] = ok && n < g.Nn ? __ldg(p.b + (gi * g.Kg + n) * g.Kr + kk) : T(0);
      }
    } else if constexpr (MODE == kDgrad) {
      int k = 0, rs = 0;
      if (ok) k = kk / g.RS, rs = kk - k * g.RS;
      const int base = (gi * g.Kg + k) * g.Cg * g.RS + rs;
#pragma unroll
      for (int i = 0; i < kBPer; i++) {
        const int c = n0 + tid / BK + i * (kThreads / BK);
        rb[i] = ok && c < g.Nn ? __ldg(p.b + base + c * g.RS) : T(0);
      }
    } else {
      int n = 0, pq = 0;
      if (ok) n = kk / g.PQ, pq = kk - n * g.PQ;
      const int base = (n * g.K + gi * g.Kg) * g.PQ + pq;
#pragma unroll
      for (int i = 0; i < kBPer; i++) {
        const int k = n0 + tid / BK + i * (kThreads / BK);
        rb[i] = ok && k < g.Nn ? __ldg(p.b + base + k * g.PQ) : T(0);
      }
    }
  };

  auto store = [&](int buf) {
#pragma unroll
    for (int i = 0; i < kAPer; i++) {
      if constexpr (MODE == kWgrad) As[buf][tid % BK][tid / BK + i * (kThreads / BK)] = ra[i];
      else As[buf][tid / BM + i * (kThreads / BM)][tid % BM] = ra[i];
    }
#pragma unroll
    for (int i = 0; i < kBPer; i++) Bs[buf][tid % BK][tid / BK + i * (kThreads / BK)] = rb[i];
  };

  T acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; i++)
#pragma unroll
    for (int j = 0; j < TN; j++) acc[i][j] = T(0);

  const int tm = tid % (BM / TM), tn = tid / (BM / TM);
  int buf = 0;
  if (kBegin < kEnd) {
    loadA(kBegin);
    loadB(kBegin);
    store(0);
    __syncthreads();
    for (int k0 = kBegin; k0 < kEnd; k0 += BK) {
      const bool more = k0 + BK < kEnd;
      if (more) {
        loadA(k0 + BK);
        loadB(k0 + BK);
      }
#pragma unroll
      for (int kk = 0; kk < BK; kk++) {
        T a[TM], b[TN];
#pragma unroll
        for (int i = 0; i < TM; i++) a[i] = As[buf][kk][tm + i * (BM / TM)];
#pragma unroll
        for (int j = 0; j < TN; j++) b[j] = Bs[buf][kk][tn * TN + j];
#pragma unroll
        for (int i = 0; i < TM; i++)
#pragma unroll
          for (int j = 0; j < TN; j++) acc[i][j] = fma(a[i], b[j], acc[i][j]);
      }
      if (more) store(buf ^ 1);
      __syncthreads();
      buf ^= 1;
    }
  }

  // ---- epilogue ----
#pragma unroll
  for (int i = 0; i < TM; i++) {
    const int m = m0 + tm + i * (BM / TM);
    if (m >= g.M) continue;
    if constexpr (MODE == kFwd) {
      const int n = m / g.PQ, pq = m - n * g.PQ;
#pragma unroll
      for (int j = 0; j < TN; j++) {
        const int k = n0 + tn * TN + j;
        if (k >= g.Nn) continue;
        const int kg = gi * g.Kg + k;
        const int idx = (n * g.K + kg) * g.PQ + pq;
        T v = acc[i][j];
        if (p.bias) v += p.bias[kg];
        if (p.pre) p.pre[idx] = v;
        p.out[idx] = activate(p.act, v);
      }
    } else if constexpr (MODE == kDgrad) {
      const int n = m / g.HW, hw = m - n * g.HW;
#pragma unroll
      for (int j = 0; j < TN; j++) {
        const int c = n0 + tn * TN + j;
        if (c < g.Nn) p.out[(n * g.C + gi * g.Cg + c) * g.HW + hw] = acc[i][j];
      }
    } else {
#pragma unroll
      for (int j = 0; j < TN; j++) {
        const int k = n0 + tn * TN + j;
        if (k >= g.Nn) continue;
        T* dst = p.out + (gi * g.Kg + k) * g.M + m;
        if (g.splits == 1) *dst = acc[i][j];
        else atomicAdd(dst, acc[i][j]);
      }
    }
  }
}

// ---- depthwise (groups == C, K = mult * C) ----

template <class T>
__global__ void dwForward(Geo g, const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
                          T* __restrict__ y, T* __restrict__ pre, int act, int total) {
  const int mult = g.K / g.C;
  for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += gridDim.x * blockDim.x) {
    const int q = idx % g.Q, t = idx / g.Q, pp = t % g.P, nk = t / g.P, k = nk % g.K, n = nk / g.K;
    const int c = k / mult;
    const T* xp = x + (n * g.C + c) * g.HW;
    const T* wp = w + k * g.RS;
    const int hb = pp * g.sh - g.pt, wb = q * g.sw - g.pl;
    T s = T(0);
    for (int r = 0; r < g.R; r++) {
      const int ih = hb + r * g.dh;
      if (ih < 0 || ih >= g.H) continue;
      for (int u = 0; u < g.S; u++) {
        const int iw = wb + u * g.dw;
        if (iw >= 0 && iw < g.W) s = fma(__ldg(xp + ih * g.W + iw), __ldg(wp + r * g.S + u), s);
      }
    }
    if (bias) s += bias[k];
    if (pre) pre[idx] = s;
    y[idx] = activate(act, s);
  }
}

template <class T>
__global__ void dwBackwardInput(Geo g, const T* __restrict__ gy, const T* __restrict__ w, T* __restrict__ gx,
                                int total) {
  const int mult = g.K / g.C;
  for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += gridDim.x * blockDim.x) {
    const int wx = idx % g.W, t = idx / g.W, h = t % g.H, nc = t / g.H, c = nc % g.C, n = nc / g.C;
    T s = T(0);
    for (int mi = 0; mi < mult; mi++) {
      const int k = c * mult + mi;
      const T* gp = gy + (n * g.K + k) * g.PQ;
      const T* wp = w + k * g.RS;
      for (int r = 0; r < g.R; r++) {
        const int th = h + g.pt - r * g.dh;
        if (th < 0) break;
        const int pp = th / g.sh;
        if (pp * g.sh != th || pp >= g.P) continue;
        for (int u = 0; u < g.S; u++) {
          const int tw = wx + g.pl - u * g.dw;
          if (tw < 0) break;
          const int q = tw / g.sw;
          if (q * g.sw != tw || q >= g.Q) continue;
          s = fma(__ldg(gp + pp * g.Q + q), __ldg(wp + r * g.S + u), s);
        }
      }
    }
    gx[idx] = s;
  }
}

template <class T>
__device__ T blockSum(T v, T* red) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  T s = T(0);
  if (threadIdx.x < 32) {
    s = threadIdx.x < (blockDim.x + 31) / 32 ? red[threadIdx.x] : T(0);
    for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
  }
  return s;  // valid in thread 0
}

// One block per (image, output channel) plane: every tap's sum over the plane, added into gw.
template <class T>
__global__ void dwBackwardWeight(Geo g, const T* __restrict__ gy, const T* __restrict__ x, T* __restrict__ gw) {
  __shared__ T red[32];
  const int k = blockIdx.x, n = blockIdx.y, c = k / (g.K / g.C);
  const T* gp = gy + (n * g.K + k) * g.PQ;
  const T* xp = x + (n * g.C + c) * g.HW;
  for (int tap = 0; tap < g.RS; tap++) {
    const int r = tap / g.S, u = tap - r * g.S;
    T s = T(0);
    for (int pq = threadIdx.x; pq < g.PQ; pq += blockDim.x) {
      const int pp = pq / g.Q, q = pq - pp * g.Q;
      const int ih = pp * g.sh - g.pt + r * g.dh, iw = q * g.sw - g.pl + u * g.dw;
      if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) s = fma(__ldg(gp + pq), __ldg(xp + ih * g.W + iw), s);
    }
    s = blockSum(s, red);
    if (threadIdx.x == 0) atomicAdd(gw + k * g.RS + tap, s);
  }
}

// gb[k] = sum over images and pixels of gy, in double as the CPU.
template <class T>
__global__ void biasGrad(Geo g, const T* __restrict__ gy, T* __restrict__ gb) {
  __shared__ double red[32];
  const int k = blockIdx.x;
  double s = 0;
  for (int n = 0; n < g.N; n++) {
    const T* row = gy + (n * g.K + k) * g.PQ;
    for (int i = threadIdx.x; i < g.PQ; i += blockDim.x) s += row[i];
  }
  s = blockSum(s, red);
  if (threadIdx.x == 0) gb[k] = T(s);
}

Geo makeGeo(const ConvGeom& c) {
  Geo g{};
  g.N = static_cast<int>(c.N), g.C = static_cast<int>(c.C), g.H = static_cast<int>(c.H), g.W = static_cast<int>(c.W);
  g.K = static_cast<int>(c.K), g.P = static_cast<int>(c.Ho), g.Q = static_cast<int>(c.Wo);
  g.R = static_cast<int>(c.kh), g.S = static_cast<int>(c.kw), g.sh = static_cast<int>(c.sh);
  g.sw = static_cast<int>(c.sw), g.pt = static_cast<int>(c.pt), g.pl = static_cast<int>(c.pl);
  g.dh = static_cast<int>(c.dh), g.dw = static_cast<int>(c.dw), g.G = static_cast<int>(c.groups);
  g.Cg = g.C / g.G, g.Kg = g.K / g.G, g.HW = g.H * g.W, g.PQ = g.P * g.Q, g.RS = g.R * g.S;
  g.splits = 1;
  return g;
}

inline int cdiv(int64_t a, int64_t b) { return static_cast<int>((a + b - 1) / b); }

void checkGrid(int64_t x, int64_t y, int64_t z, const char* what) {
  if (x > 2147483647LL || y > 65535 || z > 65535) throw CudaError(std::string(what) + ": problem too large for one launch");
}

// float32: 128 x 64 tiles, K steps of 16, 256 threads of 8 x 4; float64: 64 x 64, K steps of 8, 4 x 4.
template <class T>
struct Cfg;
template <>
struct Cfg<float> {
  static constexpr int BM = 128, BN = 64, BK = 16, TM = 8, TN = 4;
};
template <>
struct Cfg<double> {
  static constexpr int BM = 64, BN = 64, BK = 8, TM = 4, TN = 4;
};

template <class T, int MODE>
void launchGemm(Geo g, Ptrs<T> p, const char* what) {
  using C = Cfg<T>;
  constexpr int threads = (C::BM / C::TM) * (C::BN / C::TN);
  g.kChunk = (g.Kr + C::BK - 1) / C::BK * C::BK;
  g.splits = 1;
  const int64_t mt = cdiv(g.M, C::BM), nt = cdiv(g.Nn, C::BN);
  if (MODE == kWgrad) {
    // Split the long reduction until the grid fills the GPU, each split at least 8 K steps.
    const int64_t blocks = mt * nt * g.G, want = 4LL * smCount();
    const int64_t maxSplits = std::max<int64_t>(1, g.Kr / (8 * C::BK));
    int64_t s = std::min<int64_t>(maxSplits, std::max<int64_t>(1, (want + blocks - 1) / blocks));
    s = std::min<int64_t>(s, 65535 / g.G);
    if (s > 1) {
      g.kChunk = static_cast<int>((g.Kr + s - 1) / s + C::BK - 1) / C::BK * C::BK;
      g.splits = cdiv(g.Kr, g.kChunk);
    }
  }
  const int64_t z = static_cast<int64_t>(g.G) * g.splits;
  checkGrid(mt, nt, z, what);
  dim3 grid(static_cast<unsigned>(mt), static_cast<unsigned>(nt), static_cast<unsigned>(z));
  implicitGemm<T, MODE, C::BM, C::BN, C::BK, C::TM, C::TN><<<grid, threads, 0, stream()>>>(p, g);
  IV_CUDA_LAUNCHED(what);
}

template <class T>
void forwardT(const ConvGeom& cg, const void* x, const void* w, const void* bias, void* y, void* pre, int act) {
  Geo g = makeGeo(cg);
  if (g.C == g.G) {
    const int total = g.N * g.K * g.PQ;
    dwForward<T><<<gridStrideBlocks(total), 256, 0, stream()>>>(
        g, static_cast<const T*>(x), static_cast<const T*>(w), static_cast<const T*>(bias), static_cast<T*>(y),
        static_cast<T*>(pre), act, total);
    IV_CUDA_LAUNCHED("conv2d depthwise kernel");
    return;
  }
  g.M = g.N * g.PQ, g.Nn = g.Kg, g.Kr = g.Cg * g.RS;
  Ptrs<T> p{static_cast<const T*>(x), static_cast<const T*>(w), static_cast<T*>(y), static_cast<const T*>(bias),
            static_cast<T*>(pre), act};
  launchGemm<T, kFwd>(g, p, "conv2d implicit-GEMM kernel");
}

template <class T>
void backwardInputT(const ConvGeom& cg, const void* gy, const void* w, void* gx) {
  Geo g = makeGeo(cg);
  if (g.C == g.G) {
    const int total = g.N * g.C * g.HW;
    dwBackwardInput<T><<<gridStrideBlocks(total), 256, 0, stream()>>>(g, static_cast<const T*>(gy),
                                                                       static_cast<const T*>(w), static_cast<T*>(gx), total);
    IV_CUDA_LAUNCHED("conv2dBackwardInput depthwise kernel");
    return;
  }
  g.M = g.N * g.HW, g.Nn = g.Cg, g.Kr = g.Kg * g.RS;
  Ptrs<T> p{static_cast<const T*>(gy), static_cast<const T*>(w), static_cast<T*>(gx), nullptr, nullptr, 0};
  launchGemm<T, kDgrad>(g, p, "conv2dBackwardInput implicit-GEMM kernel");
}

template <class T>
void backwardWeightT(const ConvGeom& cg, const void* gy, const void* x, void* gw, void* gb) {
  Geo g = makeGeo(cg);
  IV_CUDA_CHECK(cudaMemsetAsync(gw, 0, sizeof(T) * static_cast<size_t>(g.K) * g.Cg * g.RS, stream()),
                "conv2dBackwardWeight zeroing");
  if (g.N > 0) {
    if (g.C == g.G) {
      checkGrid(g.K, g.N, 1, "conv2dBackwardWeight");
      dwBackwardWeight<T><<<dim3(g.K, g.N), 256, 0, stream()>>>(g, static_cast<const T*>(gy),
                                                                 static_cast<const T*>(x), static_cast<T*>(gw));
      IV_CUDA_LAUNCHED("conv2dBackwardWeight depthwise kernel");
    } else {
      g.M = g.Cg * g.RS, g.Nn = g.Kg, g.Kr = g.N * g.PQ;
      Ptrs<T> p{static_cast<const T*>(x), static_cast<const T*>(gy), static_cast<T*>(gw), nullptr, nullptr, 0};
      launchGemm<T, kWgrad>(g, p, "conv2dBackwardWeight implicit-GEMM kernel");
    }
  }
  if (gb) {
    biasGrad<T><<<g.K, 256, 0, stream()>>>(g, static_cast<const T*>(gy), static_cast<T*>(gb));
    IV_CUDA_LAUNCHED("conv2dBackwardWeight bias kernel");
  }
}

}  // namespace

void convForward(Dt dt, const ConvGeom& g, const void* x, const void* w, const void* bias, void* y, void* pre,
                 int act) {
  if (dt == kF32) forwardT<float>(g, x, w, bias, y, pre, act);
  else forwardT<double>(g, x, w, bias, y, pre, act);
}

void convBackwardInput(Dt dt, const ConvGeom& g, const void* gy, const void* w, void* gx) {
  if (dt == kF32) backwardInputT<float>(g, gy, w, gx);
  else backwardInputT<double>(g, gy, w, gx);
}

void convBackwardWeight(Dt dt, const ConvGeom& g, const void* gy, const void* x, void* gw, void* gb) {
  if (dt == kF32) backwardWeightT<float>(g, gy, x, gw, gb);
  else backwardWeightT<double>(g, gy, x, gw, gb);
}

}  // namespace cuda
}  // namespace iv
