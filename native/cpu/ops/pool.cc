// 2-d pooling, NCHW with the batch and channel dims merged into planes: max (saving the
// flat H*W index of each maximum for the backward), average (PyTorch's padding and
// ceil-mode divisor rules) and adaptive average, with their backward passes. Planes are
// independent, so every kernel parallelises over them.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>
#include "../../binding/pool_args.h"
#include "../../binding/registry.h"
#include "../parallel.h"
#include "row_sums.h"
#include "rows_simd.h"

namespace iv {
namespace {

using Pool = PoolGeometry;

std::string str(int64_t v) { return std::to_string(v); }

// The input columns [w0, w1) (every dw-th) of output column c's window, inside the plane.
inline void columnWindow(const Pool& g, int64_t c, int64_t& w0, int64_t& w1) {
  w0 = c * g.sw - g.pw;
  w1 = std::min<int64_t>(w0 + (g.kw - 1) * g.dw + 1, g.W);
  while (w0 < 0) w0 += g.dw;
}

// One output row from the column maxima of its window's input rows (cm, with their rows in
// ch): across the window's columns the largest value wins, ties going to the earlier row,
// then the earlier column, which is the first maximum in the window's row-major order.
template <class T>
void maxRowFromColumns(const Pool& g, const T* cm, const int32_t* ch, int64_t h0, T* yr, int32_t* ir) {
  for (int64_t c = 0; c < g.Wo; c++) {
    int64_t w0, w1;
    columnWindow(g, c, w0, w1);
    T m = -std::numeric_limits<T>::infinity();
    int64_t best = -1, bestRow = 0;
    for (int64_t w = w0; w < w1; w += g.dw)
      if (best < 0 || cm[w] > m || (cm[w] == m && ch[w] < bestRow)) m = cm[w], bestRow = ch[w], best = w;
    yr[c] = m;
    ir[c] = best < 0 ? -1 : static_cast<int32_t>((h0 + bestRow * g.dh) * g.W + best);
  }
}

template <class T>
void maxForward(const Pool& g, const T* x, T* y, int32_t* idx) {
  const RowsSimd* rows = std::is_same_v<T, float> ? simdRows() : nullptr;
  parallelFor(g.planes, 1, [&](int64_t a, int64_t b) {
    thread_local std::vector<float> cm;
    thread_local std::vector<int32_t> ch;
    if (rows) cm.resize(g.W), ch.resize(g.W);
    for (int64_t pl = a; pl < b; pl++) {
      const T* xp = x + pl * g.H * g.W;
      T* yp = y + pl * g.Ho * g.Wo;
      int32_t* ip = idx + pl * g.Ho * g.Wo;
      for (int64_t r = 0; r < g.Ho; r++) {
        int64_t h0 = r * g.sh - g.ph;
        const int64_t h1 = std::min<int64_t>(h0 + (g.kh - 1) * g.dh + 1, g.H);
        while (h0 < 0) h0 += g.dh;
        // float32 on vectors: the column maxima of the window's rows, then each output's
        // window across them; a row with a NaN keeps the scalar loop (NaN's own rule).
        if constexpr (std::is_same_v<T, float>) {
          if (rows && h0 < h1 &&
              rows->columnMax(xp + h0 * g.W, g.dh * g.W, (h1 - h0 + g.dh - 1) / g.dh, g.W, cm.data(), ch.data())) {
            maxRowFromColumns(g, cm.data(), ch.data(), h0, yp + r * g.Wo, ip + r * g.Wo);
            continue;
          }
        }
        for (int64_t c = 0; c < g.Wo; c++) {
          int64_t w0, w1;
          columnWindow(g, c, w0, w1);
          // NaN wins, as in PyTorch; ties keep the first maximum. A window that dilation
          // makes miss the input entirely yields -inf and index -1 (no gradient).
          int64_t best = h0 < h1 && w0 < w1 ? h0 * g.W + w0 : -1;
          T m = -std::numeric_limits<T>::infinity();
          for (int64_t h = h0; h < h1; h += g.dh)
            for (int64_t w = w0; w < w1; w += g.dw) {
              const T v = xp[h * g.W + w];
              if (v > m || std::isnan(v)) m = v, best = h * g.W + w;
            }
          yp[r * g.Wo + c] = m;
          ip[r * g.Wo + c] = static_cast<int32_t>(best);
        }
      }
    }
  });
}

template <class T>
void maxBackward(const Pool& g, const T* gy, const int32_t* idx, T* gx) {
  parallelFor(g.planes, 1, [&](int64_t a, int64_t b) {
    for (int64_t pl = a; pl < b; pl++) {
      T* gp = gx + pl * g.H * g.W;
      std::memset(gp, 0, g.H * g.W * sizeof(T));
      const T* yp = gy + pl * g.Ho * g.Wo;
      const int32_t* ip = idx + pl * g.Ho * g.Wo;
      for (int64_t o = 0; o < g.Ho * g.Wo; o++)
        if (ip[o] >= 0) gp[ip[o]] += yp[o];
    }
  });
}

// maxPool2d(out, indices, x, params, ceilMode)
Napi::Value maxPool2d(const Napi::CallbackInfo& info) {
  Args args(info, "maxPool2d", 5);
  const MaxPool2dArgs a = parseMaxPool2dArgs(args);
  if (a.x.dtype == DType::float32)
    maxForward<float>(a.geom, a.x.ptr<float>(), a.out.ptr<float>(), a.indices.ptr<int32_t>());
  else
    maxForward<double>(a.geom, a.x.ptr<double>(), a.out.ptr<double>(), a.indices.ptr<int32_t>());
  return info.Env().Undefined();
}

// maxPool2dBackward(gx, gy, indices): indices come from maxPool2d and are checked anyway,
// since a bad one would write outside the plane.
Napi::Value maxPool2dBackward(const Napi::CallbackInfo& info) {
  Args args(info, "maxPool2dBackward", 3);
  const MaxPool2dBackwardArgs a = parseMaxPool2dBackwardArgs(args);
  const Pool& g = a.geom;
  const int32_t* ip = a.indices.ptr<int32_t>();
  for (int64_t i = 0, n = a.indices.numel(); i < n; i++)
    if (ip[i] < -1 || ip[i] >= g.H * g.W)
      args.fail("index " + str(ip[i]) + " at " + str(i) + " is outside the " + str(g.H) + "x" + str(g.W) + " plane");
  if (a.gradInput.dtype == DType::float32)
    maxBackward<float>(g, a.gradOutput.ptr<float>(), ip, a.gradInput.ptr<float>());
  else
    maxBackward<double>(g, a.gradOutput.ptr<double>(), ip, a.gradInput.ptr<double>());
  return info.Env().Undefined();
}

// Average pooling, plain and adaptive: every output averages a box of the plane whose rows
// depend on the output row only and whose columns on the output column only, so the extents
// are tabulated once per call. A forward output row first sums its window rows column by
// column (contiguous, vectorised), then each output adds its columns of those sums; a
// backward row spreads each output's share over the columns first, then adds that row of
// shares into each window row. The divisor is PyTorch's: divisorOverride, or the window's
// size counted with padding (countIncludePad) or without.
struct Extent {
  int64_t begin, end, padded;  // clipped to the plane, and unclipped but for the padding's far edge
};

struct Boxes {
  std::vector<Extent> rows, cols;
  bool includePad = false;
  int64_t divisorOverride = 0;
  int64_t divisor(const Extent& r, const Extent& c) const {
    return divisorOverride ? divisorOverride
           : includePad    ? r.padded * c.padded
                           : (r.end - r.begin) * (c.end - c.begin);
  }
};

// avg_pool2d's window along one dim: output o starts at o s - p and stops at most k later, or
// at the far edge of the padding, then clips to [0, n).
std::vector<Extent> avgExtents(int64_t out, int64_t n, int64_t k, int64_t s, int64_t p) {
  std::vector<Extent> e(out);
  for (int64_t o = 0; o < out; o++) {
    const int64_t b = o * s - p, end = std::min(b + k, n + p);
    e[o] = {std::max<int64_t>(b, 0), std::min(end, n), end - b};
  }
  return e;
}

// Adaptive windows: output o covers [floor(o I / O), ceil((o + 1) I / O)).
std::vector<Extent> adaptiveExtents(int64_t out, int64_t n) {
  std::vector<Extent> e(out);
  for (int64_t o = 0; o < out; o++) {
    const int64_t b = o * n / out, end = ((o + 1) * n + out - 1) / out;
    e[o] = {b, end, end - b};
  }
  return e;
}

// Whether the one output averages its whole plane (a global pool, such as adaptiveAvgPool2d
// to 1 x 1): then each plane is one contiguous sum, or, backwards, one fill.
bool wholePlane(const Pool& g, const Boxes& box) {
  return g.Ho == 1 && g.Wo == 1 && box.rows[0].begin == 0 && box.rows[0].end == g.H && box.cols[0].begin == 0 &&
         box.cols[0].end == g.W;
}

template <class T>
void boxForward(const Pool& g, const Boxes& box, const T* x, T* y) {
  if (wholePlane(g, box)) {
    const double d = double(box.divisor(box.rows[0], box.cols[0]));
    parallelFor(g.planes, 16, [&](int64_t a, int64_t b) {
      for (int64_t pl = a; pl < b; pl++) y[pl] = T(sumRow(x + pl * g.H * g.W, g.H * g.W) / d);
    });
    return;
  }
  parallelFor(g.planes, 1, [&](int64_t a, int64_t b) {
    std::vector<T> colSums(g.W);
    for (int64_t pl = a; pl < b; pl++) {
      const T* xp = x + pl * g.H * g.W;
      T* yp = y + pl * g.Ho * g.Wo;
      for (int64_t r = 0; r < g.Ho; r++) {
        const Extent& er = box.rows[r];
        T* cs = colSums.data();
        for (int64_t w = 0; w < g.W; w++) cs[w] = T(0);
        for (int64_t h = er.begin; h < er.end; h++)
          for (int64_t w = 0; w < g.W; w++) cs[w] += xp[h * g.W + w];
        for (int64_t c = 0; c < g.Wo; c++) {
          const Extent& ec = box.cols[c];
          T s = 0;
          for (int64_t w = ec.begin; w < ec.end; w++) s += cs[w];
          const bool empty = er.end <= er.begin || ec.end <= ec.begin;
          yp[r * g.Wo + c] = empty ? T(0) : s / T(box.divisor(er, ec));
        }
      }
    }
  });
}

template <class T>
void boxBackward(const Pool& g, const Boxes& box, const T* gy, T* gx) {
  if (wholePlane(g, box)) {
    const T d = T(box.divisor(box.rows[0], box.cols[0]));
    parallelFor(g.planes, 16, [&](int64_t a, int64_t b) {
      for (int64_t pl = a; pl < b; pl++) std::fill(gx + pl * g.H * g.W, gx + (pl + 1) * g.H * g.W, gy[pl] / d);
    });
    return;
  }
  parallelFor(g.planes, 1, [&](int64_t a, int64_t b) {
    std::vector<T> shares(g.W);
    for (int64_t pl = a; pl < b; pl++) {
      T* gp = gx + pl * g.H * g.W;
      std::memset(gp, 0, g.H * g.W * sizeof(T));
      const T* yp = gy + pl * g.Ho * g.Wo;
      for (int64_t r = 0; r < g.Ho; r++) {
        const Extent& er = box.rows[r];
        T* sh = shares.data();
        for (int64_t w = 0; w < g.W; w++) sh[w] = T(0);
        for (int64_t c = 0; c < g.Wo; c++) {
          const Extent& ec = box.cols[c];
          if (er.end <= er.begin || ec.end <= ec.begin) continue;
          const T v = yp[r * g.Wo + c] / T(box.divisor(er, ec));
          for (int64_t w = ec.begin; w < ec.end; w++) sh[w] += v;
        }
        for (int64_t h = er.begin; h < er.end; h++)
          for (int64_t w = 0; w < g.W; w++) gp[h * g.W + w] += sh[w];
      }
    }
  });
}

Boxes avgBoxes(const Pool& g, bool includePad, int64_t divisorOverride) {
  return {avgExtents(g.Ho, g.H, g.kh, g.sh, g.ph), avgExtents(g.Wo, g.W, g.kw, g.sw, g.pw), includePad,
          divisorOverride};
}

Boxes adaptiveBoxes(const Pool& g) { return {adaptiveExtents(g.Ho, g.H), adaptiveExtents(g.Wo, g.W)}; }

// avgPool2d(out, x, params, ceilMode, countIncludePad, divisorOverride)
Napi::Value avgPool2d(const Napi::CallbackInfo& info) {
  Args args(info, "avgPool2d", 6);
  const AvgPool2dArgs a = parseAvgPool2dArgs(args, false);
  const Boxes boxes = avgBoxes(a.geom, a.countIncludePad, a.divisorOverride);
  if (a.input.dtype == DType::float32)
    boxForward<float>(a.geom, boxes, a.input.ptr<float>(), a.output.ptr<float>());
  else
    boxForward<double>(a.geom, boxes, a.input.ptr<double>(), a.output.ptr<double>());
  return info.Env().Undefined();
}

// avgPool2dBackward(gx, gy, params, ceilMode, countIncludePad, divisorOverride)
Napi::Value avgPool2dBackward(const Napi::CallbackInfo& info) {
  Args args(info, "avgPool2dBackward", 6);
  const AvgPool2dArgs a = parseAvgPool2dArgs(args, true);
  const Boxes boxes = avgBoxes(a.geom, a.countIncludePad, a.divisorOverride);
  if (a.input.dtype == DType::float32)
    boxBackward<float>(a.geom, boxes, a.output.ptr<float>(), a.input.ptr<float>());
  else
    boxBackward<double>(a.geom, boxes, a.output.ptr<double>(), a.input.ptr<double>());
  return info.Env().Undefined();
}

// adaptiveAvgPool2d(out, x)
Napi::Value adaptiveAvgPool2d(const Napi::CallbackInfo& info) {
  Args args(info, "adaptiveAvgPool2d", 2);
  const AdaptiveAvgPool2dArgs a = parseAdaptiveAvgPool2dArgs(args, false);
  const Boxes boxes = adaptiveBoxes(a.geom);
  if (a.input.dtype == DType::float32) boxForward<float>(a.geom, boxes, a.input.ptr<float>(), a.output.ptr<float>());
  else boxForward<double>(a.geom, boxes, a.input.ptr<double>(), a.output.ptr<double>());
  return info.Env().Undefined();
}

// adaptiveAvgPool2dBackward(gx, gy)
Napi::Value adaptiveAvgPool2dBackward(const Napi::CallbackInfo& info) {
  Args args(info, "adaptiveAvgPool2dBackward", 2);
  const AdaptiveAvgPool2dArgs a = parseAdaptiveAvgPool2dArgs(args, true);
  const Boxes boxes = adaptiveBoxes(a.geom);
  if (a.input.dtype == DType::float32) boxBackward<float>(a.geom, boxes, a.output.ptr<float>(), a.input.ptr<float>());
  else boxBackward<double>(a.geom, boxes, a.output.ptr<double>(), a.input.ptr<double>());
  return info.Env().Undefined();
}

}  // namespace

IV_EXPORT("maxPool2d", maxPool2d);
IV_EXPORT("maxPool2dBackward", maxPool2dBackward);
IV_EXPORT("avgPool2d", avgPool2d);
IV_EXPORT("avgPool2dBackward", avgPool2dBackward);
IV_EXPORT("adaptiveAvgPool2d", adaptiveAvgPool2d);
IV_EXPORT("adaptiveAvgPool2dBackward", adaptiveAvgPool2dBackward);

}  // namespace iv
