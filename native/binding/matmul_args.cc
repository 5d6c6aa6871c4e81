#include "matmul_args.h"
#include <algorithm>
#include <string>

namespace iv {

MatmulArgs parseMatmulArgs(Args& args, bool float32Only) {
  MatmulArgs m;
  m.out = args.tensor(0, "out"), m.a = args.tensor(1, "a"), m.b = args.tensor(2, "b");
  m.hasBias = !args.isNullish(3);
  if (m.hasBias) m.bias = args.tensor(3, "bias");
  const TensorArg &out = m.out, &a = m.a, &b = m.b;
  if (a.shape.size() != 3 || b.shape.size() != 3 || out.shape.size() != 3)
    args.fail("a, b and out must be 3-d [batch, rows, cols], got a " + a.shapeString() + ", b " + b.shapeString() +
              ", out " + out.shapeString());
  m.B = out.shape[0], m.M = out.shape[1], m.N = out.shape[2], m.K = a.shape[2];
  if (a.shape[0] != m.B || b.shape[0] != m.B || a.shape[1] != m.M || b.shape[1] != m.K || b.shape[2] != m.N)
    args.fail("shapes do not chain: a " + a.shapeString() + " @ b " + b.shapeString() + " -> out " + out.shapeString());
  const bool dtypeOk = float32Only ? a.dtype == DType::float32 : isFloat(a.dtype) || a.dtype == DType::bfloat16;
  if (a.dtype != b.dtype || a.dtype != out.dtype || !dtypeOk)
    args.fail(std::string("a, b and out must share a ") + (float32Only ? "float32" : "float") + " dtype, got a " +
              dtypeName(a.dtype) + ", b " + dtypeName(b.dtype) + ", out " + dtypeName(out.dtype));
  if (out.strides[2] != 1 || out.strides[1] != m.N || (m.B > 1 && out.strides[0] != m.M * m.N))
    args.fail("out must be contiguous, shape " + out.shapeString());
  if (m.hasBias && (m.bias.shape.size() != 1 || m.bias.shape[0] != m.N || m.bias.dtype != out.dtype))
    args.fail("bias must be 1-d of length " + std::to_string(m.N) + " and dtype " + dtypeName(out.dtype) + ", got " +
              dtypeName(m.bias.dtype) + " " + m.bias.shapeString());
  return m;
}

GemmLayout gemmLayout(Args& args, const TensorArg& t, const char* name) {
  const int64_t rows = t.shape[1], cols = t.shape[2];
  const int64_t sr = t.strides[1], sc = t.strides[2];
  if (sc == 1 || cols == 1) return {false, rows == 1 ? std::max<int64_t>(cols, 1) : sr, t.strides[0]};
  if (sr == 1 || rows == 1) return {true, cols == 1 ? std::max<int64_t>(rows, 1) : sc, t.strides[0]};
  args.fail(std::string("argument '") + name +
            "' needs a unit stride in one of its last two dims (make it contiguous)");
}

}  // namespace iv
