// 2-d pooling, NCHW with the batch and channel dims merged into planes: max (saving the
// flat H*W index of each maximum for the backward), average (PyTorch's padding and
// ceil-mode divisor rules) and adaptive average, with their backward passes. Planes are
// independent, so every kernel parallelises over them.
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>
#include "../../binding/pool_args.h"
#include "../../binding/registry.h"
#include "../parallel.h"
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

// One average-pooling window: its clipped extent and divisor, as in PyTorch's avg_pool2d.
struct Window {
  int64_t h0, h1, w0, w1;
  double divisor;
};

inline Window avgWindow(const Pool& g, int64_t r, int64_t c, bool includePad, int64_t divisorOverride) {
  int64_t h0 = r * g.sh - g.ph, w0 = c * g.sw - g.pw;
  int64_t h1 = std::min(h0 + g.kh, g.H + g.ph), w1 = std::min(w0 + g.kw, g.W + g.pw);
  const int64_t padded = (h1 - h0) * (w1 - w0);
  h0 = std::max<int64_t>(h0, 0), w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, g.H), w1 = std::min(w1, g.W);
  const double d = divisorOverride ? divisorOverride : includePad ? padded : (h1 - h0) * (w1 - w0);
  return {h0, h1, w0, w1, d};
}

template <class T>
void avgForward(const Pool& g, const T* x, T* y, bool includePad, int64_t div) {
  parallelFor(g.planes, 1, [&](int64_t a, int64_t b) {
    for (int64_t pl = a; pl < b; pl++) {
      const T* xp = x + pl * g.H * g.W;
      T* yp = y + pl * g.Ho * g.Wo;
      for (int64_t r = 0; r < g.Ho; r++)
        for (int64_t c = 0; c < g.Wo; c++) {
          const Window win = avgWindow(g, r, c, includePad, div);
          T s = 0;
          for (int64_t h = win.h0; h < win.h1; h++)
            for (int64_t w = win.w0; w < win.w1; w++) s += xp[h * g.W + w];
          yp[r * g.Wo + c] = win.h1 > win.h0 && win.w1 > win.w0 ? T(s / win.divisor) : T(0);
        }
    }
  });
}

template <class T>
void avgBackward(const Pool& g, const T* gy, T* gx, bool includePad, int64_t div) {
  parallelFor(g.planes, 1, [&](int64_t a, int64_t b) {
    for (int64_t pl = a; pl < b; pl++) {
      T* gp = gx + pl * g.H * g.W;
      std::memset(gp, 0, g.H * g.W * sizeof(T));
      const T* yp = gy + pl * g.Ho * g.Wo;
      for (int64_t r = 0; r < g.Ho; r++)
        for (int64_t c = 0; c < g.Wo; c++) {
          const Window win = avgWindow(g, r, c, includePad, div);
          const T v = T(yp[r * g.Wo + c] / win.divisor);
          for (int64_t h = win.h0; h < win.h1; h++)
            for (int64_t w = win.w0; w < win.w1; w++) gp[h * g.W + w] += v;
        }
    }
  });
}


// avgPool2d(out, x, params, ceilMode, countIncludePad, divisorOverride)
Napi::Value avgPool2d(const Napi::CallbackInfo& info) {
  Args args(info, "avgPool2d", 6);
  const AvgPool2dArgs a = parseAvgPool2dArgs(args, false);
  if (a.input.dtype == DType::float32)
    avgForward<float>(a.geom, a.input.ptr<float>(), a.output.ptr<float>(), a.countIncludePad, a.divisorOverride);
  else
    avgForward<double>(a.geom, a.input.ptr<double>(), a.output.ptr<double>(), a.countIncludePad, a.divisorOverride);
  return info.Env().Undefined();
}

// avgPool2dBackward(gx, gy, params, ceilMode, countIncludePad, divisorOverride)
Napi::Value avgPool2dBackward(const Napi::CallbackInfo& info) {
  Args args(info, "avgPool2dBackward", 6);
  const AvgPool2dArgs a = parseAvgPool2dArgs(args, true);
  if (a.input.dtype == DType::float32)
    avgBackward<float>(a.geom, a.output.ptr<float>(), a.input.ptr<float>(), a.countIncludePad, a.divisorOverride);
  else
    avgBackward<double>(a.geom, a.output.ptr<double>(), a.input.ptr<double>(), a.countIncludePad, a.divisorOverride);
  return info.Env().Undefined();
}

// Adaptive windows: output o covers [floor(o I / O), ceil((o + 1) I / O)).
inline int64_t adaptiveStart(int64_t o, int64_t in, int64_t out) { return o * in / out; }
inline int64_t adaptiveEnd(int64_t o, int64_t in, int64_t out) { return ((o + 1) * in + out - 1) / out; }

template <class T>
void adaptiveForward(const Pool& g, const T* x, T* y) {
  parallelFor(g.planes, 1, [&](int64_t a, int64_t b) {
    for (int64_t pl = a; pl < b; pl++) {
      const T* xp = x + pl * g.H * g.W;
      T* yp = y + pl * g.Ho * g.Wo;
      for (int64_t r = 0; r < g.Ho; r++) {
        const int64_t h0 = adaptiveStart(r, g.H, g.Ho), h1 = adaptiveEnd(r, g.H, g.Ho);
        for (int64_t c = 0; c < g.Wo; c++) {
          const int64_t w0 = adaptiveStart(c, g.W, g.Wo), w1 = adaptiveEnd(c, g.W, g.Wo);
          T s = 0;
          for (int64_t h = h0; h < h1; h++)
            for (int64_t w = w0; w < w1; w++) s += xp[h * g.W + w];
          yp[r * g.Wo + c] = s / T((h1 - h0) * (w1 - w0));
        }
      }
    }
  });
}

template <class T>
void adaptiveBackward(const Pool& g, const T* gy, T* gx) {
  parallelFor(g.planes, 1, [&](int64_t a, int64_t b) {
    for (int64_t pl = a; pl < b; pl++) {
      T* gp = gx + pl * g.H * g.W;
      std::memset(gp, 0, g.H * g.W * sizeof(T));
      const T* yp = gy + pl * g.Ho * g.Wo;
      for (int64_t r = 0; r < g.Ho; r++) {
        const int64_t h0 = adaptiveStart(r, g.H, g.Ho), h1 = adaptiveEnd(r, g.H, g.Ho);
        for (int64_t c = 0; c < g.Wo; c++) {
          const int64_t w0 = adaptiveStart(c, g.W, g.Wo), w1 = adaptiveEnd(c, g.W, g.Wo);
          const T v = yp[r * g.Wo + c] / T((h1 - h0) * (w1 - w0));
          for (int64_t h = h0; h < h1; h++)
            for (int64_t w = w0; w < w1; w++) gp[h * g.W + w] += v;
        }
      }
    }
  });
}

// adaptiveAvgPool2d(out, x)
Napi::Value adaptiveAvgPool2d(const Napi::CallbackInfo& info) {
  Args args(info, "adaptiveAvgPool2d", 2);
  const AdaptiveAvgPool2dArgs a = parseAdaptiveAvgPool2dArgs(args, false);
  if (a.input.dtype == DType::float32) adaptiveForward<float>(a.geom, a.input.ptr<float>(), a.output.ptr<float>());
  else adaptiveForward<double>(a.geom, a.input.ptr<double>(), a.output.ptr<double>());
  return info.Env().Undefined();
}

// adaptiveAvgPool2dBackward(gx, gy)
Napi::Value adaptiveAvgPool2dBackward(const Napi::CallbackInfo& info) {
  Args args(info, "adaptiveAvgPool2dBackward", 2);
  const AdaptiveAvgPool2dArgs a = parseAdaptiveAvgPool2dArgs(args, true);
  if (a.input.dtype == DType::float32) adaptiveBackward<float>(a.geom, a.output.ptr<float>(), a.input.ptr<float>());
  else adaptiveBackward<double>(a.geom, a.output.ptr<double>(), a.input.ptr<double>());
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
