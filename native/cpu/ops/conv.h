// Geometry and epilogue shared by the convolution kernels: conv.cc (im2col + GEMM, the
// native entry points) and conv_depthwise.cc (direct kernels for groups == input channels).
#pragma once
#include <cmath>
#include <cstdint>
#include "activation.h"

namespace iv {

// One 2-d convolution, NCHW. Input [N, C, H, W], weight [K, C / groups, kh, kw], output
// [N, K, Ho, Wo]. Padding is top/left only: the output size (checked by the caller) fixes how
// far the kernel reaches past the bottom/right edge, so asymmetric 'same' padding and
// transposed convolutions' outputPadding need no extra fields.
struct ConvGeom {
  int64_t N, C, H, W;
  int64_t K, Ho, Wo;
  int64_t kh, kw, sh, sw, pt, pl, dh, dw, groups;
};

// A 1x1 kernel at stride 1 without padding: output plane k is a weighted sum of the input
// planes, position by position.
inline bool isPointwise(const ConvGeom& g) {
  return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0 && g.Ho == g.H && g.Wo == g.W;
}

// Adds the bias to n outputs, stores the pre-activation (when pre is set: backward of gelu
// and silu needs it) and applies the activation in place, while the row is in cache.
template <class T>
inline void epilogue(T* y, T* pre, int64_t n, T bias, Act act) {
  if (bias != T(0))
    for (int64_t i = 0; i < n; i++) y[i] += bias;
  if (pre)
    for (int64_t i = 0; i < n; i++) pre[i] = y[i];
  if (act == Act::relu)
    for (int64_t i = 0; i < n; i++) y[i] = y[i] > T(0) ? y[i] : T(0);
  else if (act != Act::none)
    for (int64_t i = 0; i < n; i++) y[i] = activate(act, y[i]);
}

// Direct kernels for depthwise convolution (groups == C, K a multiple of C), all tensors
// contiguous. bias and pre may be null. The activations (In) are T, or bfloat16 with T float.
template <class In, class T>
void depthwiseForward(const ConvGeom& g, const In* x, const T* w, const T* bias, T* y, T* pre, Act act);
template <class In, class T>
void depthwiseBackwardInput(const ConvGeom& g, const In* gy, const T* w, T* gx);
template <class In, class T>
void depthwiseBackwardWeight(const ConvGeom& g, const In* gy, const In* x, T* gw, T* gb);

// The kernel of a forward convolution t that is the input gradient of a stride-1 one (conv.cc's
// backwardInputAsForward), from that convolution's kernel w ([t.C][t.K / groups][kh][kw], its
// own [K][Cg][kh][kw]): w'[k, c, i, j] = w[c, k, kh - 1 - i, kw - 1 - j] per group, in scratch
// of the calling thread that the next call overwrites.
const float* flipKernel(const ConvGeom& t, const float* w);

// col2im at a horizontal stride of 2 as sums per input row, the same for every channel:
// block k (16 columns of each phase) of input row hLo + k / blocks sums, into its even
// columns, the terms [start[2 k], start[2 k + 1]) and into its odd columns [start[2 k + 1],
// start[2 k + 2]). A term is the 16 column-matrix values from `offset` (counted from the
// channel's first row), in the lanes `valid` (bit l: lane l).
struct Stride2Term {
  int64_t offset;
  uint16_t valid;
};
struct Stride2Rows {
  const Stride2Term* terms;
  const int64_t* start;
  int64_t hLo, rows, blocks;  // input rows [hLo, hLo + rows), each in blocks of 32 columns
  int64_t W, plane, channel;  // input row and plane floats, column-matrix floats per channel
};

namespace avx512 {
// dst[q] = src[ix[q]] for q < n, and 0 where ix[q] < 0 (conv_gather_avx512.cc).
void gatherOrZero(const float* src, const int32_t* ix, int64_t n, float* dst);
// dst[ix[q]] += src[q] for q < n where ix[q] >= 0, the ix[q] distinct: one tap's row of the
// small-plane col2im (conv_gather_avx512.cc).
void scatterAdd(const float* src, const int32_t* ix, int64_t n, float* dst);
// conv.cc's col2im where sw == 2, input row by input row: the sums that r lists (one
// channel's column-matrix rows at col + ci * r.channel) added into the planes of channels
// [ci0, ci1) at x. Each block's two column phases are summed in registers, interleaved and
// added once (conv_gather_avx512.cc).
void col2imStride2(const Stride2Rows& r, const float* col, int64_t ci0, int64_t ci1, float* x);
// dst[k / 8 * stride + k % 8] = src[k] for k < n, then zeros to a multiple of 8: a row of a
// GEMM A micro-panel (gemm_kernels.h), stride = its rows x 8. The n floats at `next` are
// prefetched meanwhile (conv_gather_avx512.cc).
void packRuns8(const float* src, int64_t n, float* dst, int64_t stride, const float* next);
// dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols (conv_transpose_avx512.cc).
void transpose(const float* src, int64_t rows, int64_t cols, int64_t lds, float* dst, int64_t ldd);
// c[j * ldc + i] = (c[j * ldc + i] if accumulate) + sum over r < n of a[i * lda + r] * b[j * ldb + r],
// for i < rows <= kDotRows and j < cols <= kDotCols (conv_dot_avx512.cc).
constexpr int kDotRows = 7, kDotCols = 3;
void dotTile(int64_t n, const float* a, int64_t lda, int64_t rows, const float* b, int64_t ldb, int64_t cols,
             float* c, int64_t ldc, bool accumulate);
}  // namespace avx512

}  // namespace iv
