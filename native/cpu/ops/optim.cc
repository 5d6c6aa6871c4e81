// Fused optimizer kernels: one call updates one parameter and its state in a single pass
// over memory (the update is bandwidth-bound, so one pass instead of PyTorch's five or six
// elementwise ops is the whole win). The arithmetic mirrors torch 1.13's single-tensor
// CPU path operation by operation, in the tensor's own precision, with scalars rounded to
// it the way torch rounds a Python float, so float32 trajectories track PyTorch's closely.
// Reductions (LARS norms, gradient norms) sum fixed blocks and add the block sums in order,
// so results do not depend on the thread count or scheduling: a resumed run is bit-exact.
#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>
#include "../../binding/optim_args.h"
#include "../../binding/registry.h"
#include "../parallel.h"

namespace iv {
namespace {

constexpr int64_t kGrain = 1 << 15;      // elements per parallel chunk: amortises a worker wake-up
constexpr int64_t kNormBlock = 1 << 14;  // elements per partial sum of a reduction

template <class F>
void withBool(bool v, F&& f) {
  if (v) f(std::true_type{});
  else f(std::false_type{});
}

// ---- reductions ----

enum class NormKind { sumSquares, sumAbs, sumPow, maxAbs };

template <class T>
double blockReduce(const T* x, int64_t lo, int64_t hi, NormKind kind, double p) {
  // Eight accumulators: independent chains the compiler can keep in vector lanes.
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = lo;
  switch (kind) {
    case NormKind::sumSquares:
      for (; i + 8 <= hi; i += 8)
        for (int j = 0; j < 8; j++) {
          const double v = static_cast<double>(x[i + j]);
          acc[j] += v * v;
        }
      for (; i < hi; i++) acc[0] += static_cast<double>(x[i]) * static_cast<double>(x[i]);
      break;
    case NormKind::sumAbs:
      for (; i + 8 <= hi; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += std::fabs(static_cast<double>(x[i + j]));
      for (; i < hi; i++) acc[0] += std::fabs(static_cast<double>(x[i]));
      break;
    case NormKind::sumPow:
      for (; i < hi; i++) acc[0] += std::pow(std::fabs(static_cast<double>(x[i])), p);
      break;
    case NormKind::maxAbs: {
      double m = 0;
      for (; i < hi; i++) {
        const double v = std::fabs(static_cast<double>(x[i]));
        if (v > m || v != v) m = v;  // NaN wins, as in torch.norm
        if (m != m) break;
      }
      return m;
    }
  }
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

template <class T>
double reduceNorm(const T* x, int64_t n, NormKind kind, double p) {
  const int64_t blocks = (n + kNormBlock - 1) / kNormBlock;
  std::vector<double> part(static_cast<size_t>(blocks), 0.0);
  parallelFor(blocks, 2, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; k++) {
      const int64_t lo = k * kNormBlock, hi = std::min(n, lo + kNormBlock);
      part[static_cast<size_t>(k)] = blockReduce<T>(x, lo, hi, kind, p);
    }
  });
  double total = 0;
  for (double v : part) {
    if (kind == NormKind::maxAbs) {
      if (v > total || v != v) total = v;
      if (total != total) break;
    } else {
      total += v;
    }
  }
  return total;
}

// ---- SGD (torch.optim.SGD, _single_tensor_sgd) ----

template <class T, bool WD, bool Scaled, bool Mom, bool First, bool Nest>
void sgdLoop(T* p, const T* g, T* buf, int64_t n, T gsign, T wd, T mom, T damp1, T negLr, T trust) {
  parallelFor(n, kGrain, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) {
      T d = gsign * g[i];  // maximize negates the gradient, exactly
      if (WD) d = d + wd * p[i];
      if (Scaled) d = d * trust;  // LARS's layer-wise trust ratio
      if (Mom) {
        // First step: the buffer is a copy of d_p, with no dampening (torch's rule).
        const T m = First ? d : buf[i] * mom + damp1 * d;
        buf[i] = m;
        d = Nest ? d + mom * m : m;
      }
      p[i] = p[i] + negLr * d;
    }
  });
}

struct SgdScalars {
  double gsign, wd, mom, damp1, lr, trust;
  bool scaled, nesterov, first;
};

template <class T>
void runSgd(const TensorArg& p, const TensorArg& g, const TensorArg* buf, const SgdScalars& s) {
  T* bp = buf ? buf->ptr<T>() : nullptr;
  const bool hasMom = buf != nullptr;
  withBool(s.wd != 0, [&](auto W) {
    withBool(s.scaled, [&](auto S) {
      withBool(hasMom, [&](auto M) {
        withBool(hasMom && s.first, [&](auto F) {
          withBool(hasMom && s.nesterov, [&](auto N) {
            sgdLoop<T, decltype(W)::value, decltype(S)::value, decltype(M)::value, decltype(F)::value,
                    decltype(N)::value>(p.ptr<T>(), g.ptr<T>(), bp, p.numel(), T(s.gsign), T(s.wd), T(s.mom),
                                        T(s.damp1), T(-s.lr), T(s.trust));
          });
        });
      });
    });
  });
}

// sgdStep(param, grad, momentumBuffer | null, lr, momentum, dampening, weightDecay, nesterov,
//         maximize, firstStep). The buffer is null exactly when momentum is 0.
Napi::Value sgdStep(const Napi::CallbackInfo& info) {
  Args args(info, "sgdStep", 10);
  const SgdArgs a = parseSgdArgs(args);
  SgdScalars s{};
  s.lr = a.lr;
  s.mom = a.momentum;
  s.wd = a.weightDecay;
  s.nesterov = a.nesterov;
  s.gsign = a.maximize ? -1.0 : 1.0;
  s.first = a.firstStep;
  s.damp1 = 1.0 - a.dampening;
  s.trust = 1.0;
  s.scaled = false;
  if (a.param.numel() == 0) return info.Env().Undefined();
  const TensorArg* buf = a.hasBuffer ? &a.momentumBuffer : nullptr;
  if (a.param.dtype == DType::float32) runSgd<float>(a.param, a.grad, buf, s);
  else runSgd<double>(a.param, a.grad, buf, s);
  return info.Env().Undefined();
}

// larsStep(param, grad, momentumBuffer | null, lr, momentum, dampening, weightDecay, nesterov,
//          trustCoefficient, eps, trustClip, adapt, firstStep) -> the trust ratio used.
// timm's Lars: when adapting, d = (g + wd p) * tc |p| / (|g| + wd |p| + eps) (1 where either
// norm is 0; divided by lr and capped at 1 with trustClip), then SGD momentum on d.
Napi::Value larsStep(const Napi::CallbackInfo& info) {
  Args args(info, "larsStep", 13);
  const LarsArgs a = parseLarsArgs(args);
  const TensorArg &p = a.param, &g = a.grad;
  SgdScalars s{};
  s.lr = a.lr;
  s.mom = a.momentum;
  s.wd = a.weightDecay;
  s.nesterov = a.nesterov;
  s.first = a.firstStep;
  s.gsign = 1.0;
  s.damp1 = 1.0 - a.dampening;
  double trust = 1.0;
  if (a.adapt && p.numel() > 0) {
    const bool f32 = p.dtype == DType::float32;
    const double wn = std::sqrt(f32 ? reduceNorm(p.ptr<float>(), p.numel(), NormKind::sumSquares, 2)
                                    : reduceNorm(p.ptr<double>(), p.numel(), NormKind::sumSquares, 2));
    const double gn = std::sqrt(f32 ? reduceNorm(g.ptr<float>(), g.numel(), NormKind::sumSquares, 2)
                                    : reduceNorm(g.ptr<double>(), g.numel(), NormKind::sumSquares, 2));
    if (wn > 0 && gn > 0) trust = a.trustCoefficient * wn / (gn + wn * s.wd + a.eps);
    if (a.trustClip) trust = std::min(trust / s.lr, 1.0);
  }
  s.trust = trust;
  s.scaled = a.adapt;
  if (p.numel() > 0) {
    const TensorArg* buf = a.hasBuffer ? &a.momentumBuffer : nullptr;
    if (p.dtype == DType::float32) runSgd<float>(p, g, buf, s);
    else runSgd<double>(p, g, buf, s);
  }
  return Napi::Number::New(info.Env(), trust);
}

// ---- Adam / AdamW (torch 1.13 _single_tensor_adam / _single_tensor_adamw) ----

struct AdamScalars {
  double gsign, decay, wd, b1, omb1, b2, omb2, bc2sqrt, eps, negStepSize;
};

template <class T, bool Decoupled, bool WD, bool Ams>
void adamLoop(T* p, const T* g, T* m, T* v, T* vmax, int64_t n, const AdamScalars& sc) {
  const T gsign = T(sc.gsign), decay = T(sc.decay), wd = T(sc.wd), b1 = T(sc.b1), omb1 = T(sc.omb1), b2 = T(sc.b2),
          omb2 = T(sc.omb2), bc2sqrt = T(sc.bc2sqrt), eps = T(sc.eps), negStep = T(sc.negStepSize);
  parallelFor(n, kGrain, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) {
      T gi = gsign * g[i];
      T pi = p[i];
      if (Decoupled) {
        if (WD) pi = pi * decay;  // param.mul_(1 - lr * weight_decay)
      } else if (WD) {
        gi = gi + wd * pi;  // grad.add(param, alpha=weight_decay)
      }
      const T mi = m[i] * b1 + omb1 * gi;       // exp_avg.mul_(beta1).add_(grad, alpha=1-beta1)
      const T vi = v[i] * b2 + omb2 * gi * gi;  // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1-beta2)
      m[i] = mi;
      v[i] = vi;
      T vv = vi;
      if (Ams) {
        const T vm = vmax[i];
        vv = (vm < vi || vi != vi) ? vi : vm;  // torch.maximum, NaN from either side propagates
        vmax[i] = vv;
      }
      const T denom = std::sqrt(vv) / bc2sqrt + eps;
      p[i] = pi + negStep * mi / denom;  // param.addcdiv_(exp_avg, denom, value=-step_size)
    }
  });
}

// adamStep / adamwStep(param, grad, expAvg, expAvgSq, maxExpAvgSq | null, lr, beta1, beta2,
//                      eps, weightDecay, step, maximize). step is the count after this update
// (1 on the first call); amsgrad is on exactly when maxExpAvgSq is given.
template <bool Decoupled>
Napi::Value adamStepImpl(const Napi::CallbackInfo& info) {
  Args args(info, Decoupled ? "adamwStep" : "adamStep", 12);
  const AdamArgs a = parseAdamArgs(args);
  const int64_t n = a.param.numel();
  if (n == 0) return info.Env().Undefined();
  const double lr = a.lr, b1 = a.beta1, b2 = a.beta2, wd = a.weightDecay;
  AdamScalars sc{};
  sc.gsign = a.maximize ? -1.0 : 1.0;
  sc.decay = 1.0 - lr * wd;
  sc.wd = wd;
  sc.b1 = b1;
  sc.omb1 = 1.0 - b1;
  sc.b2 = b2;
  sc.omb2 = 1.0 - b2;
  const double bc1 = 1.0 - std::pow(b1, static_cast<double>(a.step));
  const double bc2 = 1.0 - std::pow(b2, static_cast<double>(a.step));
  sc.bc2sqrt = std::sqrt(bc2);
  sc.eps = a.eps;
  sc.negStepSize = -(lr / bc1);
  auto run = [&](auto tag) {
    using T = decltype(tag);
    T* vm = a.amsgrad ? a.maxExpAvgSq.ptr<T>() : nullptr;
    withBool(wd != 0, [&](auto W) {
      withBool(a.amsgrad, [&](auto A) {
        adamLoop<T, Decoupled, decltype(W)::value, decltype(A)::value>(a.param.ptr<T>(), a.grad.ptr<T>(),
                                                                        a.expAvg.ptr<T>(), a.expAvgSq.ptr<T>(), vm, n,
                                                                        sc);
      });
    });
  };
  if (a.param.dtype == DType::float32) run(float{});
  else run(double{});
  return info.Env().Undefined();
}

Napi::Value adamStep(const Napi::CallbackInfo& info) { return adamStepImpl<false>(info); }
Napi::Value adamwStep(const Napi::CallbackInfo& info) { return adamStepImpl<true>(info); }

// ---- EMA of weights (timm ModelEmaV2: ema = ema * decay + (1 - decay) * model) ----

template <class T>
void emaLoop(T* e, const T* x, int64_t n, T decay, T omd) {
  parallelFor(n, kGrain, [=](int64_t b, int64_t end) {
    for (int64_t i = b; i < end; i++) e[i] = e[i] * decay + omd * x[i];
  });
}

// emaUpdate(ema, src, decay)
Napi::Value emaUpdate(const Napi::CallbackInfo& info) {
  Args args(info, "emaUpdate", 3);
  const EmaArgs a = parseEmaArgs(args);
  const int64_t n = a.ema.numel();
  if (n == 0) return info.Env().Undefined();
  if (a.ema.dtype == DType::float32)
    emaLoop<float>(a.ema.ptr<float>(), a.src.ptr<float>(), n, float(a.decay), float(1.0 - a.decay));
  else
    emaLoop<double>(a.ema.ptr<double>(), a.src.ptr<double>(), n, a.decay, 1.0 - a.decay);
  return info.Env().Undefined();
}

// ---- gradient clipping ----

// optimNormPow(x, p) -> sum |x|^p (p > 0 finite), or max |x| (p = Infinity): the per-tensor
// part of a global norm, so that the total over tensors is (sum of parts)^(1/p).
Napi::Value optimNormPow(const Napi::CallbackInfo& info) {
  Args args(info, "optimNormPow", 2);
  const NormPowArgs a = parseNormPowArgs(args);
  const TensorArg& x = a.x;
  const double p = a.p;
  NormKind kind = std::isinf(p) ? NormKind::maxAbs : p == 2 ? NormKind::sumSquares : p == 1 ? NormKind::sumAbs
                                                                                           : NormKind::sumPow;
  double r = 0;
  if (x.numel() > 0)
    r = x.dtype == DType::float32 ? reduceNorm(x.ptr<float>(), x.numel(), kind, p)
                                  : reduceNorm(x.ptr<double>(), x.numel(), kind, p);
  return Napi::Number::New(info.Env(), r);
}

template <class T>
void scaleLoop(T* x, int64_t n, T c) {
  parallelFor(n, kGrain, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) x[i] = x[i] * c;
  });
}

// optimScale(x, c): x *= c in place.
Napi::Value optimScale(const Napi::CallbackInfo& info) {
  Args args(info, "optimScale", 2);
  const ScaleArgs a = parseScaleArgs(args);
  const int64_t n = a.x.numel();
  if (n == 0) return info.Env().Undefined();
  if (a.x.dtype == DType::float32) scaleLoop<float>(a.x.ptr<float>(), n, float(a.c));
  else scaleLoop<double>(a.x.ptr<double>(), n, a.c);
  return info.Env().Undefined();
}

}  // namespace

IV_EXPORT("sgdStep", sgdStep);
IV_EXPORT("larsStep", larsStep);
IV_EXPORT("adamStep", adamStep);
IV_EXPORT("adamwStep", adamwStep);
IV_EXPORT("emaUpdate", emaUpdate);
IV_EXPORT("optimNormPow", optimNormPow);
IV_EXPORT("optimScale", optimScale);

}  // namespace iv
