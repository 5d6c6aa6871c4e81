// Batched GEMM for matmul/linear: out[b] = a[b] @ b[b] (+ bias over rows), operands read
// in place with the CPU's transpose detection (GemmOperand).
//
// float32, after the well-known SGEMM worklogs: a block tile of the output (128x128, or
// 64x64 when there are too few tiles to fill the GPU), K in steps of 16 through shared
// memory, double-buffered so that the next step's global loads are in flight while this
// step computes; each warp owns a 64x32 sub-tile and each thread an 8x8 piece of it, as
// 2x2 blocks of 4x4 so that its shared-memory reads are conflict-free float4 broadcasts.
// Global loads are float4 along whichever dim is contiguous, A is stored k-major (As[k][m])
// so both operands are read as float4 rows. Products are plain FFMA (no TF32).
//
// float64: a simple shared-memory tiled kernel (64x64 tiles, 4x4 per thread).
#include <algorithm>
#include "matmul.cuh"

namespace iv {
namespace cuda {
namespace {

constexpr int kBK = 16;
constexpr int kPad = 4;  // keeps float4 alignment and spreads the transposed stores over banks

// The tile geometry shared by loader and compute.
template <int BM, int BN>
struct Tile {
  static constexpr int kWarpsM = BM / 64, kWarpsN = BN / 32;
  static constexpr int kThreads = kWarpsM * kWarpsN * 32;
  static constexpr int kLdA = BM + kPad, kLdB = BN + kPad;
};

// An operand seen as a T x K matrix, T being the tile dim (M for A, N for B): element
// (t, k) at t * ld + k, or at k * ld + t when k-major (a template flag, which saves the
// registers and branches of a run-time one). B (K x N) enters as its transpose.
struct Operand {
  const float* p;
  int64_t ld;
  bool vec;  // float4 loads allowed: 16-byte aligned base, ld and batch stride
};

template <bool KMajor>
__device__ __forceinline__ float elem(const Operand& o, int64_t t, int64_t k, int64_t tRows, int64_t kCols) {
  if (t >= tRows || k >= kCols) return 0.f;
  return KMajor ? o.p[k * o.ld + t] : o.p[t * o.ld + k];
}

// One k-step's TileDim x kBK slice of an operand, staged in registers as float4 runs along
// the operand's contiguous dim, then stored to shared memory k-major (s[k][t]).
template <int TileDim, int Threads, bool KMajor>
struct SliceLoader {
  static constexpr int kVecs = TileDim * kBK / 4 / Threads;
  float4 v[kVecs];

  // Run r of this thread: its first element (t, k), the run along k unless k-major.
  __device__ __forceinline__ static void runStart(int idx, int& t, int& k) {
    if (KMajor) {
      k = idx / (TileDim / 4);
      t = (idx % (TileDim / 4)) * 4;
    } else {
      t = idx / (kBK / 4);
      k = (idx % (kBK / 4)) * 4;
    }
  }

  __device__ __forceinline__ void load(const Operand& o, int64_t t0, int64_t k0, int64_t tRows, int64_t kCols,
                                       int tid) {
#pragma unroll
    for (int r = 0; r < kVecs; r++) {
      int t, k;
      runStart(tid + r * Threads, t, k);
      const int64_t gt = t0 + t, gk = k0 + k;
      if (KMajor) {
        if (o.vec && gk < kCols && gt + 3 < tRows)
          v[r] = *reinterpret_cast<const float4*>(o.p + gk * o.ld + gt);
        else
          v[r] = make_float4(elem<KMajor>(o, gt, gk, tRows, kCols), elem<KMajor>(o, gt + 1, gk, tRows, kCols),
                             elem<KMajor>(o, gt + 2, gk, tRows, kCols), elem<KMajor>(o, gt + 3, gk, tRows, kCols));
      } else {
        if (o.vec && gt < tRows && gk + 3 < kCols)
          v[r] = *reinterpret_cast<const float4*>(o.p + gt * o.ld + gk);
        else
          v[r] = make_float4(elem<KMajor>(o, gt, gk, tRows, kCols), elem<KMajor>(o, gt, gk + 1, tRows, kCols),
                             elem<KMajor>(o, gt, gk + 2, tRows, kCols), elem<KMajor>(o, gt, gk + 3, tRows, kCols));
      }
    }
  }

  __device__ __forceinline__ void store(float* s, int ldS, int tid) const {
#pragma unroll
    for (int r = 0; r < kVecs; r++) {
      int t, k;
      runStart(tid + r * Threads, t, k);
      if (KMajor) {
        *reinterpret_cast<float4*>(&s[k * ldS + t]) = v[r];
      } else {
        s[(k + 0) * ldS + t] = v[r].x;
        s[(k + 1) * ldS + t] = v[r].y;
        s[(k + 2) * ldS + t] = v[r].z;
        s[(k + 3) * ldS + t] = v[r].w;
      }
    }
  }
};

template <int BM, int BN, bool AKMajor, bool BKMajor>
__global__ void __launch_bounds__(Tile<BM, BN>::kThreads)
    sgemmKernel(int64_t batch, int64_t M, int64_t N, int64_t K, Operand a, int64_t aBatch, Operand b, int64_t bBatch,
                float* __restrict__ out, bool vecOut, const float* __restrict__ bias, int64_t biasStride) {
  using G = Tile<BM, BN>;
  __shared__ __align__(16) float As[2][kBK][G::kLdA];
  __shared__ __align__(16) float Bs[2][kBK][G::kLdB];
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int wm = (warp / G::kWarpsN) * 64, wn = (warp % G::kWarpsN) * 32;
  const int tm = lane / 4, tn = lane % 4;
  const int64_t m0 = int64_t(blockIdx.x) * BM, n0 = int64_t(blockIdx.y) * BN;
  SliceLoader<BM, G::kThreads, AKMajor> la;
  SliceLoader<BN, G::kThreads, BKMajor> lb;
  const int64_t tiles = (K + kBK - 1) / kBK;

  for (int64_t z = blockIdx.z; z < batch; z += gridDim.z) {
    Operand az = a, bz = b;
    az.p += z * aBatch;
    bz.p += z * bBatch;
    float acc[8][8] = {};
    la.load(az, m0, 0, M, K, tid);
    lb.load(bz, n0, 0, N, K, tid);
    la.store(&As[0][0][0], G::kLdA, tid);
    lb.store(&Bs[0][0][0], G::kLdB, tid);
    __syncthreads();
    for (int64_t kt = 0; kt < tiles; kt++) {
      const int cur = kt & 1;
      const bool more = kt + 1 < tiles;
      if (more) {
        la.load(az, m0, (kt + 1) * kBK, M, K, tid);
        lb.load(bz, n0, (kt + 1) * kBK, N, K, tid);
      }
#pragma unroll
      for (int k = 0; k < kBK; k++) {
        float ra[8], rb[8];
        *reinterpret_cast<float4*>(&ra[0]) = *reinterpret_cast<const float4*>(&As[cur][k][wm + tm * 4]);
        *reinterpret_cast<float4*>(&ra[4]) = *reinterpret_cast<const float4*>(&As[cur][k][wm + 32 + tm * 4]);
        *reinterpret_cast<float4*>(&rb[0]) = *reinterpret_cast<const float4*>(&Bs[cur][k][wn + tn * 4]);
        *reinterpret_cast<float4*>(&rb[4]) = *reinterpret_cast<const float4*>(&Bs[cur][k][wn + 16 + tn * 4]);
#pragma unroll
        for (int i = 0; i < 8; i++)
#pragma unroll
          for (int j = 0; j < 8; j++) acc[i][j] = fmaf(ra[i], rb[j], acc[i][j]);
      }
      if (more) {
        la.store(&As[cur ^ 1][0][0], G::kLdA, tid);
        lb.store(&Bs[cur ^ 1][0][0], G::kLdB, tid);
      }
      __syncthreads();
    }
    float* o = out + z * M * N;
#pragma unroll
    for (int i = 0; i < 8; i++) {
      const int64_t m = m0 + wm + (i / 4) * 32 + tm * 4 + (i % 4);
      if (m >= M) continue;
#pragma unroll
      for (int h = 0; h < 2; h++) {
        const int64_t n = n0 + wn + h * 16 + tn * 4;
        float r[4];
#pragma unroll
        for (int j = 0; j < 4; j++)
          r[j] = acc[i][h * 4 + j] + (bias && n + j < N ? bias[(n + j) * biasStride] : 0.f);
        if (vecOut && n + 3 < N) {
          *reinterpret_cast<float4*>(&o[m * N + n]) = make_float4(r[0], r[1], r[2], r[3]);
        } else {
#pragma unroll
          for (int j = 0; j < 4; j++)
            if (n + j < N) o[m * N + n + j] = r[j];
        }
      }
    }
  }
}

bool aligned16(const void* p, int64_t ld, int64_t batchStride, int64_t batch) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0 && ld % 4 == 0 && (batch == 1 || batchStride % 4 == 0);
}

template <int BM, int BN, bool AKMajor, bool BKMajor>
void launchSgemm(int64_t batch, int64_t M, int64_t N, int64_t K, GemmOperand a, GemmOperand b, float* out,
                 const float* bias, int64_t biasStride) {
  const Operand oa{static_cast<const float*>(a.data), a.ld, aligned16(a.data, a.ld, a.batchStride, batch)};
  const Operand ob{static_cast<const float*>(b.data), b.ld, aligned16(b.data, b.ld, b.batchStride, batch)};
  const bool vecOut = N % 4 == 0 && reinterpret_cast<uintptr_t>(out) % 16 == 0;
  const dim3 grid(static_cast<unsigned>((M + BM - 1) / BM), static_cast<unsigned>((N + BN - 1) / BN),
                  static_cast<unsigned>(std::min<int64_t>(batch, 65535)));
  sgemmKernel<BM, BN, AKMajor, BKMajor><<<grid, Tile<BM, BN>::kThreads, 0, stream()>>>(
      batch, M, N, K, oa, a.batchStride, ob, b.batchStride, out, vecOut, bias, biasStride);
  IV_CUDA_LAUNCHED("matmul");
}

// A (M x K) is k-major when transposed; B (K x N), read as its transpose, unless transposed.
template <int BM, int BN>
void launchSgemmFor(int64_t batch, int64_t M, int64_t N, int64_t K, GemmOperand a, GemmOperand b, float* out,
                    const float* bias, int64_t biasStride) {
  if (a.trans) {
    if (b.trans) launchSgemm<BM, BN, true, false>(batch, M, N, K, a, b, out, bias, biasStride);
    else launchSgemm<BM, BN, true, true>(batch, M, N, K, a, b, out, bias, biasStride);
  } else {
    if (b.trans) launchSgemm<BM, BN, false, false>(batch, M, N, K, a, b, out, bias, biasStride);
    else launchSgemm<BM, BN, false, true>(batch, M, N, K, a, b, out, bias, biasStride);
  }
}

constexpr int kDT = 64, kDK = 16;

__device__ __forceinline__ double elemD(const double* p, bool trans, int64_t ld, int64_t r, int64_t c, int64_t rows,
                                        int64_t cols) {
  if (r >= rows || c >= cols) return 0.0;
  return trans ? p[c * ld + r] : p[r * ld + c];
}

__global__ void __launch_bounds__(256) dgemmKernel(int64_t batch, int64_t M, int64_t N, int64_t K, GemmOperand a,
                                                   GemmOperand b, double* __restrict__ out,
                                                   const double* __restrict__ bias, int64_t biasStride) {
  __shared__ double As[kDK][kDT + 1];
  __shared__ double Bs[kDK][kDT + 1];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int64_t m0 = int64_t(blockIdx.x) * kDT, n0 = int64_t(blockIdx.y) * kDT;
  for (int64_t z = blockIdx.z; z < batch; z += gridDim.z) {
    const double* pa = static_cast<const double*>(a.data) + z * a.batchStride;
    const double* pb = static_cast<const double*>(b.data) + z * b.batchStride;
    double acc[4][4] = {};
    for (int64_t k0 = 0; k0 < K; k0 += kDK) {
      for (int i = threadIdx.x; i < kDK * kDT; i += blockDim.x) {
        const int k = i / kDT, t = i % kDT;
        As[k][t] = elemD(pa, a.trans, a.ld, m0 + t, k0 + k, M, K);
        Bs[k][t] = elemD(pb, b.trans, b.ld, k0 + k, n0 + t, K, N);
      }
      __syncthreads();
#pragma unroll
      for (int k = 0; k < kDK; k++)
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
          for (int j = 0; j < 4; j++) acc[i][j] = fma(As[k][ty + 16 * i], Bs[k][tx + 16 * j], acc[i][j]);
      __syncthreads();
    }
    double* o = out + z * M * N;
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 4; j++) {
        const int64_t m = m0 + ty + 16 * i, n = n0 + tx + 16 * j;
        if (m < M && n < N) o[m * N + n] = acc[i][j] + (bias ? bias[n * biasStride] : 0.0);
      }
  }
}

}  // namespace

void gemmF32(int64_t batch, int64_t M, int64_t N, int64_t K, GemmOperand a, GemmOperand b, float* out,
             const float* bias, int64_t biasStride) {
  const int64_t bigTiles = ((M + 127) / 128) * ((N + 127) / 128) * batch;
  if (bigTiles >= smCount())
    launchSgemmFor<128, 128>(batch, M, N, K, a, b, out, bias, biasStride);
  else
    launchSgemmFor<64, 64>(batch, M, N, K, a, b, out, bias, biasStride);
}

void gemmF64(int64_t batch, int64_t M, int64_t N, int64_t K, GemmOperand a, GemmOperand b, double* out,
             const double* bias, int64_t biasStride) {
  const dim3 grid(static_cast<unsigned>((M + kDT - 1) / kDT), static_cast<unsigned>((N + kDT - 1) / kDT),
                  static_cast<unsigned>(std::min<int64_t>(batch, 65535)));
  dgemmKernel<<<grid, 256, 0, stream()>>>(batch, M, N, K, a, b, out, bias, biasStride);
  IV_CUDA_LAUNCHED("matmul");
}

}  // namespace cuda
}  // namespace iv
