// The CUDA addon's entry points for attention, softmax, layer norm, cross-entropy and the
// fused optimizer steps: the CPU's names, argument lists and checks (native/cpu/ops/
// attention.cc, softmax.cc, norm.cc, loss.cc, optim.cc), descriptors holding device handles.
// The launchers live in kernels/{attention,softmax,layernorm,loss,optim}.cu.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>
#include "../../binding/registry.h"
#include "../common.h"
#include "device_args.h"

namespace iv {
namespace cuda {

// As kernels/attention.cu (same definition).
struct AttnMask {
  const void* p;
  int kind;  // 0 none, 1 bool (false = masked), 2 additive
  int nb;
  int64_t msL, msS;
  int64_t shape[14];
  int64_t stride[14];
};

void launchAttentionForward(Dt dtype, const AttnMask& M, int64_t B, int64_t L, int64_t S, int64_t E, int64_t Ev,
                            double scale, bool causal, const void* q, const void* k, const void* v, void* out,
                            void* lse);
void launchAttentionBackward(Dt dtype, const AttnMask& M, int64_t B, int64_t L, int64_t S, int64_t E, int64_t Ev,
                             double scale, bool causal, const void* q, const void* k, const void* v, const void* out,
                             const void* lse, const void* gout, void* dq, void* dk, void* dv, void* dmask);
void launchSoftmaxForward(Dt dtype, const void* x, void* y, int64_t outer, int64_t K, int64_t inner, bool log);
void launchSoftmaxBackward(Dt dtype, const void* g, const void* y, void* d, int64_t outer, int64_t K, int64_t inner,
                           bool log);
void launchLayerNormForward(Dt dtype, const void* x, void* out, const void* w, int64_t ws, const void* b, int64_t bs,
                            void* mean, void* rstd, int64_t M, int64_t K, double eps);
void launchLayerNormBackward(Dt dtype, void* gx, void* gw, int64_t gws, void* gb, int64_t gbs, const void* g,
                             const void* x, const void* w, int64_t ws, const void* mean, const void* rstd, int64_t M,
                             int64_t K);
double ceTargets(const int32_t* t, int64_t n, int64_t C, int64_t ignore, const void* w, int64_t ws, bool f32,
                 long long& bad, int& firstBad);
void launchCrossEntropyForward(Dt dtype, int64_t N, int64_t C, int64_t S, bool probs, int64_t ignore,
                               double smoothing, const void* w, int64_t ws, const void* x, const void* target,
                               void* loss, void* lse);
void launchCrossEntropyBackward(Dt dtype, int64_t N, int64_t C, int64_t S, bool probs, int64_t ignore,
                                double smoothing, const void* w, int64_t ws, const void* x, const void* target,
                                const void* lse, const void* gl, int64_t gs0, int64_t gs1, double scale, void* gx);
void launchSgd(Dt dtype, void* p, const void* g, void* buf, int64_t n, double gsign, double wd, double mom,
               double damp1, double lr, double trust, bool scaled, bool nesterov, bool first);
void launchAdam(Dt dtype, bool decoupled, void* p, const void* g, void* m, void* v, void* vmax, int64_t n, double lr,
                double b1, double b2, double eps, double wd, int64_t step, bool maximize);
void launchEma(Dt dtype, void* e, const void* x, int64_t n, double decay);
void launchScale(Dt dtype, void* x, int64_t n, double c);
double normPow(Dt dtype, const void* x, int64_t n, int kind, double p);

namespace {

bool isFloat(DType d) { return d == DType::float32 || d == DType::float64; }

std::string shapeOf(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); i++) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

void requireShape(Args& args, const TensorArg& t, const char* name, const std::vector<int64_t>& shape, DType dtype) {
  if (t.shape != shape || t.dtype != dtype || !t.contiguous())
    args.fail(std::string("argument '") + name + "' must be a contiguous " + dtypeName(dtype) + " tensor of shape " +
              shapeOf(shape) + ", got " + dtypeName(t.dtype) + " " + t.shapeString() +
              (t.contiguous() ? "" : " (strided)"));
}

// Grid dims the kernels index with: a block per row is limited to 2^31 - 1 rows.
void requireRows(Args& args, int64_t rows) {
  if (rows > 0x7fffffffLL) args.fail("too many rows for the CUDA kernels: " + std::to_string(rows));
}

// ---- attention ----

struct AttnProblem {
  int64_t B, L, S, E, Ev;
  double scale;
  bool causal;
  AttnMask mask{};
};

AttnProblem parseAttention(Args& args, const Napi::CallbackInfo& info, const TensorArg& q, const TensorArg& k,
                           const TensorArg& v, size_t maskArg, size_t causalArg, size_t scaleArg, size_t dropArg,
                           size_t seedArg) {
  if (q.shape.size() != 3 || k.shape.size() != 3 || v.shape.size() != 3)
    args.fail("q, k and v must be 3-d [batch, seq, dim], got " + q.shapeString() + ", " + k.shapeString() + ", " +
              v.shapeString());
  if (q.dtype != k.dtype || q.dtype != v.dtype || !isFloat(q.dtype))
    args.fail(std::string("q, k and v must share a float dtype, got ") + dtypeName(q.dtype) + ", " +
              dtypeName(k.dtype) + ", " + dtypeName(v.dtype));
  AttnProblem P;
  P.B = q.shape[0];
  P.L = q.shape[1];
  P.E = q.shape[2];
  P.S = k.shape[1];
  P.Ev = v.shape[2];
  if (k.shape[0] != P.B || v.shape[0] != P.B || k.shape[2] != P.E || v.shape[1] != P.S)
    args.fail("shapes do not fit: q " + q.shapeString() + ", k " + k.shapeString() + ", v " + v.shapeString() +
              " (expected k [B, S, E] and v [B, S, Ev] for q [B, L, E])");
  requireShape(args, q, "q", q.shape, q.dtype);
  requireShape(args, k, "k", k.shape, q.dtype);
  requireShape(args, v, "v", v.shape, q.dtype);
  P.causal = args.boolean(causalArg, "isCausal");
  P.scale = args.number(scaleArg, "scale");
  if (!std::isfinite(P.scale)) args.fail("scale must be finite");
  const double p = args.number(dropArg, "dropoutP");
  if (!(p >= 0 && p < 1)) args.fail("dropoutP must be in [0, 1), got " + std::to_string(p));
  if (p > 0) args.fail("dropout on the attention probabilities is not supported on CUDA (dropoutP " + std::to_string(p) + ")");
  const int64_t lo = args.integer(seedArg, "seedLo"), hi = args.integer(seedArg + 1, "seedHi");
  if (lo < 0 || lo > 0xffffffffLL || hi < 0 || hi > 0xffffffffLL)
    args.fail("seedLo and seedHi must be unsigned 32-bit integers");
  if (P.B * std::max(P.L, P.S) > 0x7fffffffLL * 64) args.fail("attention problem too large for the CUDA kernels");
  if (!args.isNullish(maskArg)) {
    TensorArg m = deviceTensor(args, info, maskArg, "mask");
    const size_t nd = m.shape.size();
    if (m.dtype != DType::boolean && m.dtype != q.dtype)
      args.fail(std::string("mask must be bool or ") + dtypeName(q.dtype) + ", got " + dtypeName(m.dtype));
    if (nd < 2 || m.shape[nd - 2] != P.L || m.shape[nd - 1] != P.S)
      args.fail("mask must be a [..., " + std::to_string(P.L) + ", " + std::to_string(P.S) + "] view, got " +
                m.shapeString());
    int64_t batch = 1;
    for (size_t d = 0; d + 2 < nd; d++) batch *= m.shape[d];
    if (batch != P.B)
      args.fail("mask " + m.shapeString() + " has " + std::to_string(batch) + " batch entries, q has " +
                std::to_string(P.B));
    if (P.causal) args.fail("give either a mask or isCausal, not both");
    // Leading dims of size 1 carry nothing; at most 14 others.
    AttnMask& M = P.mask;
    M.p = m.data;
    M.kind = m.dtype == DType::boolean ? 1 : 2;
    M.msL = m.strides[nd - 2];
    M.msS = m.strides[nd - 1];
    M.nb = 0;
    for (size_t d = 0; d + 2 < nd; d++) {
      if (m.shape[d] == 1) continue;
      if (M.nb == 14) args.fail("mask " + m.shapeString() + " has more than 14 batch dims");
      M.shape[M.nb] = m.shape[d];
      M.stride[M.nb] = m.strides[d];
      M.nb++;
    }
  }
  return P;
}

Napi::Value attentionForward(const Napi::CallbackInfo& info) {
  Args args(info, "attentionForward", 11);
  TensorArg out = deviceTensor(args, info, 0, "out"), lse = deviceTensor(args, info, 1, "lse"),
            q = deviceTensor(args, info, 2, "q"), k = deviceTensor(args, info, 3, "k"),
            v = deviceTensor(args, info, 4, "v");
  AttnProblem P = parseAttention(args, info, q, k, v, 5, 6, 7, 8, 9);
  requireShape(args, out, "out", {P.B, P.L, P.Ev}, q.dtype);
  requireShape(args, lse, "lse", {P.B, P.L}, q.dtype);
  launchAttentionForward(dt(q.dtype), P.mask, P.B, P.L, P.S, P.E, P.Ev, P.scale, P.causal, q.data, k.data, v.data,
                         out.data, lse.data);
  return info.Env().Undefined();
}

Napi::Value attentionBackward(const Napi::CallbackInfo& info) {
  Args args(info, "attentionBackward", 16);
  TensorArg dq = deviceTensor(args, info, 0, "gradQ"), dk = deviceTensor(args, info, 1, "gradK"),
            dv = deviceTensor(args, info, 2, "gradV");
  TensorArg gout = deviceTensor(args, info, 4, "gradOut"), q = deviceTensor(args, info, 5, "q"),
            k = deviceTensor(args, info, 6, "k"), v = deviceTensor(args, info, 7, "v"),
            out = deviceTensor(args, info, 8, "out"), lse = deviceTensor(args, info, 9, "lse");
  AttnProblem P = parseAttention(args, info, q, k, v, 10, 11, 12, 13, 14);
  requireShape(args, dq, "gradQ", q.shape, q.dtype);
  requireShape(args, dk, "gradK", k.shape, q.dtype);
  requireShape(args, dv, "gradV", v.shape, q.dtype);
  requireShape(args, gout, "gradOut", {P.B, P.L, P.Ev}, q.dtype);
  requireShape(args, out, "out", {P.B, P.L, P.Ev}, q.dtype);
  requireShape(args, lse, "lse", {P.B, P.L}, q.dtype);
  TensorArg dmask;
  const bool wantMask = !args.isNullish(3);
  if (wantMask) {
    dmask = deviceTensor(args, info, 3, "gradMask");
    requireShape(args, dmask, "gradMask", {P.B, P.L, P.S}, q.dtype);
    if (P.mask.kind != 2) args.fail("gradMask needs an additive float mask");
  }
  launchAttentionBackward(dt(q.dtype), P.mask, P.B, P.L, P.S, P.E, P.Ev, P.scale, P.causal, q.data, k.data, v.data,
                          out.data, lse.data, gout.data, dq.data, dk.data, dv.data, wantMask ? dmask.data : nullptr);
  return info.Env().Undefined();
}

// ---- softmax ----

void requireLike(Args& args, const TensorArg& t, const char* name, const TensorArg& ref, const char* refName) {
  if (t.shape != ref.shape || t.dtype != ref.dtype || !t.contiguous())
    args.fail(std::string("argument '") + name + "' must be a contiguous " + dtypeName(ref.dtype) + " tensor of " +
              refName + "'s shape " + ref.shapeString() + ", got " + dtypeName(t.dtype) + " " + t.shapeString() +
              (t.contiguous() ? "" : " (strided)"));
}

Napi::Value softmaxForward(const Napi::CallbackInfo& info) {
  Args args(info, "softmaxForward", 3);
  TensorArg out = deviceTensor(args, info, 0, "out"), x = deviceTensor(args, info, 1, "x");
  const bool log = args.boolean(2, "log");
  if (x.shape.size() != 3 || !x.contiguous() || !isFloat(x.dtype))
    args.fail("argument 'x' must be a contiguous float [outer, K, inner] tensor, got " +
              std::string(dtypeName(x.dtype)) + " " + x.shapeString());
  requireLike(args, out, "out", x, "x");
  if (x.numel() == 0) return info.Env().Undefined();
  requireRows(args, x.shape[0] * x.shape[2]);
  launchSoftmaxForward(dt(x.dtype), x.data, out.data, x.shape[0], x.shape[1], x.shape[2], log);
  return info.Env().Undefined();
}

Napi::Value softmaxBackward(const Napi::CallbackInfo& info) {
  Args args(info, "softmaxBackward", 4);
  TensorArg gx = deviceTensor(args, info, 0, "gradX"), g = deviceTensor(args, info, 1, "grad"),
            y = deviceTensor(args, info, 2, "y");
  const bool log = args.boolean(3, "log");
  if (y.shape.size() != 3 || !y.contiguous() || !isFloat(y.dtype))
    args.fail("argument 'y' must be a contiguous float [outer, K, inner] tensor, got " +
              std::string(dtypeName(y.dtype)) + " " + y.shapeString());
  requireLike(args, g, "grad", y, "y");
  requireLike(args, gx, "gradX", y, "y");
  if (y.numel() == 0) return info.Env().Undefined();
  requireRows(args, y.shape[0] * y.shape[2]);
  launchSoftmaxBackward(dt(y.dtype), g.data, y.data, gx.data, y.shape[0], y.shape[1], y.shape[2], log);
  return info.Env().Undefined();
}

// ---- layer norm ----

TensorArg optionalVector(Args& args, const Napi::CallbackInfo& info, size_t i, const char* name, int64_t n,
                         DType dtype, bool& present) {
  present = !args.isNullish(i);
  TensorArg t;
  if (!present) return t;
  t = deviceTensor(args, info, i, name);
  if (t.shape.size() != 1 || t.shape[0] != n)
    args.fail(std::string("argument '") + name + "' must have shape [" + std::to_string(n) + "], got " +
              t.shapeString());
  if (t.dtype != dtype)
    args.fail(std::string("argument '") + name + "' must be " + dtypeName(dtype) + ", got " + dtypeName(t.dtype));
  return t;
}

Napi::Value layerNormForward(const Napi::CallbackInfo& info) {
  Args args(info, "layerNormForward", 7);
  TensorArg out = deviceTensor(args, info, 0, "out"), x = deviceTensor(args, info, 1, "x");
  if (x.shape.size() != 2 || !x.contiguous() || !isFloat(x.dtype))
    args.fail("argument 'x' must be a contiguous float [M, K] tensor, got " + std::string(dtypeName(x.dtype)) + " " +
              x.shapeString());
  const int64_t M = x.shape[0], K = x.shape[1];
  requireShape(args, out, "out", x.shape, x.dtype);
  bool hasW, hasB;
  TensorArg w = optionalVector(args, info, 2, "weight", K, x.dtype, hasW);
  TensorArg b = optionalVector(args, info, 3, "bias", K, x.dtype, hasB);
  TensorArg mean = deviceTensor(args, info, 4, "saveMean"), rstd = deviceTensor(args, info, 5, "saveRstd");
  requireShape(args, mean, "saveMean", {M}, x.dtype);
  requireShape(args, rstd, "saveRstd", {M}, x.dtype);
  const double eps = args.number(6, "eps");
  if (!(eps >= 0)) args.fail("eps must be non-negative, got " + std::to_string(eps));
  if (K == 0) args.fail("cannot normalise over zero elements (x " + x.shapeString() + ")");
  if (M == 0) return info.Env().Undefined();
  requireRows(args, M);
  launchLayerNormForward(dt(x.dtype), x.data, out.data, hasW ? w.data : nullptr, hasW ? w.strides[0] : 0,
                         hasB ? b.data : nullptr, hasB ? b.strides[0] : 0, mean.data, rstd.data, M, K, eps);
  return info.Env().Undefined();
}

Napi::Value layerNormBackward(const Napi::CallbackInfo& info) {
  Args args(info, "layerNormBackward", 8);
  const bool wantX = !args.isNullish(0), wantW = !args.isNullish(1), wantB = !args.isNullish(2);
  TensorArg g = deviceTensor(args, info, 3, "grad"), x = deviceTensor(args, info, 4, "x");
  if (x.shape.size() != 2 || !x.contiguous() || !isFloat(x.dtype))
    args.fail("argument 'x' must be a contiguous float [M, K] tensor, got " + std::string(dtypeName(x.dtype)) + " " +
              x.shapeString());
  const int64_t M = x.shape[0], K = x.shape[1];
  requireShape(args, g, "grad", x.shape, x.dtype);
  TensorArg gx, gw, gb;
  bool present;
  if (wantX) requireShape(args, gx = deviceTensor(args, info, 0, "gradX"), "gradX", x.shape, x.dtype);
  if (wantW) gw = optionalVector(args, info, 1, "gradWeight", K, x.dtype, present);
  if (wantB) gb = optionalVector(args, info, 2, "gradBias", K, x.dtype, present);
  bool hasW;
  TensorArg w = optionalVector(args, info, 5, "weight", K, x.dtype, hasW);
  TensorArg mean = deviceTensor(args, info, 6, "saveMean"), rstd = deviceTensor(args, info, 7, "saveRstd");
  requireShape(args, mean, "saveMean", {M}, x.dtype);
  requireShape(args, rstd, "saveRstd", {M}, x.dtype);
  if (K == 0) args.fail("cannot normalise over zero elements (x " + x.shapeString() + ")");
  requireRows(args, M);
  launchLayerNormBackward(dt(x.dtype), wantX ? gx.data : nullptr, wantW ? gw.data : nullptr, wantW ? gw.strides[0] : 0,
                          wantB ? gb.data : nullptr, wantB ? gb.strides[0] : 0, g.data, x.data,
                          hasW ? w.data : nullptr, hasW ? w.strides[0] : 0, mean.data, rstd.data, M, K);
  return info.Env().Undefined();
}

// ---- cross-entropy ----

struct CeProblem {
  int64_t N, C, S;
  bool probs;
  int64_t ignore;
  double smoothing;
  const void* w = nullptr;
  int64_t ws = 0;
};

CeProblem parseCe(Args& args, const Napi::CallbackInfo& info, const TensorArg& x, const TensorArg& target,
                  size_t weightArg, size_t ignoreArg, size_t smoothingArg) {
  if (x.shape.size() != 3 || !x.contiguous() || !isFloat(x.dtype))
    args.fail("argument 'logits' must be a contiguous float [N, C, S] tensor, got " +
              std::string(dtypeName(x.dtype)) + " " + x.shapeString());
  CeProblem P;
  P.N = x.shape[0];
  P.C = x.shape[1];
  P.S = x.shape[2];
  if (P.C == 0) args.fail("logits " + x.shapeString() + " have no classes");
  P.probs = target.dtype != DType::int32;
  if (P.probs) {
    if (target.shape != x.shape || target.dtype != x.dtype || !target.contiguous())
      args.fail("probability targets must be a contiguous " + std::string(dtypeName(x.dtype)) + " tensor of shape " +
                x.shapeString() + ", got " + dtypeName(target.dtype) + " " + target.shapeString());
  } else if (target.shape != std::vector<int64_t>{P.N, P.S} || !target.contiguous()) {
    args.fail("class-index targets must be a contiguous int32 [" + std::to_string(P.N) + ", " + std::to_string(P.S) +
              "] tensor, got " + target.shapeString());
  }
  if (!args.isNullish(weightArg)) {
    TensorArg w = deviceTensor(args, info, weightArg, "weight");
    if (w.shape != std::vector<int64_t>{P.C} || w.dtype != x.dtype)
      args.fail("weight must be " + std::string(dtypeName(x.dtype)) + " [" + std::to_string(P.C) + "], got " +
                dtypeName(w.dtype) + " " + w.shapeString());
    P.w = w.data;
    P.ws = w.strides[0];
  }
  P.ignore = args.integer(ignoreArg, "ignoreIndex");
  P.smoothing = args.number(smoothingArg, "labelSmoothing");
  if (!(P.smoothing >= 0 && P.smoothing <= 1))
    args.fail("labelSmoothing must be in [0, 1], got " + std::to_string(P.smoothing));
  requireRows(args, P.N * P.S);
  return P;
}

void requireNS(Args& args, const TensorArg& t, const char* name, int64_t N, int64_t S, DType dtype) {
  requireShape(args, t, name, {N, S}, dtype);
}

// Returns the 'mean' denominator, as the CPU (targets are checked on the device: one sync).
Napi::Value crossEntropyForward(const Napi::CallbackInfo& info) {
  Args args(info, "crossEntropyForward", 7);
  TensorArg loss = deviceTensor(args, info, 0, "loss"), lse = deviceTensor(args, info, 1, "lse"),
            x = deviceTensor(args, info, 2, "logits"), target = deviceTensor(args, info, 3, "target");
  CeProblem P = parseCe(args, info, x, target, 4, 5, 6);
  double denom = static_cast<double>(P.N * P.S);
  if (!P.probs) {
    long long bad = 0;
    int first = 0;
    denom = ceTargets(target.ptr<int32_t>(), P.N * P.S, P.C, P.ignore, P.w, P.ws, x.dtype == DType::float32, bad,
                      first);
    if (bad > 0)
      args.fail("target " + std::to_string(first) + " is out of range for " + std::to_string(P.C) +
                " classes (ignoreIndex " + std::to_string(P.ignore) + ")");
  }
  requireNS(args, loss, "loss", P.N, P.S, x.dtype);
  requireNS(args, lse, "lse", P.N, P.S, x.dtype);
  launchCrossEntropyForward(dt(x.dtype), P.N, P.C, P.S, P.probs, P.ignore, P.smoothing, P.w, P.ws, x.data,
                            target.data, loss.data, lse.data);
  return Napi::Number::New(info.Env(), denom);
}

// Targets out of range (refused by the forward pass) give NaN gradients here rather than a
// second synchronising check.
Napi::Value crossEntropyBackward(const Napi::CallbackInfo& info) {
  Args args(info, "crossEntropyBackward", 9);
  TensorArg gx = deviceTensor(args, info, 0, "gradLogits"), x = deviceTensor(args, info, 1, "logits"),
            target = deviceTensor(args, info, 2, "target");
  CeProblem P = parseCe(args, info, x, target, 3, 7, 8);
  TensorArg lse = deviceTensor(args, info, 4, "lse"), gl = deviceTensor(args, info, 5, "gradLoss");
  const double scale = args.number(6, "scale");
  requireNS(args, lse, "lse", P.N, P.S, x.dtype);
  if (gl.shape != std::vector<int64_t>{P.N, P.S} || gl.dtype != x.dtype)
    args.fail("gradLoss must be a " + std::string(dtypeName(x.dtype)) + " [" + std::to_string(P.N) + ", " +
              std::to_string(P.S) + "] view, got " + dtypeName(gl.dtype) + " " + gl.shapeString());
  if (gx.shape != x.shape || gx.dtype != x.dtype || !gx.contiguous())
    args.fail("gradLogits must be a contiguous tensor like logits " + x.shapeString() + ", got " + gx.shapeString());
  launchCrossEntropyBackward(dt(x.dtype), P.N, P.C, P.S, P.probs, P.ignore, P.smoothing, P.w, P.ws, x.data,
                             target.data, lse.data, gl.data, gl.strides[0], gl.strides[1], scale, gx.data);
  return info.Env().Undefined();
}

// ---- optimizers ----

std::string quoted(const char* name) { return std::string("argument '") + name + "'"; }

TensorArg floatTensor(const Args& args, const Napi::CallbackInfo& info, size_t i, const char* name) {
  TensorArg t = deviceTensor(args, info, i, name);
  if (t.dtype != DType::float32 && t.dtype != DType::float64)
    args.fail(quoted(name) + " must be float32 or float64, got " + dtypeName(t.dtype));
  if (!t.contiguous()) args.fail(quoted(name) + " must be contiguous, got shape " + t.shapeString());
  return t;
}

TensorArg matching(const Args& args, const Napi::CallbackInfo& info, size_t i, const char* name, const TensorArg& ref,
                   const char* refName) {
  TensorArg t = deviceTensor(args, info, i, name);
  if (t.shape != ref.shape)
    args.fail(quoted(name) + " has shape " + t.shapeString() + " but '" + refName + "' has shape " + ref.shapeString());
  if (t.dtype != ref.dtype)
    args.fail(quoted(name) + " is " + dtypeName(t.dtype) + " but '" + refName + "' is " + dtypeName(ref.dtype));
  if (!t.contiguous()) args.fail(quoted(name) + " must be contiguous, got shape " + t.shapeString());
  return t;
}

double finite(const Args& args, size_t i, const char* name) {
  double v = args.number(i, name);
  if (!std::isfinite(v)) args.fail(quoted(name) + " must be finite, got " + std::to_string(v));
  return v;
}
double nonNegative(const Args& args, size_t i, const char* name) {
  double v = finite(args, i, name);
  if (v < 0) args.fail(quoted(name) + " must be >= 0, got " + std::to_string(v));
  return v;
}
double unitInterval(const Args& args, size_t i, const char* name) {
  double v = finite(args, i, name);
  if (v < 0 || v >= 1) args.fail(quoted(name) + " must be in [0, 1), got " + std::to_string(v));
  return v;
}

Napi::Value sgdStep(const Napi::CallbackInfo& info) {
  Args args(info, "sgdStep", 10);
  TensorArg p = floatTensor(args, info, 0, "param");
  TensorArg g = matching(args, info, 1, "grad", p, "param");
  const bool hasBuf = !args.isNullish(2);
  TensorArg buf;
  if (hasBuf) buf = matching(args, info, 2, "momentumBuffer", p, "param");
  const double lr = nonNegative(args, 3, "lr");
  const double mom = nonNegative(args, 4, "momentum");
  const double dampening = finite(args, 5, "dampening");
  const double wd = nonNegative(args, 6, "weightDecay");
  const bool nesterov = args.boolean(7, "nesterov");
  const double gsign = args.boolean(8, "maximize") ? -1.0 : 1.0;
  const bool first = args.boolean(9, "firstStep");
  if (hasBuf != (mom != 0))
    args.fail(hasBuf ? "argument 'momentumBuffer' must be null when momentum is 0"
                     : "argument 'momentumBuffer' is required when momentum is non-zero");
  if (nesterov && (mom <= 0 || dampening != 0)) args.fail("nesterov momentum needs momentum > 0 and dampening 0");
  launchSgd(dt(p.dtype), p.data, g.data, hasBuf ? buf.data : nullptr, p.numel(), gsign, wd, mom, 1.0 - dampening, lr,
            1.0, false, nesterov, first);
  return info.Env().Undefined();
}

Napi::Value larsStep(const Napi::CallbackInfo& info) {
  Args args(info, "larsStep", 13);
  TensorArg p = floatTensor(args, info, 0, "param");
  TensorArg g = matching(args, info, 1, "grad", p, "param");
  const bool hasBuf = !args.isNullish(2);
  TensorArg buf;
  if (hasBuf) buf = matching(args, info, 2, "momentumBuffer", p, "param");
  const double lr = nonNegative(args, 3, "lr");
  const double mom = nonNegative(args, 4, "momentum");
  const double dampening = finite(args, 5, "dampening");
  const double wd = nonNegative(args, 6, "weightDecay");
  const bool nesterov = args.boolean(7, "nesterov");
  const double tc = nonNegative(args, 8, "trustCoefficient");
  const double eps = nonNegative(args, 9, "eps");
  const bool trustClip = args.boolean(10, "trustClip");
  const bool adapt = args.boolean(11, "adapt");
  const bool first = args.boolean(12, "firstStep");
  if (hasBuf != (mom != 0))
    args.fail(hasBuf ? "argument 'momentumBuffer' must be null when momentum is 0"
                     : "argument 'momentumBuffer' is required when momentum is non-zero");
  if (nesterov && (mom <= 0 || dampening != 0)) args.fail("nesterov momentum needs momentum > 0 and dampening 0");
  if (trustClip && adapt && lr <= 0) args.fail("trustClip divides the trust ratio by lr, which must be > 0");
  double trust = 1.0;
  if (adapt && p.numel() > 0) {
    const double wn = std::sqrt(normPow(dt(p.dtype), p.data, p.numel(), 0, 2));
    const double gn = std::sqrt(normPow(dt(g.dtype), g.data, g.numel(), 0, 2));
    if (wn > 0 && gn > 0) trust = tc * wn / (gn + wn * wd + eps);
    if (trustClip) trust = std::min(trust / lr, 1.0);
  }
  launchSgd(dt(p.dtype), p.data, g.data, hasBuf ? buf.data : nullptr, p.numel(), 1.0, wd, mom, 1.0 - dampening, lr,
            trust, adapt, nesterov, first);
  return Napi::Number::New(info.Env(), trust);
}

template <bool Decoupled>
Napi::Value adamStepImpl(const Napi::CallbackInfo& info) {
  Args args(info, Decoupled ? "adamwStep" : "adamStep", 12);
  TensorArg p = floatTensor(args, info, 0, "param");
  TensorArg g = matching(args, info, 1, "grad", p, "param");
  TensorArg m = matching(args, info, 2, "expAvg", p, "param");
  TensorArg v = matching(args, info, 3, "expAvgSq", p, "param");
  const bool ams = !args.isNullish(4);
  TensorArg vmax;
  if (ams) vmax = matching(args, info, 4, "maxExpAvgSq", p, "param");
  const double lr = nonNegative(args, 5, "lr");
  const double b1 = unitInterval(args, 6, "beta1");
  const double b2 = unitInterval(args, 7, "beta2");
  const double eps = nonNegative(args, 8, "eps");
  const double wd = nonNegative(args, 9, "weightDecay");
  const int64_t step = args.integer(10, "step");
  const bool maximize = args.boolean(11, "maximize");
  if (step < 1)
    args.fail("argument 'step' must be >= 1 (the step count after this update), got " + std::to_string(step));
  launchAdam(dt(p.dtype), Decoupled, p.data, g.data, m.data, v.data, ams ? vmax.data : nullptr, p.numel(), lr, b1, b2,
             eps, wd, step, maximize);
  return info.Env().Undefined();
}

Napi::Value adamStep(const Napi::CallbackInfo& info) { return adamStepImpl<false>(info); }
Napi::Value adamwStep(const Napi::CallbackInfo& info) { return adamStepImpl<true>(info); }

Napi::Value emaUpdate(const Napi::CallbackInfo& info) {
  Args args(info, "emaUpdate", 3);
  TensorArg e = floatTensor(args, info, 0, "ema");
  TensorArg x = matching(args, info, 1, "src", e, "ema");
  const double decay = finite(args, 2, "decay");
  if (decay < 0 || decay > 1) args.fail("argument 'decay' must be in [0, 1], got " + std::to_string(decay));
  launchEma(dt(e.dtype), e.data, x.data, e.numel(), decay);
  return info.Env().Undefined();
}

Napi::Value optimNormPow(const Napi::CallbackInfo& info) {
  Args args(info, "optimNormPow", 2);
  TensorArg x = floatTensor(args, info, 0, "x");
  const double p = args.number(1, "p");
  if (!(p > 0)) args.fail("argument 'p' must be > 0 or Infinity, got " + std::to_string(p));
  const int kind = std::isinf(p) ? 3 : p == 2 ? 0 : p == 1 ? 1 : 2;
  return Napi::Number::New(info.Env(), normPow(dt(x.dtype), x.data, x.numel(), kind, p));
}

Napi::Value optimScale(const Napi::CallbackInfo& info) {
  Args args(info, "optimScale", 2);
  TensorArg x = floatTensor(args, info, 0, "x");
  const double c = finite(args, 1, "c");
  launchScale(dt(x.dtype), x.data, x.numel(), c);
  return info.Env().Undefined();
}

}  // namespace

IV_EXPORT("attentionForward", attentionForward);
IV_EXPORT("attentionBackward", attentionBackward);
IV_EXPORT("softmaxForward", softmaxForward);
IV_EXPORT("softmaxBackward", softmaxBackward);
IV_EXPORT("layerNormForward", layerNormForward);
IV_EXPORT("layerNormBackward", layerNormBackward);
IV_EXPORT("crossEntropyForward", crossEntropyForward);
IV_EXPORT("crossEntropyBackward", crossEntropyBackward);
IV_EXPORT("sgdStep", sgdStep);
IV_EXPORT("larsStep", larsStep);
IV_EXPORT("adamStep", adamStep);
IV_EXPORT("adamwStep", adamwStep);
IV_EXPORT("emaUpdate", emaUpdate);
IV_EXPORT("optimNormPow", optimNormPow);
IV_EXPORT("optimScale", optimScale);

}  // namespace cuda
}  // namespace iv
