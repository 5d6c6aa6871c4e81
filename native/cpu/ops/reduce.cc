// Reductions over the trailing `reduced` dimensions of a view: the TypeScript side permutes
// the dimensions to reduce to the end, so one kernel serves every combination of dims.
// Float sums accumulate in double, which keeps float32 sums of millions of terms accurate;
// contiguous float32 runs do so in vectors on AVX2 and AVX-512 (reduce_sum.inc).
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>
#include "../../binding/reduce_args.h"
#include "../../binding/registry.h"
#include "../cpu_features.h"
#include "../strided.h"
#include "row_sums.h"

namespace iv {
namespace {

// Calls f(offset) for every element of a strided block, in order.
template <class F>
inline void forEachOffset(const StridedLayout& L, int64_t count, F&& f) {
  if (L.ndim <= 1) {
    const int64_t s = L.ndim == 0 ? 0 : L.strides[0][0];
    for (int64_t i = 0; i < count; i++) f(i * s);
    return;
  }
  int64_t idx[kMaxDims] = {0};
  int64_t off = 0;
  const int last = L.ndim - 1;
  const int64_t inner = L.shape[last], sIn = L.strides[0][last];
  for (int64_t i = 0; i < count; i += inner) {
    for (int64_t j = 0; j < inner; j++) f(off + j * sIn);
    for (int d = last - 1; d >= 0; d--) {
      idx[d]++;
      off += L.strides[0][d];
      if (idx[d] < L.shape[d]) break;
      off -= L.shape[d] * L.strides[0][d];
      idx[d] = 0;
    }
  }
}

// Walks the reduced block of one output element, calling f(value, flatIndex).
template <class T, class F>
inline void walk(const T* base, const StridedLayout& L, int64_t count, F&& f) {
  int64_t i = 0;
  forEachOffset(L, count, [&](int64_t off) { f(base[off], i++); });
}

// The sum of a strided block: whole inner rows at a time.
template <class T>
inline double sumBlock(const T* base, const StridedLayout& L, int64_t count) {
  if (L.ndim <= 1) return sumRow(base, count, L.ndim == 0 ? 0 : L.strides[0][0]);
  const int last = L.ndim - 1;
  const int64_t inner = L.shape[last], sIn = L.strides[0][last];
  double acc = 0;
  int64_t idx[kMaxDims] = {0};
  int64_t off = 0;
  for (int64_t i = 0; i < count; i += inner) {
    acc += sumRow(base + off, inner, sIn);
    for (int d = last - 1; d >= 0; d--) {
      idx[d]++;
      off += L.strides[0][d];
      if (idx[d] < L.shape[d]) break;
      off -= L.shape[d] * L.strides[0][d];
      idx[d] = 0;
    }
  }
  return acc;
}

// sum, mean and var when the innermost kept dim is contiguous in x (a reduction over leading
// or middle dims, as a broadcast gradient's): walking each output's block would stride
// through memory, so whole contiguous runs of outputs accumulate together instead, row by
// row of the reduced dims. Tasks split over the kept rows and over blocks of columns.
template <class T, class O>
void reduceColumns(R op, O* o, const T* p, const StridedLayout& outer, const StridedLayout& red, int64_t count,
                   double correction) {
  constexpr int64_t kCols = 512;
  const int last = outer.ndim - 1;
  const int64_t K = outer.shape[last], rows = outer.rows(), blocks = (K + kCols - 1) / kCols;
  parallelFor(rows * blocks, 1, [&](int64_t t0, int64_t t1) {
    double acc[kCols], mean[kCols];
    for (int64_t t = t0; t < t1; t++) {
      const int64_t row = t / blocks, c0 = (t % blocks) * kCols, n = std::min(kCols, K - c0);
      int64_t rem = row, xo = 0;
      for (int d = last - 1; d >= 0; d--) {
        xo += (rem % outer.shape[d]) * outer.strides[1][d];
        rem /= outer.shape[d];
      }
      const T* base = p + xo + c0;
      std::fill(acc, acc + n, 0.0);
      forEachOffset(red, count, [&](int64_t off) {
        const T* r = base + off;
        for (int64_t j = 0; j < n; j++) acc[j] += static_cast<double>(r[j]);
      });
      O* dst = o + row * K + c0;
      if (op == R::sum) {
        for (int64_t j = 0; j < n; j++) dst[j] = static_cast<O>(acc[j]);
        continue;
      }
      for (int64_t j = 0; j < n; j++) mean[j] = acc[j] / static_cast<double>(count);
      if (op == R::mean) {
        for (int64_t j = 0; j < n; j++) dst[j] = static_cast<O>(mean[j]);
        continue;
      }
      std::fill(acc, acc + n, 0.0);
      forEachOffset(red, count, [&](int64_t off) {
        const T* r = base + off;
        for (int64_t j = 0; j < n; j++) {
          const double d = static_cast<double>(r[j]) - mean[j];
          acc[j] += d * d;
        }
      });
      const double denom = static_cast<double>(count) - correction;
      for (int64_t j = 0; j < n; j++)
        dst[j] = static_cast<O>(denom > 0 ? acc[j] / denom : std::numeric_limits<double>::quiet_NaN());
    }
  });
}

template <class T, class O>
void runReduce(R op, const TensorArg& out, const TensorArg& x, size_t reduced, double correction) {
  const size_t keep = x.shape.size() - reduced;
  const Dims redShape(x.shape.begin() + keep, x.shape.end());
  const Dims redStrides(x.strides.begin() + keep, x.strides.end());
  const Dims keepShape(x.shape.begin(), x.shape.begin() + keep);
  const Dims keepStrides(x.strides.begin(), x.strides.begin() + keep);
  Dims outStrides;
  outStrides.resize(keep);
  {
    int64_t s = 1;
    for (size_t d = keep; d-- > 0;) {
      outStrides[d] = s;
      s *= keepShape[d];
    }
  }
  const StridedLayout red = makeLayout(redShape, {&redStrides});
  int64_t count = 1;
  for (int64_t s : redShape) count *= s;
  const StridedLayout outer = makeLayout(keepShape, {&outStrides, &keepStrides});
  O* o = out.ptr<O>();
  const T* p = x.ptr<T>();
  const int64_t outerCount = out.numel();
  if constexpr (std::is_floating_point_v<T>) {
    // Few outputs over long contiguous-or-evenly-strided blocks (a whole-tensor sum): split
    // each block into fixed chunks across threads, partial sums added in order.
    constexpr int64_t kChunk = 32768;
    if ((op == R::sum || op == R::mean) && red.ndim <= 1 && outerCount < numThreads() && count >= 2 * kChunk) {
      const int64_t s = red.ndim == 0 ? 0 : red.strides[0][0], chunks = (count + kChunk - 1) / kChunk;
      std::vector<double> partial(chunks);
      for (int64_t ob = 0; ob < outerCount; ob++) {
        int64_t rem = ob, xo = 0;
        for (int d = outer.ndim - 1; d >= 0; d--) {
          xo += (rem % outer.shape[d]) * outer.strides[1][d];
          rem /= outer.shape[d];
        }
        parallelFor(chunks, 1, [&](int64_t c0, int64_t c1) {
          for (int64_t c = c0; c < c1; c++)
            partial[c] = sumRow(p + xo + c * kChunk * s, std::min(kChunk, count - c * kChunk), s);
        });
        double acc = 0;
        for (double v : partial) acc += v;
        o[ob] = static_cast<O>(op == R::mean ? acc / static_cast<double>(count) : acc);
      }
      return;
    }
    const bool columns = (op == R::sum || op == R::mean || op == R::var) && outer.ndim > 0 && count > 1 &&
                         outer.strides[1][outer.ndim - 1] == 1;
    if (columns) return reduceColumns<T, O>(op, o, p, outer, red, count, correction);
  }
  parallelFor(outerCount, count >= 4096 ? 1 : 4096 / std::max<int64_t>(count, 1), [&](int64_t b0, int64_t b1) {
    for (int64_t ob = b0; ob < b1; ob++) {
      // Offset of output element ob in x, from its multi-index over the kept dims.
      int64_t rem = ob, xo = 0;
      for (int d = outer.ndim - 1; d >= 0; d--) {
        const int64_t i = rem % outer.shape[d];
        rem /= outer.shape[d];
        xo += i * outer.strides[1][d];
      }
      const T* base = p + xo;
      switch (op) {
        case R::sum:
        case R::mean: {
          const double acc = sumBlock(base, red, count);
          o[ob] = static_cast<O>(op == R::mean ? acc / static_cast<double>(count) : acc);
          break;
        }
        case R::prod: {
          double acc = 1;
          walk(base, red, count, [&](T v, int64_t) { acc *= static_cast<double>(v); });
          o[ob] = static_cast<O>(acc);
          break;
        }
        case R::max:
        case R::min:
        case R::argmax:
        case R::argmin: {
          const bool isMax = op == R::max || op == R::argmax;
          T best = base[0];
          int64_t at = 0;
          bool nan = false;
          walk(base, red, count, [&](T v, int64_t i) {
            if (nan) return;
            if (v != v) {  // NaN wins, as in PyTorch
              best = v;
              at = i;
              nan = true;
            } else if (isMax ? v > best : v < best) {
              best = v;
              at = i;
            }
          });
          o[ob] = (op == R::max || op == R::min) ? static_cast<O>(best) : static_cast<O>(at);
          break;
        }
        case R::logsumexp: {
          double m = -std::numeric_limits<double>::infinity();
          walk(base, red, count, [&](T v, int64_t) { m = std::max(m, static_cast<double>(v)); });
          double s = 0;
          if (std::isinf(m)) {
            o[ob] = static_cast<O>(m);
            break;
          }
          walk(base, red, count, [&](T v, int64_t) { s += std::exp(static_cast<double>(v) - m); });
          o[ob] = static_cast<O>(m + std::log(s));
          break;
        }
        case R::var: {
          const double mean = sumBlock(base, red, count) / static_cast<double>(count);
          double ss = 0;
          walk(base, red, count, [&](T v, int64_t) {
            const double d = static_cast<double>(v) - mean;
            ss += d * d;
          });
          const double denom = static_cast<double>(count) - correction;
          o[ob] = static_cast<O>(denom > 0 ? ss / denom : std::numeric_limits<double>::quiet_NaN());
          break;
        }
      }
    }
  });
}

Napi::Value reduce(const Napi::CallbackInfo& info) {
  Args args(info, "reduce", 5);
  const ReduceArgs r = parseReduceArgs(args);
  if (r.outN == 0) return info.Env().Undefined();
  const R op = r.op;
  const TensorArg &out = r.out, &x = r.x;
  const int64_t reduced = r.reduced;
  const double correction = r.correction;
  const bool index = isIndexReduction(op);
  switch (x.dtype) {
    case DType::float32:
      if (index) runReduce<float, int32_t>(op, out, x, reduced, correction);
      else runReduce<float, float>(op, out, x, reduced, correction);
      break;
    case DType::float64:
      if (index) runReduce<double, int32_t>(op, out, x, reduced, correction);
      else runReduce<double, double>(op, out, x, reduced, correction);
      break;
    case DType::int32: runReduce<int32_t, int32_t>(op, out, x, reduced, correction); break;
    default:
      if (index) runReduce<uint8_t, int32_t>(op, out, x, reduced, correction);
      else runReduce<uint8_t, uint8_t>(op, out, x, reduced, correction);
  }
  return info.Env().Undefined();
}

}  // namespace

IV_EXPORT("reduce", reduce);

}  // namespace iv
