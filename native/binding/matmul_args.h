// Argument list of the matmul entry points, parsed once for the CPU and CUDA addons:
// matmul(out, a, b, bias | null) on 3-d [batch, rows, cols] views, out contiguous.
#pragma once
#include <cstdint>
#include "args.h"

namespace iv {

struct MatmulArgs {
  TensorArg out, a, b, bias;
  bool hasBias = false;
  int64_t B, M, N, K;
};
// float32Only: the bf16 GEMM, which takes float32 tensors alone.
MatmulArgs parseMatmulArgs(Args& args, bool float32Only = false);

// A GEMM operand read in place: element (r, c) of batch b at b * batchStride +
// (trans ? c * ld + r : r * ld + c). A unit stride in either of the last two dims maps to a
// (transposed) operand without a copy, and batch stride 0 broadcasts; anything else is refused.
struct GemmLayout {
  bool trans;
  int64_t ld, batchStride;
};
GemmLayout gemmLayout(Args& args, const TensorArg& t, const char* name);

}  // namespace iv
