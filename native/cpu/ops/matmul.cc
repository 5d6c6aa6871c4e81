// Batched matmul on the GEMM: out[b] = a[b] @ b[b] (+ bias broadcast over rows). The views
// are 3-d [batch, rows, cols]; a unit stride in either of the last two dims maps to a
// (transposed) GEMM operand without a copy, and batch stride 0 broadcasts.
#include <string>
#include "../../binding/args.h"
#include "../../binding/registry.h"
#include "../gemm.h"

namespace iv {
namespace {

struct Operand {
  bool trans;
  int64_t ld, batchStride;
};

Operand asOperand(Args& args, const TensorArg& t, const char* name) {
  const int64_t rows = t.shape[1], cols = t.shape[2];
  const int64_t sr = t.strides[1], sc = t.strides[2];
  if (sc == 1 || cols == 1) return {false, rows == 1 ? std::max<int64_t>(cols, 1) : sr, t.strides[0]};
  if (sr == 1 || rows == 1) return {true, cols == 1 ? std::max<int64_t>(rows, 1) : sc, t.strides[0]};
  args.fail(std::string("argument '") + name + "' needs a unit stride in one of its last two dims (make it contiguous)");
}

Napi::Value matmul(const Napi::CallbackInfo& info) {
  Args args(info, "matmul", 4);
  TensorArg out = args.tensor(0, "out"), a = args.tensor(1, "a"), b = args.tensor(2, "b");
  const bool hasBias = !args.isNullish(3);
  TensorArg bias;
  if (hasBias) bias = args.tensor(3, "bias");
  if (a.shape.size() != 3 || b.shape.size() != 3 || out.shape.size() != 3)
    args.fail("a, b and out must be 3-d [batch, rows, cols], got a " + a.shapeString() + ", b " + b.shapeString() +
              ", out " + out.shapeString());
  const int64_t B = out.shape[0], M = out.shape[1], N = out.shape[2], K = a.shape[2];
  if (a.shape[0] != B || b.shape[0] != B || a.shape[1] != M || b.shape[1] != K || b.shape[2] != N)
    args.fail("shapes do not chain: a " + a.shapeString() + " @ b " + b.shapeString() + " -> out " + out.shapeString());
  if (a.dtype != b.dtype || a.dtype != out.dtype || (a.dtype != DType::float32 && a.dtype != DType::float64))
    args.fail(std::string("a, b and out must share a float dtype, got ") + dtypeName(a.dtype) + ", " +
              dtypeName(b.dtype) + ", " + dtypeName(out.dtype));
  if (out.strides[2] != 1 || out.strides[1] != N || (B > 1 && out.strides[0] != M * N))
    args.fail("out must be contiguous, shape " + out.shapeString());
  if (hasBias && (bias.shape.size() != 1 || bias.shape[0] != N || bias.dtype != out.dtype))
    args.fail("bias must be 1-d of length " + std::to_string(N) + " and dtype " + dtypeName(out.dtype) + ", got " +
              bias.shapeString());
  if (B * M * N == 0) return info.Env().Undefined();
  Operand oa = asOperand(args, a, "a"), ob = asOperand(args, b, "b");
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

}  // namespace iv
