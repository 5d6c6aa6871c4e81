// The launchers the N-API glue calls. Arguments arrive checked (shapes, dtypes, bounds);
// each launcher enqueues on stream(), checks the launch and throws CudaError naming `op`.
#pragma once
#include "common.h"
#include "ops.h"

namespace iv {
namespace cuda {

// Elementwise: L holds the output's and the inputs' strides (output first), n = numel > 0.
void launchUnary(U op, Dt dtype, const Layout& L, int64_t n, void* out, const void* x, double a, double b);
void launchBinary(B op, Dt dtype, const Layout& L, int64_t n, void* out, const void* a, const void* b, double alpha);
void launchWhere(Dt dtype, const Layout& L, int64_t n, void* out, const void* cond, const void* a, const void* b);
void launchCopy(Dt outType, Dt srcType, const Layout& L, int64_t n, void* out, const void* src);
void launchFill(Dt dtype, const Layout& L, int64_t n, void* out, double value);

// Reduces `inner` (the trailing dims: strides of x) for each of the outN outputs; `outer`
// holds the kept dims with operand 0 = out (contiguous) and operand 1 = x.
void launchReduce(R op, Dt xType, const Layout& outer, const Layout& inner, int64_t outN, int64_t count,
                  void* out, const void* x, double correction);

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
