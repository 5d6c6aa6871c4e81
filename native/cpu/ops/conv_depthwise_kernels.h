// AVX-512 kernels for depthwise convolution (conv_depthwise_avx512.cc), called by
// conv_depthwise.cc only when activeIsa() == Isa::avx512. Plain functions, no inline code.
#pragma once
#include <cstdint>
#include "conv.h"

namespace iv {
namespace avx512 {

// y[r][c] (+)= sum_ij w[i][j] * xp[r sh + i][c sw + j] over an ho x wo output (dilation 1),
// float32, sw 1 or 2. xp is a padded plane with row pitch ld that must be readable for
// (ho - 1) sh + kh rows and, in every row, for roundUp(wo, 16) sw + kw - 1 columns (the
// caller zero-fills what lies outside the image; lanes past wo are read but never stored).
void dwCorrelateF32(const float* xp, int64_t ld, const float* w, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                    int64_t ho, int64_t wo, float* y, int accumulate);

// The same for 3x3, stride 1, read straight from the unpadded h x w plane x: output (r, c)
// reads x[r - top + i][c - left + j], zero outside the plane (top, left may be negative).
void dw3x3s1DirectF32(const float* x, int64_t h, int64_t w, int64_t top, int64_t left, const float* wt, int64_t ho,
                      int64_t wo, float* y, int accumulate);

// gw[i][j] += sum_rc gy[r][c] xp[r sh + i][c sw + j] (kh x kw, accumulated into gw) over an
// ho x wo gy (contiguous), same xp requirements as above; *gbSum (when not null) gets the
// sum of gy.
void dwWeightGradF32(const float* xp, int64_t ld, const float* gy, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                     int64_t ho, int64_t wo, float* gw, float* gbSum);

// Small planes channels-last: one output channel per input channel (K == C), channels
// [c0, c0 + cn), cn <= 16, with any stride, padding and dilation. An image's block of each
// operand is transposed into `scratch` ([pixel][16 channels], 64-byte aligned), so a tap's
// products run over 16 channels per vector, with no plane padded and no horizontal sum.
//
// The forward of image n: y's planes of the block (written, no bias), with the block's
// weights tap-major in wt ([tap][16], 64-byte aligned, 0 past cn). Scratch: 16 (H W + Ho Wo)
// floats.
void dwForwardChannelsLastF32(const ConvGeom& g, const float* x, const float* wt, int64_t n, int64_t c0, int64_t cn,
                              float* scratch, float* y);
// The input gradient of image n: gx's planes of the block (written). wt and scratch as the
// forward's.
void dwBackwardInputChannelsLastF32(const ConvGeom& g, const float* gy, const float* wt, int64_t n, int64_t c0,
                                    int64_t cn, float* scratch, float* gx);
// The weight gradient (and, with gb, the bias gradient) over the whole batch: gw[c taps + tap]
// = sum over images and outputs o of gy[n][c][o] x[n][c][in(o, tap)]. Scratch: 16 (H W + Ho Wo
// + taps) floats.
void dwWeightGradChannelsLastF32(const ConvGeom& g, const float* x, const float* gy, int64_t c0, int64_t cn,
                                 float* scratch, float* gw, float* gb);

// Stride-2 input gradient of one h x wd plane, dilation 1, kh and kw at most kS2MaxKernel:
// gx[r][c] (+)= sum over the taps (i, j) with r + pt - i and c + pl - j even of w[i][j]
// gy[(r + pt - i) / 2][(c + pl - j) / 2], gy (ho x wo) zero outside. Each row's even and odd
// columns are summed in registers and interleaved, so gx is written once and no plane is padded.
constexpr int64_t kS2MaxKernel = 7;
void dwBackwardInputS2F32(const float* gy, int64_t ho, int64_t wo, const float* w, int64_t kh, int64_t kw, int64_t pt,
                          int64_t pl, float* gx, int64_t h, int64_t wd, int accumulate);

}  // namespace avx512
}  // namespace iv
