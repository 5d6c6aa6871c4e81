#include "strided.h"
#include <stdexcept>

namespace iv {

StridedLayout makeLayout(const Dims& shape, std::initializer_list<const Dims*> strides) {
  StridedLayout L;
  L.operands = static_cast<int>(strides.size());
  if (L.operands > kMaxOperands) throw std::invalid_argument("too many operands");
  // Keep non-trivial dims, outermost first.
  for (size_t d = 0; d < shape.size(); d++) {
    if (shape[d] == 1) continue;
    if (L.ndim == kMaxDims) throw std::invalid_argument("tensors of more than 16 dimensions are not supported");
    L.shape[L.ndim] = shape[d];
    for (int k = 0; k < L.operands; k++) L.strides[k][L.ndim] = (*strides.begin()[k])[d];
    L.ndim++;
  }
  // Merge dim d into d+1 where every operand is contiguous across the pair.
  int out = 0;
  for (int d = 0; d < L.ndim; d++) {
    if (out > 0) {
      bool merge = true;
      for (int k = 0; k < L.operands; k++)
        if (L.strides[k][out - 1] != L.strides[k][d] * L.shape[d]) merge = false;
      if (merge) {
        L.shape[out - 1] *= L.shape[d];
        for (int k = 0; k < L.operands; k++) L.strides[k][out - 1] = L.strides[k][d];
        continue;
      }
    }
    L.shape[out] = L.shape[d];
    for (int k = 0; k < L.operands; k++) L.strides[k][out] = L.strides[k][d];
    out++;
  }
  L.ndim = out;
  return L;
}

}  // namespace iv
