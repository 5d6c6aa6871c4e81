// The CUDA addon's matmul entry points (arguments parsed by native/binding/matmul_args.cc,
// as for native/cpu/ops/matmul.cc), descriptors holding device handles, and the bf16
// tensor-core GEMM with its timing hook. The launchers are kernels/matmul.cu and matmul_bf16.cu.
#include "../../binding/matmul_args.h"
#include "../../binding/registry.h"
#include "../kernels/matmul.cuh"
#include "device_args.h"

namespace iv::cuda {
namespace {

GemmOperand asOperand(Args& args, const TensorArg& t, const char* name) {
  const GemmLayout l = gemmLayout(args, t, name);
  return {t.data, l.trans, l.ld, l.batchStride};
}

Napi::Value matmul(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "matmul", 4);
  const MatmulArgs m = parseMatmulArgs(args);
  if (m.B * m.M * m.N == 0) return info.Env().Undefined();
  const GemmOperand oa = asOperand(args, m.a, "a"), ob = asOperand(args, m.b, "b");
  const int64_t biasStride = m.hasBias ? m.bias.strides[0] : 0;
  if (m.a.dtype == DType::float32)
    gemmF32(m.B, m.M, m.N, m.K, oa, ob, m.out.ptr<float>(), m.bias.ptr<float>(), biasStride);
  else
    gemmF64(m.B, m.M, m.N, m.K, oa, ob, m.out.ptr<double>(), m.bias.ptr<double>(), biasStride);
  return info.Env().Undefined();
}

// matmul's contract with float32 tensors, computed from their bf16 roundings on the
// tensor cores (float32 accumulation).
Napi::Value gemmBf16Export(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "gemmBf16", 4);
  const MatmulArgs m = parseMatmulArgs(args, true);
  if (m.B * m.M * m.N == 0) return info.Env().Undefined();
  const GemmOperand oa = asOperand(args, m.a, "a"), ob = asOperand(args, m.b, "b");
  gemmBf16(m.B, m.M, m.N, m.K, oa, ob, m.out.ptr<float>(), m.bias.ptr<float>(), m.hasBias ? m.bias.strides[0] : 0);
  return info.Env().Undefined();
}

Napi::Value timeGemmBf16Export(const Napi::CallbackInfo& info) {
  Args args(info, "timeGemmBf16", 4);
  const int64_t M = args.integer(0, "m"), N = args.integer(1, "n"), K = args.integer(2, "k");
  const int64_t iters = args.integer(3, "iters");
  if (M < 1 || N < 1 || K < 1 || iters < 1) args.fail("m, n, k and iters must be positive");
  return Napi::Number::New(info.Env(), timeGemmBf16(M, N, K, static_cast<int>(iters)));
}

}  // namespace

IV_EXPORT("matmul", matmul);
IV_EXPORT("gemmBf16", gemmBf16Export);
IV_EXPORT("timeGemmBf16", timeGemmBf16Export);

}  // namespace iv::cuda
