// Convolution forward as dot products, for few output positions: a batch-1 inference through
// a network's deep layers (ResNet-18's 512 -> 512 3x3 at 7x7: 49 positions, 9.4 MB of
// weights). Every output y[n, k, p] is the dot product of weight row k, read in place in w's
// own layout [K][Cg kh kw], and position p's column of inputs in the same (c, i, j) order,
// gathered once per call into cols[position][r] (the im2col matrix transposed). The GEMM
// lowerings pack or transpose all the weights on every call, which at a few dozen positions
// costs about as much as the multiply-adds; here the weights are read once, from memory, and
// then from L2 for each further tile of positions.
#include "conv_dot.h"
#include <algorithm>
#include <cstring>
#include <vector>
#include "../cpu_features.h"
#include "../parallel.h"
#include "../scratch.h"

namespace iv {
namespace {

thread_local Scratch tlsColumns, tlsOutputs;

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Weight bytes per reduction block: a thread's rows of one block stay in L2 while every tile
// of positions passes over them.
constexpr int64_t kWeightBlockBytes = int64_t(512) << 10;

// cols[(gi * N + n) * P + p][(c * kh + i) * kw + j] = x[n, gi * Cg + c, h, w] at the tap's input
// pixel (h, w) of output position p, or 0 where that lies in the padding.
void gatherColumns(const ConvGeom& g, const float* x, float* cols) {
  const int64_t G = g.groups, Cg = g.C / G, taps = g.kh * g.kw, R = Cg * taps, P = g.Ho * g.Wo, HW = g.H * g.W;
  parallelFor(G * g.N * P, 4, [&](int64_t a, int64_t b) {
    std::vector<int64_t> offset(taps);  // the tap's pixel in the plane, or -1
    for (int64_t row = a; row < b; row++) {
      const int64_t p = row % P, n = row / P % g.N, gi = row / (P * g.N), ho = p / g.Wo, wo = p % g.Wo;
      for (int64_t t = 0; t < taps; t++) {
        const int64_t h = ho * g.sh - g.pt + t / g.kw * g.dh, w = wo * g.sw - g.pl + t % g.kw * g.dw;
        offset[t] = h >= 0 && h < g.H && w >= 0 && w < g.W ? h * g.W + w : -1;
      }
      // Tap by tap, so that the test for padding is made once per tap, not per value.
      const float* xs = x + (n * g.C + gi * Cg) * HW;
      float* dst = cols + row * R;
      for (int64_t t = 0; t < taps; t++)
        if (offset[t] < 0)
          for (int64_t c = 0; c < Cg; c++) dst[c * taps + t] = 0.0f;
        else
          for (int64_t c = 0; c < Cg; c++) dst[c * taps + t] = xs[c * HW + offset[t]];
    }
  });
}

}  // namespace

bool dotConvApplies(const ConvGeom& g) {
  if (activeIsa() != Isa::avx512 || g.C == g.groups) return false;
  const int64_t Kg = g.K / g.groups, R = g.C / g.groups * g.kh * g.kw, M = g.N * g.Ho * g.Wo;
  // Measured against the GEMM lowerings on ResNet's batch-1 to batch-8 layers: short
  // reductions sum their lanes too often for their few multiply-adds, and at many positions
  // the packed weights are reused enough to pay for their packing.
  return Kg >= 256 && ((M <= 64 && R >= 512) || (M <= 256 && R >= 2048));
}

void dotConvForward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, float* pre,
                    Act act) {
  using avx512::kDotCols;
  using avx512::kDotRows;
  const int64_t G = g.groups, Cg = g.C / G, Kg = g.K / G, R = Cg * g.kh * g.kw, P = g.Ho * g.Wo, M = g.N * P;
  float* cols = tlsColumns.get<float>(G * M * R);
  gatherColumns(g, x, cols);
  // Each thread takes a run of output channels (whole column blocks of the kernel).
  const int64_t blocks = ceilDiv(Kg, kDotCols);
  parallelFor(G * blocks, 1, [&](int64_t a, int64_t b) {
    for (int64_t s = a; s < b;) {
      const int64_t gi = s / blocks, e = std::min(b, (gi + 1) * blocks);
      const int64_t k0 = s % blocks * kDotCols, k1 = std::min(Kg, ((e - 1) % blocks + 1) * kDotCols), rows = k1 - k0;
      s = e;
      const float* cg = cols + gi * M * R;
      const float* wg = w + (gi * Kg + k0) * R;
      float* out = tlsOutputs.get<float>(rows * M);  // [k - k0][n * P + p]
      // Reduction blocks of at least 1024 (each block ends in a sum across lanes per output).
      const int64_t rb = std::clamp<int64_t>(kWeightBlockBytes / (rows * 4) / 16 * 16, std::min<int64_t>(1024, R), R);
      for (int64_t r0 = 0; r0 < R; r0 += rb) {
        const int64_t rn = std::min(rb, R - r0);
        for (int64_t m0 = 0; m0 < M; m0 += kDotRows)
          for (int64_t k = 0; k < rows; k += kDotCols)
            avx512::dotTile(rn, cg + m0 * R + r0, R, std::min<int64_t>(kDotRows, M - m0), wg + k * R + r0, R,
                            std::min<int64_t>(kDotCols, rows - k), out + k * M + m0, M, r0 > 0);
      }
      for (int64_t k = 0; k < rows; k++)
        for (int64_t n = 0; n < g.N; n++) {
          const int64_t o = (n * g.K + gi * Kg + k0 + k) * P;
          std::memcpy(y + o, out + k * M + n * P, P * sizeof(float));
          if (bias || pre || act != Act::none)
            epilogue(y + o, pre ? pre + o : nullptr, P, bias ? bias[gi * Kg + k0 + k] : 0.0f, act);
        }
    }
  });
}

}  // namespace iv
