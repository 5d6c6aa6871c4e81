// Implicit-GEMM convolution (conv_implicit.cc): each image zero-padded and split into its
// stride phases, so that every row of the column matrix is a run of consecutive floats.
#pragma once
#include <cstdint>
#include <vector>
#include "conv.h"

namespace iv {

// An image's padded, phase-split copy: channel c, phase (a, b) holds padded x[c][u * sh +
// a][v * sw + b] at c * plane + (a * sw + b) * Hq * Wq + u * Wq + v. Output positions run over
// a grid Wq wide (the columns past Wo are junk): row r = (c, i, j) of a group's column matrix
// at grid position p is the copy's element rowOffsets[r] + p (from the group's first plane).
struct PaddedLayout {
  int64_t Hq, Wq;  // a phase plane
  int64_t plane;   // one channel: sh * sw phase planes
  int64_t image;   // floats per image: C planes, then zeros that the last panels read past
  int64_t Po;      // output positions on the grid: Ho * Wq
};

PaddedLayout paddedLayout(const ConvGeom& g);
// Non-negative padding, and offsets that fit int32.
bool paddedLayoutFits(const ConvGeom& g);
// Offset of column-matrix row r = (c, i, j) from a group's first padded plane.
std::vector<int32_t> rowOffsets(const ConvGeom& g, const PaddedLayout& l);
// Channels [c0, c1) of one image x into dst (one image's layout; the trailing zeros with
// the last channel).
void padImage(const ConvGeom& g, const PaddedLayout& l, const float* x, int64_t c0, int64_t c1, float* dst);
// Images [n0, n0 + nb) of x into consecutive layouts from padded, channels over threads.
void padImages(const ConvGeom& g, const PaddedLayout& l, const float* x, int64_t n0, int64_t nb, float* padded);
// Columns [j0, j0 + nr) of rows [k0, k0 + kc) of the column matrix of a block of padded
// images (column j: image j / (Ho Wo), position j % (Ho Wo); group gi), written into a GEMM
// micro-panel: dst[k * NR + j], zeros past nr.
void fillColumnPanel(const ConvGeom& g, const PaddedLayout& l, const float* padded, const int32_t* off, int64_t gi,
                     int64_t k0, int64_t kc, int64_t j0, int64_t nr, int64_t NR, float* dst);


// Whether implicitConvForward takes a pointwise convolution (1x1, stride 1, no padding): on
// AVX-512, a row tile of output channels per group or more, planes of 16, 32 or 64
// positions, read in place.
bool pointwiseInPlace(const ConvGeom& g);
// Forward on AVX-512 machines (float32): the micro-kernel reads the column matrix in place,
// or at small planes (Ho Wo <= 64) from panels gathered over several images, or there, with
// many output channels, from channels-last copies without the taps that read only padding.
// With `flipped`, w is to be flipped first (conv.h's flipKernel); the channels-last route
// reorders it with the flip applied instead of copying it. Returns false, having done
// nothing, where it does not apply (depthwise, 1x1 but pointwiseInPlace's, fewer than a row
// tile of output channels per group or 64 column-matrix rows, negative padding); conv.cc
// then lowers via im2col.
bool implicitConvForward(const ConvGeom& g, const float* x, const float* w, bool flipped, const float* bias, float* y,
                         float* pre, Act act);
// Weight gradient on AVX-512 machines (float32; gw overwritten): the images copied
// channels-last, so the micro-kernel reads a tap's channels in place. Returns false, having
// done nothing, where it does not apply (depthwise, 1x1, fewer than 8 output or 32 input
// channels per group, negative padding).
bool implicitConvBackwardWeight(const ConvGeom& g, const float* gy, const float* x, float* gw);

}  // namespace iv
