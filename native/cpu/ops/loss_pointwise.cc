// The elementwise losses (mseLoss, l1Loss, smoothL1Loss, binaryCrossEntropyWithLogits) as one
// sweep each way: the forward pass writes the per-element loss or only returns its sum (for
// 'mean' and 'sum', so nothing of the input's size is allocated), and the backward pass writes
// both inputs' gradients from the upstream gradient, which is per element or one value
// (reduced). Every operand is contiguous and of the input's shape (the TypeScript side
// materialises broadcasts). Per element, with d = x - y:
//   mse: d^2    l1: |d|    smoothL1: d^2 / (2 beta) where |d| < beta, else |d| - beta / 2
//   bceWithLogits: w ((1 - y) x + lw softplus(-x)),  lw = 1 + (pw - 1) y
// float32 runs in vectors of the widest instruction set (loss_pointwise.inc), float64 in plain
// loops over the same formulas; sums are taken in fixed chunks and added in order, so the
// result does not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>
#include "../../binding/args.h"
#include "../../binding/registry.h"
#include "../parallel.h"
#include "../cpu_features.h"
#include "loss_pointwise.inc"

namespace iv {
namespace {

bool parseKind(const std::string& s, PointwiseKind& k) {
  static const char* names[] = {"mse", "l1", "smoothL1", "bceWithLogits"};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (s == names[i]) {
      k = static_cast<PointwiseKind>(i);
      return true;
    }
  return false;
}

constexpr int64_t kChunk = 8192;  // elements per task and per partial sum

double lossRange(const PointwiseParams& P, const PointwiseOperands<double>& o, int64_t i0, int64_t i1, double* out) {
  double acc = 0;
  for (int64_t i = i0; i < i1; i++) {
    const double l = lossOf<double>(P, o.x[i], o.y[i], o.w ? o.w[i] : 1, o.pw ? o.pw[i] : 1);
    if (out) out[i] = l;
    acc += l;
  }
  return acc;
}

void gradRange(const PointwiseParams& P, const PointwiseOperands<double>& o, int64_t i0, int64_t i1, const double* g,
               int64_t gs, double scale, double* gx, double* gy) {
  for (int64_t i = i0; i < i1; i++) {
    double dx = 0, dy = 0;
    gradOf<double>(P, o.x[i], o.y[i], o.w ? o.w[i] : 1, o.pw ? o.pw[i] : 1, g[i * gs] * scale, dx, dy);
    if (gx) gx[i] = dx;
    if (gy) gy[i] = dy;
  }
}

const PointwiseLossF& floatSweeps() {
  static const PointwiseLossF generic = {lossRangeF, gradRangeF};
  switch (activeIsa()) {
    case Isa::avx512: return *pointwiseLossAvx512();
    case Isa::avx2: return *pointwiseLossAvx2();
    default: return generic;
  }
}
double lossRange(const PointwiseParams& P, const PointwiseOperands<float>& o, int64_t i0, int64_t i1, float* out) {
  return floatSweeps().lossRange(P, o, i0, i1, out);
}
void gradRange(const PointwiseParams& P, const PointwiseOperands<float>& o, int64_t i0, int64_t i1, const float* g,
               int64_t gs, double scale, float* gx, float* gy) {
  floatSweeps().gradRange(P, o, i0, i1, g, gs, scale, gx, gy);
}

template <class T>
double forwardImpl(const PointwiseParams& P, const PointwiseOperands<T>& o, int64_t n, T* out) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(chunks);
  parallelFor(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; c++) partial[c] = lossRange(P, o, c * kChunk, std::min(n, (c + 1) * kChunk), out);
  });
  double sum = 0;
  for (double s : partial) sum += s;
  return sum;
}

template <class T>
void backwardImpl(const PointwiseParams& P, const PointwiseOperands<T>& o, int64_t n, const T* g, int64_t gs,
                  double scale, T* gx, T* gy) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  parallelFor(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; c++) gradRange(P, o, c * kChunk, std::min(n, (c + 1) * kChunk), g, gs, scale, gx, gy);
  });
}

// Reads kind, x, y, weight, posWeight and beta at the given argument positions; every
// tensor must be contiguous, of x's shape and float dtype.
struct Parsed {
  PointwiseParams P;
  TensorArg x, y, w, pw;
};

void requireLike(Args& args, const TensorArg& t, const TensorArg& x, const char* name) {
  if (t.shape != x.shape || t.dtype != x.dtype || !t.contiguous())
    args.fail(std::string("argument '") + name + "' must be a contiguous " + dtypeName(x.dtype) + " tensor of shape " +
              x.shapeString() + ", got " + dtypeName(t.dtype) + " " + t.shapeString() +
              (t.contiguous() ? "" : " (not contiguous)"));
}

Parsed parse(Args& args, size_t kindArg, size_t xArg, size_t betaArg) {
  Parsed r;
  const std::string name = args.string(kindArg, "kind");
  if (!parseKind(name, r.P.kind)) args.fail("unknown loss '" + name + "' (mse, l1, smoothL1, bceWithLogits)");
  r.x = args.tensor(xArg, "input");
  if ((r.x.dtype != DType::float32 && r.x.dtype != DType::float64) || !r.x.contiguous())
    args.fail("argument 'input' must be a contiguous float32 or float64 tensor, got " +
              std::string(dtypeName(r.x.dtype)) + " " + r.x.shapeString());
  r.y = args.tensor(xArg + 1, "target");
  requireLike(args, r.y, r.x, "target");
  r.P.weighted = !args.isNullish(xArg + 2);
  r.P.posWeighted = !args.isNullish(xArg + 3);
  if ((r.P.weighted || r.P.posWeighted) && r.P.kind != PointwiseKind::bceWithLogits)
    args.fail("weight and posWeight apply only to bceWithLogits, not '" + name + "'");
  if (r.P.weighted) {
    r.w = args.tensor(xArg + 2, "weight");
    requireLike(args, r.w, r.x, "weight");
  }
  if (r.P.posWeighted) {
    r.pw = args.tensor(xArg + 3, "posWeight");
    requireLike(args, r.pw, r.x, "posWeight");
  }
  r.P.beta = args.number(betaArg, "beta");
  if (r.P.kind == PointwiseKind::smoothL1 && !(r.P.beta > 0 && std::isfinite(r.P.beta)))
    args.fail("smoothL1 needs a positive finite beta (beta 0 is l1), got " + std::to_string(r.P.beta));
  return r;
}

template <class T>
PointwiseOperands<T> operands(const Parsed& r) {
  return {r.x.ptr<T>(), r.y.ptr<T>(), r.P.weighted ? r.w.ptr<T>() : nullptr, r.P.posWeighted ? r.pw.ptr<T>() : nullptr};
}

// pointwiseLoss(kind, loss | null, input, target, weight | null, posWeight | null, beta):
// writes the per-element loss into `loss` unless null; returns the loss's sum.
Napi::Value pointwiseLoss(const Napi::CallbackInfo& info) {
  Args args(info, "pointwiseLoss", 7);
  Parsed r = parse(args, 0, 2, 6);
  TensorArg out;
  const bool write = !args.isNullish(1);
  if (write) {
    out = args.tensor(1, "loss");
    requireLike(args, out, r.x, "loss");
  }
  const int64_t n = r.x.numel();
  const double sum = r.x.dtype == DType::float32
                         ? forwardImpl<float>(r.P, operands<float>(r), n, write ? out.ptr<float>() : nullptr)
                         : forwardImpl<double>(r.P, operands<double>(r), n, write ? out.ptr<double>() : nullptr);
  return Napi::Number::New(info.Env(), sum);
}

// pointwiseLossBackward(kind, gradInput | null, gradTarget | null, input, target, weight | null,
// posWeight | null, gradLoss, scale, beta): gradLoss is per element (the input's shape) or one
// value (a reduced loss's gradient), multiplied by scale (1 / count for 'mean').
Napi::Value pointwiseLossBackward(const Napi::CallbackInfo& info) {
  Args args(info, "pointwiseLossBackward", 10);
  Parsed r = parse(args, 0, 3, 9);
  TensorArg gx, gy;
  const bool wantX = !args.isNullish(1), wantY = !args.isNullish(2);
  if (wantX) {
    gx = args.tensor(1, "gradInput");
    requireLike(args, gx, r.x, "gradInput");
  }
  if (wantY) {
    gy = args.tensor(2, "gradTarget");
    requireLike(args, gy, r.x, "gradTarget");
  }
  TensorArg gl = args.tensor(7, "gradLoss");
  const double scale = args.number(8, "scale");
  const bool single = gl.numel() == 1 && gl.shape != r.x.shape;
  if (!single) requireLike(args, gl, r.x, "gradLoss");
  if (gl.dtype != r.x.dtype)
    args.fail("argument 'gradLoss' must be " + std::string(dtypeName(r.x.dtype)) + ", got " + dtypeName(gl.dtype));
  const int64_t n = r.x.numel(), gs = single ? 0 : 1;
  if (r.x.dtype == DType::float32)
    backwardImpl<float>(r.P, operands<float>(r), n, gl.ptr<float>(), gs, scale, wantX ? gx.ptr<float>() : nullptr,
                        wantY ? gy.ptr<float>() : nullptr);
  else
    backwardImpl<double>(r.P, operands<double>(r), n, gl.ptr<double>(), gs, scale, wantX ? gx.ptr<double>() : nullptr,
                         wantY ? gy.ptr<double>() : nullptr);
  return info.Env().Undefined();
}

}  // namespace

IV_EXPORT("pointwiseLoss", pointwiseLoss);
IV_EXPORT("pointwiseLossBackward", pointwiseLossBackward);

}  // namespace iv
