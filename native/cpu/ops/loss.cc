// Cross-entropy with the softmax fused in: the forward pass computes each position's
// logsumexp and loss in one sweep over the classes and saves only the logsumexp; the
// backward pass recomputes the probabilities from it and writes the logits' gradient
// directly. Logits arrive as a contiguous [N, C, S] view (S = spatial size, 1 for plain
// classification); targets are class indices (int32 [N, S]) or probabilities (float
// [N, C, S]). With label smoothing e, weights w and C classes, per position:
//   class index y: loss = (1 - e) * w[y] * (lse - x[y]) + e / C * sum_c w[c] * (lse - x[c])
//   probabilities t: loss = sum_c w[c] * t'[c] * (lse - x[c]),  t' = (1 - e) * t + e / C
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>
#include "../../binding/loss_args.h"
#include "../../binding/registry.h"
#include "../cpu_features.h"
#include "../parallel.h"
#include "rows_simd.h"
#include "vmath.h"

namespace iv {
namespace {

constexpr int64_t kBlock = 64;  // positions reduced together when S > 1

struct Problem {
  int64_t N, C, S;
  bool probs;
  int64_t ignore;
  double smoothing;
  std::vector<double> w;  // class weights (ones when absent)
  double wsum;
};

// float32 rows run on the widest instruction set (simdRows), else on vmath's baseline.
inline double expSum(const float* x, float* scratch, int64_t n, float m) {
  return simdRows() ? simdRows()->expSum(x, n, m) : expSubRow(x, scratch, n, m);
}
inline double expSum(const double* x, double*, int64_t n, double m) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += std::exp(x[i] - m);
  return s;
}
inline float maxOf(const float* x, int64_t n) { return simdRows() ? simdRows()->max(x, n) : maxRow(x, n); }
inline double maxOf(const double* x, int64_t n) {
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
  return m;
}

// The loss at one position from its logsumexp; xs is the class stride (S).
template <class T>
double positionLoss(const Problem& P, const T* x, int64_t xs, const T* t, int32_t y, double lse) {
  const double e = P.smoothing, C = static_cast<double>(P.C);
  if (P.probs) {
    double a = 0, b = 0;
    for (int64_t c = 0; c < P.C; c++) {
      const double tw = P.w[c] * ((1 - e) * t[c * xs] + e / C);
      a += tw;
      b += tw * x[c * xs];
    }
    return lse * a - b;
  }
  if (y == P.ignore) return 0;
  double loss = (1 - e) * P.w[y] * (lse - x[y * xs]);
  if (e > 0) {
    double wx = 0;
    for (int64_t c = 0; c < P.C; c++) wx += P.w[c] * x[c * xs];
    loss += e / C * (lse * P.wsum - wx);
  }
  return loss;
}

template <class T>
void forwardImpl(const Problem& P, const T* x, const T* tp, const int32_t* ti, T* loss, T* lse) {
  const int64_t N = P.N, C = P.C, S = P.S;
  if (S == 1) {
    parallelFor(N, std::max<int64_t>(1, 4096 / std::max<int64_t>(C, 1)), [&](int64_t n0, int64_t n1) {
      std::vector<T> scratch(C);
      for (int64_t n = n0; n < n1; n++) {
        const T* row = x + n * C;
        const T m = maxOf(row, C);
        const double l = m + std::log(expSum(row, scratch.data(), C, m));
        lse[n] = static_cast<T>(l);
        loss[n] = static_cast<T>(positionLoss(P, row, 1, P.probs ? tp + n * C : nullptr, P.probs ? 0 : ti[n], l));
      }
    });
    return;
  }
  const int64_t blocks = (S + kBlock - 1) / kBlock;
  parallelFor(N * blocks, 1, [&](int64_t q0, int64_t q1) {
    double m[kBlock], s[kBlock];
    for (int64_t q = q0; q < q1; q++) {
      const int64_t n = q / blocks, s0 = (q % blocks) * kBlock, len = std::min(kBlock, S - s0);
      const T* base = x + n * C * S + s0;
      for (int64_t i = 0; i < len; i++) m[i] = -std::numeric_limits<double>::infinity(), s[i] = 0;
      for (int64_t c = 0; c < C; c++)
        for (int64_t i = 0; i < len; i++) m[i] = std::max(m[i], static_cast<double>(base[c * S + i]));
      for (int64_t c = 0; c < C; c++)
        for (int64_t i = 0; i < len; i++) s[i] += std::exp(base[c * S + i] - m[i]);
      for (int64_t i = 0; i < len; i++) {
        const int64_t pos = n * S + s0 + i;
        const double l = m[i] + std::log(s[i]);
        lse[pos] = static_cast<T>(l);
        loss[pos] = static_cast<T>(
            positionLoss(P, base + i, S, P.probs ? tp + n * C * S + s0 + i : nullptr, P.probs ? 0 : ti[pos], l));
      }
    }
  });
}

// d loss / d x[c] = g * (p[c] * k - extra[c]) with p = softmax(x):
//   class index: k = (1 - e) w[y] + e / C * sum(w), extra[c] = (1 - e) w[y] [c == y] + e / C * w[c]
//   probabilities: k = sum_c w[c] t'[c], extra[c] = w[c] t'[c]
template <class T>
void positionGrad(const Problem& P, const T* x, int64_t xs, const T* t, int32_t y, double lse, double g, T* out) {
  const double e = P.smoothing, C = static_cast<double>(P.C);
  if (!P.probs && y == P.ignore) {
    for (int64_t c = 0; c < P.C; c++) out[c * xs] = 0;
    return;
  }
  double k = 0;
  if (P.probs)
    for (int64_t c = 0; c < P.C; c++) k += P.w[c] * ((1 - e) * t[c * xs] + e / C);
  else
    k = (1 - e) * P.w[y] + e / C * P.wsum;
  for (int64_t c = 0; c < P.C; c++) {
    const double p = std::exp(x[c * xs] - lse);
    const double extra = P.probs ? P.w[c] * ((1 - e) * t[c * xs] + e / C) : e / C * P.w[c];
    out[c * xs] = static_cast<T>(g * (p * k - extra));
  }
  if (!P.probs) out[y * xs] = static_cast<T>(out[y * xs] - g * (1 - e) * P.w[y]);
}

// out[c] = a * exp(x[c] - sub) - b * w[c] over one float32 row, in vectors.
void scaledExpRow(const float* x, float* out, int64_t n, float sub, float a, float b, const float* w) {
  if (simdRows()) return simdRows()->scaledExp(x, out, n, sub, a, b, w);
  int64_t c = 0;
  for (; c + kVF <= n; c += kVF) vstore(out + c, a * vexp(vload(x + c) - sub) - b * vload(w + c));
  for (; c < n; c++) out[c] = a * sexp(x[c] - sub) - b * w[c];
}

// Class-index targets over plain [N, C] rows in float32: the probabilities in vectors, the
// smoothing term and the target's own term after them.
void backwardRowsF(const Problem& P, const float* x, const int32_t* ti, const float* lse, const float* pg, int64_t gs,
                   double scale, float* gx) {
  const int64_t C = P.C;
  const double e = P.smoothing;
  const std::vector<float> w(P.w.begin(), P.w.end());
  parallelFor(P.N, std::max<int64_t>(1, 4096 / C), [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; n++) {
      float* out = gx + n * C;
      const int32_t y = ti[n];
      if (y == P.ignore) {
        std::fill(out, out + C, 0.0f);
        continue;
      }
      const double g = static_cast<double>(pg[n * gs]) * scale;
      const double k = (1 - e) * P.w[y] + e / static_cast<double>(C) * P.wsum;
      scaledExpRow(x + n * C, out, C, lse[n], static_cast<float>(g * k), static_cast<float>(g * e / C), w.data());
      out[y] = static_cast<float>(out[y] - g * (1 - e) * P.w[y]);
    }
  });
}

template <class T>
void backwardImpl(const Problem& P, const T* x, const T* tp, const int32_t* ti, const T* lse, const TensorArg& gl,
                  double scale, T* gx) {
  const int64_t N = P.N, C = P.C, S = P.S;
  const T* pg = gl.ptr<T>();
  const int64_t gs0 = gl.strides[0], gs1 = gl.strides[1];
  if constexpr (std::is_same_v<T, float>) {
    if (S == 1 && !P.probs) return backwardRowsF(P, x, ti, lse, pg, gs0, scale, gx);
  }
  parallelFor(N * S, std::max<int64_t>(1, 4096 / std::max<int64_t>(C, 1)), [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; q++) {
      const int64_t n = q / S, s = q % S, off = n * C * S + s;
      const double g = static_cast<double>(pg[n * gs0 + s * gs1]) * scale;
      positionGrad(P, x + off, S, P.probs ? tp + off : nullptr, P.probs ? 0 : ti[q], lse[q], g, gx + off);
    }
  });
}

// The kernels' view of parsed arguments (native/binding/loss_args.cc): weights read into
// doubles, class-index targets checked against the class count.
Problem problemOf(Args& args, const CrossEntropyArgs& a) {
  Problem P;
  P.N = a.N, P.C = a.C, P.S = a.S;
  P.probs = a.probs;
  P.ignore = a.ignoreIndex;
  P.smoothing = a.labelSmoothing;
  P.w.assign(P.C, 1.0);
  if (a.weight.data)
    for (int64_t c = 0; c < P.C; c++)
      P.w[c] = a.logits.dtype == DType::float32 ? a.weight.ptr<float>()[c * a.weight.strides[0]]
                                                : a.weight.ptr<double>()[c * a.weight.strides[0]];
  P.wsum = 0;
  for (double v : P.w) P.wsum += v;
  if (!P.probs) {
    const int32_t* t = a.target.ptr<int32_t>();
    for (int64_t i = 0; i < P.N * P.S; i++)
      if (t[i] != P.ignore && (t[i] < 0 || t[i] >= P.C))
        args.fail("target " + std::to_string(t[i]) + " is out of range for " + std::to_string(P.C) +
                  " classes (ignoreIndex " + std::to_string(P.ignore) + ")");
  }
  return P;
}

// Returns the 'mean' denominator: the summed weight of the non-ignored targets (their count
// without weights), or N * S for probability targets.
Napi::Value crossEntropyForward(const Napi::CallbackInfo& info) {
  Args args(info, "crossEntropyForward", 7);
  const CrossEntropyForwardArgs a = parseCrossEntropyForwardArgs(args);
  const Problem P = problemOf(args, a);
  const TensorArg &x = a.logits, &target = a.target;
  double denom = 0;
  if (P.probs) {
    denom = static_cast<double>(P.N * P.S);
  } else {
    const int32_t* t = target.ptr<int32_t>();
    for (int64_t i = 0; i < P.N * P.S; i++)
      if (t[i] != P.ignore) denom += P.w[t[i]];
  }
  if (x.dtype == DType::float32)
    forwardImpl<float>(P, x.ptr<float>(), target.ptr<float>(), target.ptr<int32_t>(), a.loss.ptr<float>(),
                       a.lse.ptr<float>());
  else
    forwardImpl<double>(P, x.ptr<double>(), target.ptr<double>(), target.ptr<int32_t>(), a.loss.ptr<double>(),
                        a.lse.ptr<double>());
  return Napi::Number::New(info.Env(), denom);
}

// The loss gradient arrives multiplied by `scale` (1 / denominator for 'mean').
Napi::Value crossEntropyBackward(const Napi::CallbackInfo& info) {
  Args args(info, "crossEntropyBackward", 9);
  const CrossEntropyBackwardArgs a = parseCrossEntropyBackwardArgs(args);
  const Problem P = problemOf(args, a);
  const TensorArg &x = a.logits, &target = a.target;
  if (x.dtype == DType::float32)
    backwardImpl<float>(P, x.ptr<float>(), target.ptr<float>(), target.ptr<int32_t>(), a.lse.ptr<float>(), a.gradLoss,
                        a.scale, a.gradLogits.ptr<float>());
  else
    backwardImpl<double>(P, x.ptr<double>(), target.ptr<double>(), target.ptr<int32_t>(), a.lse.ptr<double>(),
                         a.gradLoss, a.scale, a.gradLogits.ptr<double>());
  return info.Env().Undefined();
}

}  // namespace

IV_EXPORT("crossEntropyForward", crossEntropyForward);
IV_EXPORT("crossEntropyBackward", crossEntropyBackward);

}  // namespace iv
