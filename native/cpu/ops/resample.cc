// Padding (constant, reflect, replicate over the trailing dims) and 2-d resampling (nearest,
// bilinear with either corner convention), with their backward passes. Both map every
// output coordinate to input coordinates through per-dimension index tables, so the inner
// loops only gather; backward passes scatter-add through the same tables (bilinear one
// dimension at a time).
#include <cmath>
#include <cstring>
#include <string>
#include <vector>
#include "../../binding/args.h"
#include "../../binding/registry.h"
#include "../parallel.h"

namespace iv {
namespace {

std::string str(int64_t v) { return std::to_string(v); }

// ---- pad ---------------------------------------------------------------------------

enum class PadMode { constant, reflect, replicate };

// Source index along one dim for output index o, or -1 where the constant fills in.
int64_t padSource(PadMode mode, int64_t o, int64_t before, int64_t n) {
  const int64_t i = o - before;
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case PadMode::constant: return -1;
    case PadMode::replicate: return i < 0 ? 0 : n - 1;
    case PadMode::reflect: return i < 0 ? -i : 2 * (n - 1) - i;
  }
  return -1;
}

struct PadPlan {
  int64_t outer = 1;                      // elements of the unpadded leading dims
  std::vector<int64_t> inShape, outShape;  // the padded trailing dims
  std::vector<std::vector<int64_t>> src;  // per padded dim: output index -> input index or -1
};

// pads: [before, after] for each of the trailing pads.size() / 2 dims, in dim order.
PadPlan planPad(Args& args, const TensorArg& in, const char* inName, const TensorArg& out, const char* outName,
                PadMode mode) {
  const std::vector<int64_t> pads = args.ints(2, "pads");
  const size_t nd = in.shape.size(), k = pads.size() / 2;
  if (pads.size() % 2 || k == 0 || k > nd)
    args.fail("pads must hold a [before, after] pair for each of 1.." + str(nd) + " trailing dims, got " +
              str(pads.size()) + " values");
  if (out.shape.size() != nd || in.dtype != out.dtype || !isFloat(in.dtype))
    args.fail(std::string(inName) + " " + in.shapeString() + " (" + dtypeName(in.dtype) + ") and " + outName + " " +
              out.shapeString() + " (" + dtypeName(out.dtype) + ") must be float tensors of the same rank and dtype");
  if (!in.contiguous() || !out.contiguous()) args.fail(std::string(inName) + " and " + outName + " must be contiguous");
  PadPlan p;
  for (size_t d = 0; d < nd - k; d++) {
    if (in.shape[d] != out.shape[d])
      args.fail(std::string(outName) + " " + out.shapeString() + " differs from " + inName + " " + in.shapeString() +
                " in unpadded dim " + str(d));
    p.outer *= in.shape[d];
  }
  for (size_t q = 0; q < k; q++) {
    const size_t d = nd - k + q;
    const int64_t n = in.shape[d], before = pads[2 * q], after = pads[2 * q + 1], o = n + before + after;
    if (out.shape[d] != o)
      args.fail(std::string(outName) + " " + out.shapeString() + " should have size " + str(o) + " in dim " + str(d));
    if (o < 1 || n < 1) args.fail("padding dim " + str(d) + " of size " + str(n) + " gives size " + str(o));
    if (mode == PadMode::reflect && (before >= n || after >= n || before < 0 || after < 0))
      args.fail("reflect padding (" + str(before) + ", " + str(after) + ") must be non-negative and less than dim " +
                str(d) + " of size " + str(n));
    if (mode == PadMode::replicate && (before < 0 || after < 0))
      args.fail("replicate padding must be non-negative, got (" + str(before) + ", " + str(after) + ")");
    p.inShape.push_back(n);
    p.outShape.push_back(o);
    std::vector<int64_t> m(o);
    for (int64_t i = 0; i < o; i++) m[i] = padSource(mode, i, before, n);
    p.src.push_back(std::move(m));
  }
  return p;
}

// Calls f(outRowOffset, inRowOffset or -1) for every output row (the last padded dim) of
// outer slice s.
template <class F>
void forPadRows(const PadPlan& p, int64_t s, F&& f) {
  const size_t k = p.outShape.size();
  int64_t inSize = 1, outSize = 1;
  for (size_t q = 0; q < k; q++) inSize *= p.inShape[q], outSize *= p.outShape[q];
  const int64_t rowLen = p.outShape[k - 1], rows = outSize / rowLen;
  for (int64_t r = 0; r < rows; r++) {
    int64_t rem = r, in = 0, stride = p.inShape[k - 1];
    bool valid = true;
    for (size_t q = k - 1; q-- > 0;) {
      const int64_t o = rem % p.outShape[q];
      rem /= p.outShape[q];
      const int64_t i = p.src[q][o];
      valid = valid && i >= 0;
      in += i * stride;
      stride *= p.inShape[q];
    }
    f(s * outSize + r * rowLen, valid ? s * inSize + in : -1);
  }
}

PadMode parsePadMode(Args& args, size_t i) {
  const std::string m = args.string(i, "mode");
  if (m == "constant") return PadMode::constant;
  if (m == "reflect") return PadMode::reflect;
  if (m == "replicate") return PadMode::replicate;
  args.fail("unknown mode '" + m + "' (expected constant, reflect or replicate)");
}

template <class T>
void padForward(const PadPlan& p, const T* x, T* y, T value) {
  const std::vector<int64_t>& last = p.src.back();
  const int64_t len = p.outShape.back();
  parallelFor(p.outer, 1, [&](int64_t a, int64_t b) {
    for (int64_t s = a; s < b; s++)
      forPadRows(p, s, [&](int64_t o, int64_t i) {
        T* d = y + o;
        if (i < 0) {
          for (int64_t e = 0; e < len; e++) d[e] = value;
          return;
        }
        for (int64_t e = 0; e < len; e++) d[e] = last[e] >= 0 ? x[i + last[e]] : value;
      });
  });
}

template <class T>
void padBackward(const PadPlan& p, const T* gy, T* gx) {
  const std::vector<int64_t>& last = p.src.back();
  const int64_t len = p.outShape.back();
  int64_t inSize = 1;
  for (int64_t n : p.inShape) inSize *= n;
  // Each outer slice owns its input slice; within it, reflected rows add into the same place.
  parallelFor(p.outer, 1, [&](int64_t a, int64_t b) {
    for (int64_t s = a; s < b; s++) {
      std::memset(gx + s * inSize, 0, inSize * sizeof(T));
      forPadRows(p, s, [&](int64_t o, int64_t i) {
        if (i < 0) return;
        for (int64_t e = 0; e < len; e++)
          if (last[e] >= 0) gx[i + last[e]] += gy[o + e];
      });
    }
  });
}

// pad(out, x, pads, mode, value)
Napi::Value pad(const Napi::CallbackInfo& info) {
  Args args(info, "pad", 5);
  TensorArg out = args.tensor(0, "out"), x = args.tensor(1, "x");
  const PadMode mode = parsePadMode(args, 3);
  const PadPlan p = planPad(args, x, "x", out, "out", mode);
  const double value = args.number(4, "value");
  if (x.dtype == DType::float32) padForward<float>(p, x.ptr<float>(), out.ptr<float>(), static_cast<float>(value));
  else padForward<double>(p, x.ptr<double>(), out.ptr<double>(), value);
  return info.Env().Undefined();
}

// padBackward(gx, gy, pads, mode)
Napi::Value padBackward(const Napi::CallbackInfo& info) {
  Args args(info, "padBackward", 4);
  TensorArg gx = args.tensor(0, "gradInput"), gy = args.tensor(1, "gradOutput");
  const PadMode mode = parsePadMode(args, 3);
  const PadPlan p = planPad(args, gx, "gradInput", gy, "gradOutput", mode);
  if (gx.dtype == DType::float32) padBackward<float>(p, gy.ptr<float>(), gx.ptr<float>());
  else padBackward<double>(p, gy.ptr<double>(), gx.ptr<double>());
  return info.Env().Undefined();
}

// ---- interpolate -------------------------------------------------------------------

// PyTorch's index conventions (aten/src/ATen/native/UpSample.h). `scale` is the user's
// scale factor, or <= 0 when the output size was given.
int64_t nearestSource(int64_t o, int64_t in, int64_t out, double scale) {
  if (out == in) return o;
  if (out == 2 * in) return o >> 1;
  // PyTorch computes this in float whatever the tensor's dtype.
  const float s = scale > 0 ? static_cast<float>(1.0 / scale) : static_cast<float>(in) / static_cast<float>(out);
  const int64_t i = static_cast<int64_t>(std::floor(static_cast<float>(o) * s));
  return i < in - 1 ? i : in - 1;
}

// Linear taps along one dim: output o reads i0 and i0 + step with weights 1 - l and l.
template <class T>
struct Linear {
  std::vector<int64_t> i0, step;
  std::vector<T> l;
};

template <class T>
Linear<T> linearTaps(int64_t in, int64_t out, bool alignCorners, double scale) {
  Linear<T> t;
  if (in == out) {  // PyTorch copies when the size is unchanged, whatever the scale factor
    for (int64_t o = 0; o < out; o++) t.i0.push_back(o), t.step.push_back(0), t.l.push_back(T(0));
    return t;
  }
  T s;
  if (alignCorners) s = out > 1 ? T(in - 1) / T(out - 1) : T(0);
  else s = scale > 0 ? T(1.0 / scale) : T(in) / T(out);
  for (int64_t o = 0; o < out; o++) {
    T src = alignCorners ? s * T(o) : s * (T(o) + T(0.5)) - T(0.5);
    if (src < T(0)) src = T(0);
    const int64_t i = static_cast<int64_t>(src);
    const T lam = src - T(i) < T(1) ? src - T(i) : T(1);
    t.i0.push_back(i < in - 1 ? i : in - 1);
    t.step.push_back(i < in - 1 ? 1 : 0);
    t.l.push_back(lam);
  }
  return t;
}

struct Resample {
  int64_t planes, H, W, Ho, Wo;
};

Resample parseResample(Args& args, const TensorArg& in, const char* inName, const TensorArg& out, const char* outName) {
  if (in.shape.size() != 4 || out.shape.size() != 4)
    args.fail(std::string("expected 4-d [N, C, H, W] tensors, got ") + inName + " " + in.shapeString() + " and " +
              outName + " " + out.shapeString());
  if (in.dtype != out.dtype || !isFloat(in.dtype))
    args.fail(std::string(inName) + " and " + outName + " must share a float dtype, got " + dtypeName(in.dtype) +
              " and " + dtypeName(out.dtype));
  if (!in.contiguous() || !out.contiguous()) args.fail(std::string(inName) + " and " + outName + " must be contiguous");
  if (in.shape[0] != out.shape[0] || in.shape[1] != out.shape[1])
    args.fail(std::string(inName) + " " + in.shapeString() + " and " + outName + " " + out.shapeString() +
              " differ in batch or channels");
  for (int d = 2; d < 4; d++)
    if (in.shape[d] < 1 || out.shape[d] < 1)
      args.fail("spatial sizes must be positive, got " + in.shapeString() + " -> " + out.shapeString());
  return {in.shape[0] * in.shape[1], in.shape[2], in.shape[3], out.shape[2], out.shape[3]};
}

// img is input-shaped, res output-shaped: forward reads img into res, backward adds res
// (the output gradient) into img (the input gradient).
template <class T>
void nearest(const Resample& r, T* img, T* res, double sh, double sw, bool backward) {
  std::vector<int64_t> hi(r.Ho), wi(r.Wo);
  for (int64_t o = 0; o < r.Ho; o++) hi[o] = nearestSource(o, r.H, r.Ho, sh);
  for (int64_t o = 0; o < r.Wo; o++) wi[o] = nearestSource(o, r.W, r.Wo, sw);
  parallelFor(r.planes, 1, [&](int64_t a, int64_t b) {
    for (int64_t p = a; p < b; p++) {
      T* ip = img + p * r.H * r.W;
      T* op = res + p * r.Ho * r.Wo;
      if (!backward) {
        for (int64_t h = 0; h < r.Ho; h++)
          for (int64_t w = 0; w < r.Wo; w++) op[h * r.Wo + w] = ip[hi[h] * r.W + wi[w]];
      } else {
        std::memset(ip, 0, r.H * r.W * sizeof(T));
        for (int64_t h = 0; h < r.Ho; h++)
          for (int64_t w = 0; w < r.Wo; w++) ip[hi[h] * r.W + wi[w]] += op[h * r.Wo + w];
      }
    }
  });
}

// Bilinear resampling in two separable passes. Forward: each input row some output row reads
// is resampled along W once (a x2 upsampling reads each twice), then each output row blends
// its two resampled rows in a loop the compiler vectorises. Per output that is the direct
// formula's arithmetic, (1 - lh) ((1 - lw) a + lw b) + lh ((1 - lw) c + lw d), so the result
// is unchanged. Backward runs the passes in reverse: each output-gradient row adds into the
// two rows it came from, and each of those, once complete, scatters along W into its input
// row. The output rows' first input rows never decrease, so two held rows of Wo suffice: a
// row let go is never needed again.
template <class T>
class HeldRows {
 public:
  explicit HeldRows(int64_t width) : width_(width), data_(2 * width) {}
  // The slot holding input row i, or -1.
  int find(int64_t i) const { return row_[0] == i ? 0 : row_[1] == i ? 1 : -1; }
  // A slot for row i, taken from a row other than `keep` (the other row the output row needs);
  // `release` gets the row let go.
  template <class Release>
  int take(int64_t i, int64_t keep, Release&& release) {
    const int s = row_[0] == keep ? 1 : 0;
    if (row_[s] >= 0) release(row_[s], at(s));
    row_[s] = i;
    return s;
  }
  T* at(int s) { return data_.data() + s * width_; }
  template <class Release>
  void releaseAll(Release&& release) {
    for (int s = 0; s < 2; s++)
      if (row_[s] >= 0) release(row_[s], at(s)), row_[s] = -1;
  }

 private:
  int64_t width_;
  std::vector<T> data_;
  int64_t row_[2] = {-1, -1};
};

template <class T>
void bilinear(const Resample& r, T* img, T* res, bool alignCorners, double sh, double sw, bool backward) {
  const Linear<T> th = linearTaps<T>(r.H, r.Ho, alignCorners, sh), tw = linearTaps<T>(r.W, r.Wo, alignCorners, sw);
  const int64_t H = r.H, W = r.W, Ho = r.Ho, Wo = r.Wo;
  std::vector<T> w0(Wo);
  for (int64_t w = 0; w < Wo; w++) w0[w] = T(1) - tw.l[w];
  const T* w1 = tw.l.data();
  parallelFor(r.planes, 1, [&](int64_t a, int64_t b) {
    HeldRows<T> held(Wo);
    for (int64_t p = a; p < b; p++) {
      T* xp = img + p * H * W;
      T* yp = res + p * Ho * Wo;
      if (!backward) {
        // Input row i resampled along W, held.
        auto resampled = [&](int64_t i, int64_t keep) -> const T* {
          int s = held.find(i);
          if (s < 0) {
            s = held.take(i, keep, [](int64_t, T*) {});
            const T* x = xp + i * W;
            T* out = held.at(s);
            for (int64_t w = 0; w < Wo; w++) {
              const int64_t c0 = tw.i0[w];
              out[w] = w0[w] * x[c0] + w1[w] * x[c0 + tw.step[w]];
            }
          }
          return held.at(s);
        };
        for (int64_t h = 0; h < Ho; h++) {
          const T lh = th.l[h], kh = T(1) - lh;
          const int64_t i0 = th.i0[h], i1 = i0 + th.step[h];
          const T* s0 = resampled(i0, i1);
          const T* s1 = resampled(i1, i0);
          T* y = yp + h * Wo;
          for (int64_t w = 0; w < Wo; w++) y[w] = kh * s0[w] + lh * s1[w];
        }
        held.releaseAll([](int64_t, T*) {});
      } else {
        std::memset(xp, 0, H * W * sizeof(T));
        // A complete row of sums scatters along W into input row i.
        auto scatter = [&](int64_t i, T* s) {
          T* gx = xp + i * W;
          for (int64_t w = 0; w < Wo; w++) {
            const int64_t c0 = tw.i0[w];
            gx[c0] += w0[w] * s[w];
            gx[c0 + tw.step[w]] += w1[w] * s[w];
          }
        };
        auto sums = [&](int64_t i, int64_t keep) -> T* {
          int s = held.find(i);
          if (s < 0) {
            s = held.take(i, keep, scatter);
            std::memset(held.at(s), 0, Wo * sizeof(T));
          }
          return held.at(s);
        };
        for (int64_t h = 0; h < Ho; h++) {
          const T lh = th.l[h], kh = T(1) - lh;
          const int64_t i0 = th.i0[h], i1 = i0 + th.step[h];
          T* s0 = sums(i0, i1);
          T* s1 = sums(i1, i0);
          const T* gy = yp + h * Wo;
          for (int64_t w = 0; w < Wo; w++) s0[w] += kh * gy[w];
          for (int64_t w = 0; w < Wo; w++) s1[w] += lh * gy[w];
        }
        held.releaseAll(scatter);
      }
    }
  });
}

// interpolate(out, x, mode, alignCorners, scaleH, scaleW) and
// interpolateBackward(gx, gy, mode, alignCorners, scaleH, scaleW); scales <= 0 mean none.
Napi::Value resample(const Napi::CallbackInfo& info, bool backward) {
  Args args(info, backward ? "interpolateBackward" : "interpolate", 6);
  TensorArg a = args.tensor(0, backward ? "gradInput" : "out"), b = args.tensor(1, backward ? "gradOutput" : "x");
  const std::string mode = args.string(2, "mode");
  const bool align = args.boolean(3, "alignCorners");
  const double sh = args.number(4, "scaleH"), sw = args.number(5, "scaleW");
  // r describes the forward: input (H, W) -> output (Ho, Wo).
  const TensorArg& in = backward ? a : b;
  const TensorArg& out = backward ? b : a;
  const Resample r = parseResample(args, in, backward ? "gradInput" : "x", out, backward ? "gradOutput" : "out");
  if (mode != "nearest" && mode != "bilinear")
    args.fail("unknown mode '" + mode + "' (expected nearest or bilinear)");
  const bool f32 = in.dtype == DType::float32;
  if (mode == "nearest") {
    if (f32) nearest<float>(r, in.ptr<float>(), out.ptr<float>(), sh, sw, backward);
    else nearest<double>(r, in.ptr<double>(), out.ptr<double>(), sh, sw, backward);
  } else {
    if (f32) bilinear<float>(r, in.ptr<float>(), out.ptr<float>(), align, sh, sw, backward);
    else bilinear<double>(r, in.ptr<double>(), out.ptr<double>(), align, sh, sw, backward);
  }
  return info.Env().Undefined();
}

Napi::Value interpolate(const Napi::CallbackInfo& info) { return resample(info, false); }
Napi::Value interpolateBackward(const Napi::CallbackInfo& info) { return resample(info, true); }

}  // namespace

IV_EXPORT("pad", pad);
IV_EXPORT("padBackward", padBackward);
IV_EXPORT("interpolate", interpolate);
IV_EXPORT("interpolateBackward", interpolateBackward);

}  // namespace iv
