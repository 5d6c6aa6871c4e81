// Batched GEMM launchers (matmul.cu: float32 and float64; matmul_bf16.cu: bf16 tensor
// cores), called by binding/matmul.cc with checked arguments.
#pragma once
#include "../common.h"

namespace iv {
namespace cuda {

// One operand of a batched GEMM as the CPU's matmul reads it: element (r, c) of batch b at
// b * batchStride + (trans ? c * ld + r : r * ld + c).
struct GemmOperand {
  const void* data;
  bool trans;
  int64_t ld, batchStride;
};

// out[b] (contiguous, M x N, batch stride M * N or 0 when batch == 1) = a[b] @ b[b] + bias.
// bias: null or N values at stride biasStride.
void gemmF32(int64_t batch, int64_t M, int64_t N, int64_t K, GemmOperand a, GemmOperand b, float* out,
             const float* bias, int64_t biasStride);
void gemmF64(int64_t batch, int64_t M, int64_t N, int64_t K, GemmOperand a, GemmOperand b, double* out,
             const double* bias, int64_t biasStride);
// Float32 operands rounded to bf16 (into a workspace from the caching allocator), products
// on the tensor cores, float32 accumulation and output.
void gemmBf16(int64_t batch, int64_t M, int64_t N, int64_t K, GemmOperand a, GemmOperand b, float* out,
              const float* bias, int64_t biasStride);
// The bf16 tensor-core kernel alone on random bf16 operands of its own: milliseconds per
// call (CUDA events, median of `iters` after a warm-up), for the benchmark.
double timeGemmBf16(int64_t M, int64_t N, int64_t K, int iters);

}  // namespace cuda
}  // namespace iv
