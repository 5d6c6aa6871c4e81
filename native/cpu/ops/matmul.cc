// Batched matmul on the GEMM: out[b] = a[b] @ b[b] (+ bias broadcast over rows), operands
// read in place (native/binding/matmul_args.h). bfloat16 accumulates in a float32 copy of
// out (bias included) and rounds each output once.
#include <algorithm>
#include <memory>
#include "../../binding/matmul_args.h"
#include "../../binding/registry.h"
#include "../bfloat16.h"
#include "../gemm.h"

namespace iv {
namespace {

void matmulBfloat16(const MatmulArgs& m, const GemmLayout& oa, const GemmLayout& ob) {
  const int64_t B = m.B, M = m.M, N = m.N, K = m.K;
  const std::unique_ptr<float[]> scratch(new float[B * M * N]);  // all written before read
  float* acc = scratch.get();
  if (m.hasBias) {
    const bfloat16* bias = m.bias.ptr<bfloat16>();
    for (int64_t i = 0; i < B * M; i++)
      for (int64_t j = 0; j < N; j++) acc[i * N + j] = bias[j * m.bias.strides[0]];
  }
  sbgemmBatched(B, oa.trans, ob.trans, M, N, K, 1.0f, m.a.ptr<bfloat16>(), oa.ld, oa.batchStride,
                m.b.ptr<bfloat16>(), ob.ld, ob.batchStride, m.hasBias ? 1.0f : 0.0f, acc, N, M * N);
  narrowToBfloat16(acc, m.out.ptr<bfloat16>(), B * M * N);
}

Napi::Value matmul(const Napi::CallbackInfo& info) {
  Args args(info, "matmul", 4);
  const MatmulArgs m = parseMatmulArgs(args);
  const TensorArg &out = m.out, &a = m.a, &b = m.b, &bias = m.bias;
  const bool hasBias = m.hasBias;
  const int64_t B = m.B, M = m.M, N = m.N, K = m.K;
  if (B * M * N == 0) return info.Env().Undefined();
  const GemmLayout oa = gemmLayout(args, a, "a"), ob = gemmLayout(args, b, "b");
  if (a.dtype == DType::bfloat16) {
    matmulBfloat16(m, oa, ob);
    return info.Env().Undefined();
  }
  const bool f32 = a.dtype == DType::float32;
  double beta = 0;
  if (hasBias) {
    beta = 1;
    for (int64_t i = 0; i < B * M; i++) {
      const int64_t bs = bias.strides[0];
      if (f32) {
        float* row = out.ptr<float>() + i * N;
        for (int64_t j = 0; j < N; j++) row[j] = bias.ptr<float>()[j * bs];
      } else {
        double* row = out.ptr<double>() + i * N;
        for (int64_t j = 0; j < N; j++) row[j] = bias.ptr<double>()[j * bs];
      }
    }
  }
  if (K == 0) {
    if (!hasBias) {
      if (f32) std::fill(out.ptr<float>(), out.ptr<float>() + B * M * N, 0.0f);
      else std::fill(out.ptr<double>(), out.ptr<double>() + B * M * N, 0.0);
    }
    return info.Env().Undefined();
  }
  if (f32)
    sgemmBatched(B, oa.trans, ob.trans, M, N, K, 1.0f, a.ptr<float>(), oa.ld, oa.batchStride, b.ptr<float>(), ob.ld,
                 ob.batchStride, static_cast<float>(beta), out.ptr<float>(), N, M * N);
  else
    dgemmBatched(B, oa.trans, ob.trans, M, N, K, 1.0, a.ptr<double>(), oa.ld, oa.batchStride, b.ptr<double>(), ob.ld,
                 ob.batchStride, beta, out.ptr<double>(), N, M * N);
  return info.Env().Undefined();
}

}  // namespace

IV_EXPORT("matmul", matmul);
IV_BFLOAT16("matmul");

}  // namespace iv
