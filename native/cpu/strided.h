// N-d iteration over up to four strided operands of one shape (the output first), after
// dropping size-1 dimensions and merging dimensions that are contiguous in every operand.
// Elementwise kernels call forEachRow and only write the inner loop.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>
#include "../binding/args.h"
#include "parallel.h"

namespace iv {

constexpr int kMaxDims = 16;
constexpr int kMaxOperands = 4;

struct StridedLayout {
  int ndim = 0;      // after coalescing; 0 means a single element
  int operands = 0;  // output first
  int64_t shape[kMaxDims];
  int64_t strides[kMaxOperands][kMaxDims];  // in elements
  int64_t inner() const { return ndim == 0 ? 1 : shape[ndim - 1]; }
  int64_t rows() const {
    int64_t r = 1;
    for (int d = 0; d + 1 < ndim; d++) r *= shape[d];
    return r;
  }
  int64_t innerStride(int op) const { return ndim == 0 ? 0 : strides[op][ndim - 1]; }
};

// All operands must have `shape` (broadcast inputs are expanded views with stride 0).
StridedLayout makeLayout(const Dims& shape, std::initializer_list<const Dims*> strides);

// Calls fn(offsets, n) for every row, or for chunks of a long row, where offsets[k] is operand
// k's element offset of the first element. Work is split among threads by rows or, when there
// are few long rows (a contiguous tensor coalesces to one), by chunks within them.
template <class F>
void forEachRow(const StridedLayout& L, F&& fn) {
  const int64_t rows = L.rows(), inner = L.inner();
  constexpr int64_t kChunk = 16384;
  if (inner > kChunk && rows < 64) {
    const int64_t chunks = (inner + kChunk - 1) / kChunk;
    parallelFor(rows * chunks, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; t++) {
        int64_t rem = t / chunks;
        const int64_t start = (t % chunks) * kChunk;
        int64_t off[kMaxOperands] = {0};
        for (int d = L.ndim - 2; d >= 0; d--) {
          const int64_t i = rem % L.shape[d];
          rem /= L.shape[d];
          for (int k = 0; k < L.operands; k++) off[k] += i * L.strides[k][d];
        }
        for (int k = 0; k < L.operands; k++) off[k] += start * L.innerStride(k);
        fn(off, std::min(kChunk, inner - start));
      }
    });
    return;
  }
  const int64_t grain = inner >= 32768 ? 1 : 32768 / inner;
  parallelFor(rows, grain, [&](int64_t r0, int64_t r1) {
    int64_t idx[kMaxDims] = {0};
    int64_t off[kMaxOperands] = {0};
    int64_t rem = r0;
    for (int d = L.ndim - 2; d >= 0; d--) {
      idx[d] = rem % L.shape[d];
      rem /= L.shape[d];
      for (int k = 0; k < L.operands; k++) off[k] += idx[d] * L.strides[k][d];
    }
    for (int64_t r = r0; r < r1; r++) {
      fn(off, inner);
      for (int d = L.ndim - 2; d >= 0; d--) {
        idx[d]++;
        for (int k = 0; k < L.operands; k++) off[k] += L.strides[k][d];
        if (idx[d] < L.shape[d]) break;
        for (int k = 0; k < L.operands; k++) off[k] -= L.shape[d] * L.strides[k][d];
        idx[d] = 0;
      }
    }
  });
}

}  // namespace iv
