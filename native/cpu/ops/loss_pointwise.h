// The fused elementwise losses (loss_pointwise.cc): their shared types, and the float32 sweeps
// compiled once per instruction set from loss_pointwise.inc (loss_pointwise_avx512.cc,
// loss_pointwise_avx2.cc and a baseline copy in loss_pointwise.cc). Plain function pointers,
// so no inline code crosses between the instruction-set libraries.
#pragma once
#include <cstdint>

namespace iv {

enum class PointwiseKind { mse, l1, smoothL1, bceWithLogits };

struct PointwiseParams {
  PointwiseKind kind;
  double beta;  // smoothL1's threshold
  bool weighted, posWeighted;
};

// Contiguous operands of one shape; w and pw (bceWithLogits' weight and posWeight) null when absent.
template <class T>
struct PointwiseOperands {
  const T *x, *y, *w, *pw;
};

struct PointwiseLossF {
  // The loss over elements [i0, i1), written to out unless null; returns its sum.
  double (*lossRange)(const PointwiseParams& P, const PointwiseOperands<float>& o, int64_t i0, int64_t i1, float* out);
  // The gradients over [i0, i1) (gx, gy null when not wanted); the upstream gradient is g[i * gs]
  // (gs = 1 per element, 0 for one value) times scale.
  void (*gradRange)(const PointwiseParams& P, const PointwiseOperands<float>& o, int64_t i0, int64_t i1, const float* g,
                    int64_t gs, double scale, float* gx, float* gy);
};

const PointwiseLossF* pointwiseLossAvx512();
const PointwiseLossF* pointwiseLossAvx2();

}  // namespace iv
