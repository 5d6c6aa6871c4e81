// bf16 GEMM on the tensor cores with float32 accumulation: mma.sync m16n8k16 (sm_80 and
// later; wgmma on sm_90a is the next step), fed by ldmatrix from shared memory that
// cp.async fills kStages k-steps ahead.
//
// The operands arrive as float32 GemmOperands (the Tensor layer has no bf16 dtype yet)
// and are first packed into bf16 workspaces: A as [batch][Mp][Kp], B as B^T [batch][Np][Kp],
// k contiguous in both ("row.col" for mma), zero-padded to whole tiles so that the main
// loop needs no bounds checks. Packing rounds to nearest even and costs one pass over the
// float32 inputs (6 bytes per element moved).
#include <cuda_bf16.h>
#include <algorithm>
#include <vector>
#include "../allocator.h"
#include "matmul.cuh"

namespace iv {
namespace cuda {
namespace {

constexpr int kBM = 128, kBN = 128, kBK = 32;
constexpr int kStages = 4;
constexpr int kThreads = 256;  // 8 warps: 2 along M x 4 along N, each 64 x 32 of the tile
constexpr int kRow = kBK + 8;  // bf16 per shared row: 80 bytes, so ldmatrix rows hit distinct banks
constexpr int kStageElems = (kBM + kBN) * kRow;
constexpr size_t kSmemBytes = size_t(kStages) * kStageElems * sizeof(__nv_bfloat16);

int64_t roundUp(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// dst[z][t][k] = bf16(src element (t, k)) for t < T, k < K; zero in the padding. A 32x32
// tile goes through shared memory so that both the read (along the source's contiguous
// dim) and the write (along k) are coalesced.
__global__ void packKernel(const float* __restrict__ src, bool kMajor, int64_t ld, int64_t batchStride, int64_t T,
                           int64_t K, int64_t Tp, int64_t Kp, __nv_bfloat16* __restrict__ dst) {
  __shared__ float tile[32][33];
  const int64_t z = blockIdx.z;
  const int64_t t0 = int64_t(blockIdx.x) * 32, k0 = int64_t(blockIdx.y) * 32;
  const float* s = src + z * batchStride;
  const int x = threadIdx.x, y = threadIdx.y;  // 32 x 8
  for (int r = y; r < 32; r += 8) {
    // Read with x along the source's contiguous dim: k when not k-major, else t.
    const int64_t t = kMajor ? t0 + x : t0 + r, k = kMajor ? k0 + r : k0 + x;
    const float v = (t < T && k < K) ? (kMajor ? s[k * ld + t] : s[t * ld + k]) : 0.f;
    if (kMajor) tile[x][r] = v;
    else tile[r][x] = v;
  }
  __syncthreads();
  for (int r = y; r < 32; r += 8) {
    const int64_t t = t0 + r, k = k0 + x;
    if (t < Tp && k < Kp) dst[(z * Tp + t) * Kp + k] = __float2bfloat16_rn(tile[r][x]);
  }
}

__device__ __forceinline__ uint32_t smemAddr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void cpAsync16(void* smem, const void* gmem) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(smemAddr(smem)), "l"(gmem));
}

__device__ __forceinline__ void ldmatrixX4(uint32_t (&r)[4], const void* smem) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smemAddr(smem)));
}

__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// One k-step's tiles into a stage: A rows [m0, m0 + 128) and B^T rows [n0, n0 + 128), 32
// k each, as 16-byte chunks (4 per row, 2 per thread per operand).
__device__ __forceinline__ void loadStage(__nv_bfloat16* stage, const __nv_bfloat16* a, const __nv_bfloat16* b,
                                          int64_t Kp, int64_t k0, int tid) {
  __nv_bfloat16* as = stage;
  __nv_bfloat16* bs = stage + kBM * kRow;
#pragma unroll
  for (int r = 0; r < 2; r++) {
    const int c = tid + r * kThreads;
    const int row = c / 4, col = (c % 4) * 8;
    cpAsync16(as + row * kRow + col, a + row * Kp + k0 + col);
    cpAsync16(bs + row * kRow + col, b + row * Kp + k0 + col);
  }
}

__global__ void __launch_bounds__(kThreads) bf16GemmKernel(const __nv_bfloat16* __restrict__ A,
                                                           const __nv_bfloat16* __restrict__ Bt, int64_t aBatch,
                                                           int64_t bBatch, int64_t M, int64_t N, int64_t Kp,
                                                           float* __restrict__ out, const float* __restrict__ bias,
                                                           int64_t biasStride) {
  extern __shared__ __align__(16) __nv_bfloat16 smem[];
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int wm = (warp / 4) * 64, wn = (warp % 4) * 32;
  const int64_t m0 = int64_t(blockIdx.x) * kBM, n0 = int64_t(blockIdx.y) * kBN, z = blockIdx.z;
  const __nv_bfloat16* a = A + z * aBatch + m0 * Kp;
  const __nv_bfloat16* b = Bt + z * bBatch + n0 * Kp;
  const int64_t steps = Kp / kBK;

  float acc[4][4][4] = {};
#pragma unroll
  for (int s = 0; s < kStages - 1; s++) {
    if (s < steps) loadStage(smem + s * kStageElems, a, b, Kp, int64_t(s) * kBK, tid);
    asm volatile("cp.async.commit_group;\n" ::);
  }
  for (int64_t kt = 0; kt < steps; kt++) {
    // Step kt's group is complete once at most kStages - 2 newer ones are pending.
    asm volatile("cp.async.wait_group %0;\n" ::"n"(kStages - 2));
    __syncthreads();  // everyone's copies landed, and everyone is done with the stage reloaded next
    const int64_t next = kt + kStages - 1;
    if (next < steps) loadStage(smem + (next % kStages) * kStageElems, a, b, Kp, next * kBK, tid);
    asm volatile("cp.async.commit_group;\n" ::);

    const __nv_bfloat16* as = smem + (kt % kStages) * kStageElems;
    const __nv_bfloat16* bs = as + kBM * kRow;
#pragma unroll
    for (int kk = 0; kk < kBK; kk += 16) {
      uint32_t af[4][4], bf[2][4];
#pragma unroll
      for (int mi = 0; mi < 4; mi++)  // rows lane % 16, k half lane / 16: registers a0..a3 of mma
        ldmatrixX4(af[mi], as + (wm + mi * 16 + lane % 16) * kRow + kk + (lane / 16) * 8);
#pragma unroll
      for (int nj = 0; nj < 2; nj++)  // two n8 blocks x two k halves: b0, b1 of n-block 2nj, then 2nj + 1
        ldmatrixX4(bf[nj], bs + (wn + nj * 16 + (lane & 7) + ((lane >> 4) << 3)) * kRow + kk + ((lane >> 3) & 1) * 8);
#pragma unroll
      for (int mi = 0; mi < 4; mi++)
#pragma unroll
        for (int ni = 0; ni < 4; ni++) mma16816(acc[mi][ni], af[mi], bf[ni / 2][(ni % 2) * 2], bf[ni / 2][(ni % 2) * 2 + 1]);
    }
  }
  asm volatile("cp.async.wait_group 0;\n" ::);

  float* o = out + z * M * N;
  const int g = lane / 4, t2 = (lane % 4) * 2;
  const bool pairs = N % 2 == 0 && reinterpret_cast<uintptr_t>(out) % 8 == 0;
#pragma unroll
  for (int mi = 0; mi < 4; mi++)
#pragma unroll
    for (int ni = 0; ni < 4; ni++)
#pragma unroll
      for (int h = 0; h < 2; h++) {  // c0, c1 at row g; c2, c3 at row g + 8
        const int64_t m = m0 + wm + mi * 16 + g + h * 8, n = n0 + wn + ni * 8 + t2;
        if (m >= M) continue;
        float v0 = acc[mi][ni][h * 2], v1 = acc[mi][ni][h * 2 + 1];
        if (bias) {
          if (n < N) v0 += bias[n * biasStride];
          if (n + 1 < N) v1 += bias[(n + 1) * biasStride];
        }
        if (pairs && n + 1 < N) *reinterpret_cast<float2*>(&o[m * N + n]) = make_float2(v0, v1);
        else {
          if (n < N) o[m * N + n] = v0;
          if (n + 1 < N) o[m * N + n + 1] = v1;
        }
      }
}

void pack(const float* src, bool kMajor, int64_t ld, int64_t batchStride, int64_t batches, int64_t T, int64_t K,
          int64_t Tp, int64_t Kp, __nv_bfloat16* dst) {
  const dim3 grid(static_cast<unsigned>(Tp / 32), static_cast<unsigned>(Kp / 32), static_cast<unsigned>(batches));
  packKernel<<<grid, dim3(32, 8), 0, stream()>>>(src, kMajor, ld, batchStride, T, K, Tp, Kp, dst);
  IV_CUDA_LAUNCHED("gemmBf16 (packing to bf16)");
}

void launchMma(const __nv_bfloat16* a, const __nv_bfloat16* bt, int64_t aBatch, int64_t bBatch, int64_t batch,
               int64_t M, int64_t N, int64_t Mp, int64_t Np, int64_t Kp, float* out, const float* bias,
               int64_t biasStride) {
  static const bool configured = [] {
    IV_CUDA_CHECK(cudaFuncSetAttribute(bf16GemmKernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(kSmemBytes)),
                  "gemmBf16");
    return true;
  }();
  (void)configured;
  const dim3 grid(static_cast<unsigned>(Mp / kBM), static_cast<unsigned>(Np / kBN), static_cast<unsigned>(batch));
  bf16GemmKernel<<<grid, kThreads, kSmemBytes, stream()>>>(a, bt, aBatch, bBatch, M, N, Kp, out, bias, biasStride);
  IV_CUDA_LAUNCHED("gemmBf16");
}

__global__ void randomBf16Kernel(__nv_bfloat16* p, int64_t n, uint32_t seed) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    uint32_t h = static_cast<uint32_t>(i) * 2654435761u ^ seed;
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    p[i] = __float2bfloat16_rn(static_cast<float>(h & 0xffff) / 32768.f - 1.f);
  }
}

}  // namespace

void gemmBf16(int64_t batch, int64_t M, int64_t N, int64_t K, GemmOperand a, GemmOperand b, float* out,
              const float* bias, int64_t biasStride) {
  if (batch > 65535) throw CudaError("batch " + std::to_string(batch) + " exceeds 65535");
  const int64_t Mp = roundUp(M, kBM), Np = roundUp(N, kBN), Kp = roundUp(std::max<int64_t>(K, 1), kBK);
  // A broadcast operand (batch stride 0) is packed once and read with batch stride 0.
  const int64_t aBatches = a.batchStride == 0 ? 1 : batch, bBatches = b.batchStride == 0 ? 1 : batch;
  ScopedBlock aPacked(static_cast<size_t>(aBatches * Mp * Kp) * 2, "gemmBf16");
  ScopedBlock bPacked(static_cast<size_t>(bBatches * Np * Kp) * 2, "gemmBf16");
  // A is M x K, k-major when transposed; B^T is N x K, k-major unless B is transposed.
  pack(static_cast<const float*>(a.data), a.trans, a.ld, a.batchStride, aBatches, M, K, Mp, Kp,
       aPacked.as<__nv_bfloat16>());
  pack(static_cast<const float*>(b.data), !b.trans, b.ld, b.batchStride, bBatches, N, K, Np, Kp,
       bPacked.as<__nv_bfloat16>());
  launchMma(aPacked.as<__nv_bfloat16>(), bPacked.as<__nv_bfloat16>(), aBatches == 1 ? 0 : Mp * Kp,
            bBatches == 1 ? 0 : Np * Kp, batch, M, N, Mp, Np, Kp, out, bias, biasStride);
}

double timeGemmBf16(int64_t M, int64_t N, int64_t K, int iters) {
  const int64_t Mp = roundUp(M, kBM), Np = roundUp(N, kBN), Kp = roundUp(K, kBK);
  ScopedBlock a(static_cast<size_t>(Mp * Kp) * 2, "timeGemmBf16");
  ScopedBlock b(static_cast<size_t>(Np * Kp) * 2, "timeGemmBf16");
  ScopedBlock c(static_cast<size_t>(M * N) * 4, "timeGemmBf16");
  randomBf16Kernel<<<1024, 256, 0, stream()>>>(a.as<__nv_bfloat16>(), Mp * Kp, 1u);
  IV_CUDA_LAUNCHED("timeGemmBf16");
  randomBf16Kernel<<<1024, 256, 0, stream()>>>(b.as<__nv_bfloat16>(), Np * Kp, 2u);
  IV_CUDA_LAUNCHED("timeGemmBf16");
  auto once = [&] {
    launchMma(a.as<__nv_bfloat16>(), b.as<__nv_bfloat16>(), 0, 0, 1, M, N, Mp, Np, Kp, c.as<float>(), nullptr, 0);
  };
  for (int i = 0; i < 3; i++) once();
  cudaEvent_t start, stop;
  IV_CUDA_CHECK(cudaEventCreate(&start), "timeGemmBf16");
  IV_CUDA_CHECK(cudaEventCreate(&stop), "timeGemmBf16");
  std::vector<float> ms(static_cast<size_t>(std::max(iters, 1)));
  for (float& t : ms) {
    IV_CUDA_CHECK(cudaEventRecord(start, stream()), "timeGemmBf16");
    once();
    IV_CUDA_CHECK(cudaEventRecord(stop, stream()), "timeGemmBf16");
    IV_CUDA_CHECK(cudaEventSynchronize(stop), "timeGemmBf16");
    IV_CUDA_CHECK(cudaEventElapsedTime(&t, start, stop), "timeGemmBf16");
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
  return ms[ms.size() / 2];
}

}  // namespace cuda
}  // namespace iv
