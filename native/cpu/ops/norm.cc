// Batch, layer and group normalisation, forward and backward, one kernel each. The op layer
// passes contiguous views: batch and group norm see x as [N, C, S] (S = spatial size), layer
// norm as [M, K] (K = the normalised size). Statistics are two-pass (mean, then squared
// deviations) over one channel, row or group at a time, which stays in cache and avoids the
// cancellation of E[x^2] - E[x]^2: in double, or for float32 on the vector rows in float lanes
// added into a double every 1024 values. The output is then one fused multiply-add.
#include <cmath>
#include <string>
#include <vector>
#include "../../binding/norm_args.h"
#include "../../binding/registry.h"
#include "../parallel.h"
#include "activation.h"
#include "elementwise_fastmath.h"
#include "row_sums.h"
#include "rows_simd.h"

namespace iv {
namespace {

template <class T>
inline T at(const TensorArg& t, bool present, int64_t i, T fallback) {
  return present ? t.ptr<T>()[i * t.strides[0]] : fallback;
}

// Row primitives of the three norms: float32 rows on the vector rows (rows_simd.h) where the
// CPU has them, the double-sum loops otherwise (float64, baseline x86-64).
template <class T>
double sumSquaredDeviations(const T* x, int64_t n, double c) {
  if constexpr (std::is_same_v<T, float>)
    if (const RowsSimd* rows = simdRows()) return rows->sumSquaredDeviations(x, n, static_cast<float>(c));
  return sum8(n, [x, c](int64_t i) {
    const double d = x[i] - c;
    return d * d;
  });
}
template <class T>
double sumProductDeviations(const T* g, const T* x, int64_t n, double c) {
  if constexpr (std::is_same_v<T, float>)
    if (const RowsSimd* rows = simdRows()) return rows->sumProductDeviations(g, x, n, static_cast<float>(c));
  return sum8(n, [g, x, c](int64_t i) { return static_cast<double>(g[i]) * (x[i] - c); });
}
template <class T>
void scaleShift(const T* x, T* y, int64_t n, T a, T b) {
  if constexpr (std::is_same_v<T, float>)
    if (const RowsSimd* rows = simdRows()) return rows->scaleShift(x, y, n, a, b);
  for (int64_t i = 0; i < n; i++) y[i] = x[i] * a + b;
}
template <class T>
void normGrad(const T* g, const T* x, T* out, int64_t n, T a, T b, T c) {
  if constexpr (std::is_same_v<T, float>)
    if (const RowsSimd* rows = simdRows()) return rows->normGrad(g, x, out, n, a, b, c);
  for (int64_t i = 0; i < n; i++) out[i] = a * g[i] - b * x[i] - c;
}

// Batch norm's fused activation, in place on an output row; and g act'(pre) into out (which
// may be pre itself). float32 on the vector rows (or the fast-math ones), float64 scalar.
template <class T>
void activateRow(Act act, T* y, int64_t n) {
  if (act == Act::none) return;
  if constexpr (std::is_same_v<T, float>) {
    const RowsSimd* rows = simdRows();
    if (act == Act::relu && rows) return rows->relu(y, y, n);
    if (act == Act::gelu) return (rows ? rows->gelu : fastmath::gelu)(y, y, n);
    if (act == Act::silu) return (rows ? rows->silu : fastmath::silu)(y, y, n);
  }
  for (int64_t i = 0; i < n; i++) y[i] = activate(act, y[i]);
}
template <class T>
void activationGradRow(Act act, const T* pre, const T* g, T* out, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    const RowsSimd* rows = simdRows();
    if (act == Act::relu && rows) return rows->reluGrad(pre, g, out, n);
    if (act == Act::gelu) return (rows ? rows->geluGrad : fastmath::geluGrad)(pre, g, out, n);
    if (act == Act::silu) return (rows ? rows->siluGrad : fastmath::siluGrad)(pre, g, out, n);
  }
  for (int64_t i = 0; i < n; i++) out[i] = g[i] * activateGrad(act, pre[i]);
}

// ---- batch norm: per channel over N and S ----

template <class T>
void batchNormForwardImpl(const TensorArg& out, const TensorArg& x, const TensorArg& w, bool hasW,
                          const TensorArg& b, bool hasB, const TensorArg& rm, const TensorArg& rv, bool hasRunning,
                          const TensorArg& saveMean, const TensorArg& saveInvstd, bool training, double momentum,
                          double eps, Act act) {
  const int64_t N = x.shape[0], C = x.shape[1], S = x.shape[2], M = N * S;
  const T* px = x.ptr<T>();
  T* po = out.ptr<T>();
  parallelFor(C, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; c++) {
      double mean, invstd;
      if (training) {
        double s = 0;
        for (int64_t n = 0; n < N; n++) {
          const T* row = px + (n * C + c) * S;
          s += sumRow(row, S);
        }
        mean = s / static_cast<double>(M);
        double ss = 0;
        for (int64_t n = 0; n < N; n++) {
          const T* row = px + (n * C + c) * S;
          ss += sumSquaredDeviations(row, S, mean);
        }
        const double var = ss / static_cast<double>(M);
        invstd = 1.0 / std::sqrt(var + eps);
        if (hasRunning) {
          T* m = rm.ptr<T>() + c * rm.strides[0];
          T* v = rv.ptr<T>() + c * rv.strides[0];
          *m = static_cast<T>((1 - momentum) * *m + momentum * mean);
          *v = static_cast<T>((1 - momentum) * *v + momentum * ss / static_cast<double>(M - 1));
        }
      } else {
        mean = rm.ptr<T>()[c * rm.strides[0]];
        invstd = 1.0 / std::sqrt(static_cast<double>(rv.ptr<T>()[c * rv.strides[0]]) + eps);
      }
      saveMean.ptr<T>()[c] = static_cast<T>(mean);
      saveInvstd.ptr<T>()[c] = static_cast<T>(invstd);
      const T scale = static_cast<T>(invstd * at<T>(w, hasW, c, T(1)));
      const T shift = static_cast<T>(at<T>(b, hasB, c, T(0)) - mean * scale);
      for (int64_t n = 0; n < N; n++) {
        const T* row = px + (n * C + c) * S;
        T* orow = po + (n * C + c) * S;
        scaleShift(row, orow, S, scale, shift);
        activateRow(act, orow, S);
      }
    }
  });
}

Napi::Value batchNormForward(const Napi::CallbackInfo& info) {
  Args args(info, "batchNormForward", 12);
  const NormForwardArgs a = parseBatchNormForwardArgs(args);
  if (a.x.shape[1] == 0) return info.Env().Undefined();
  if (a.x.dtype == DType::float32)
    batchNormForwardImpl<float>(a.out, a.x, a.weight, a.hasWeight, a.bias, a.hasBias, a.runningMean, a.runningVar,
                                a.hasRunning, a.saveMean, a.saveStat, a.training, a.momentum, a.eps, a.act);
  else
    batchNormForwardImpl<double>(a.out, a.x, a.weight, a.hasWeight, a.bias, a.hasBias, a.runningMean, a.runningVar,
                                 a.hasRunning, a.saveMean, a.saveStat, a.training, a.momentum, a.eps, a.act);
  return info.Env().Undefined();
}

// With an activation, the gradient at the norm's output is gz = g act'(pre), pre = x a + b
// recomputed from x and the saved statistics: formed row by row in gx (or in a row of scratch
// when only the parameters' gradients are wanted), it stands in for g.
template <class T>
void batchNormBackwardImpl(const NormBackwardArgs& p) {
  const TensorArg &x = p.x, &g = p.grad, &gx = p.gradX, &w = p.weight, &b = p.bias;
  const bool wantX = p.wantX, training = p.training;
  const Act act = p.act;
  const int64_t N = x.shape[0], C = x.shape[1], S = x.shape[2];
  const double M = static_cast<double>(N * S);
  const T *px = x.ptr<T>(), *pg = g.ptr<T>();
  parallelFor(C, 1, [&](int64_t c0, int64_t c1) {
    static thread_local std::vector<T> scratch;
    if (act != Act::none && !wantX) scratch.resize(static_cast<size_t>(S));
    for (int64_t c = c0; c < c1; c++) {
      const double mu = p.saveMean.ptr<T>()[c], is = p.saveStat.ptr<T>()[c];
      const T scale = static_cast<T>(is * at<T>(w, p.hasWeight, c, T(1)));
      const T shift = static_cast<T>(at<T>(b, p.hasBias, c, T(0)) - mu * scale);
      // Row n of the gradient at the norm's output.
      auto gradRow = [&](int64_t n) -> const T* {
        const T* grow = pg + (n * C + c) * S;
        if (act == Act::none) return grow;
        T* z = wantX ? gx.ptr<T>() + (n * C + c) * S : scratch.data();
        scaleShift(px + (n * C + c) * S, z, S, scale, shift);
        activationGradRow(act, z, grow, z, S);
        return z;
      };
      double sg = 0, sgx = 0;
      if (training || p.wantWeight || p.wantBias || act != Act::none) {
        for (int64_t n = 0; n < N; n++) {
          const T* grow = gradRow(n);
          sg += sumRow(grow, S);
          sgx += sumProductDeviations(grow, px + (n * C + c) * S, S, mu);
        }
      }
      if (p.wantWeight) p.gradWeight.ptr<T>()[c * p.gradWeight.strides[0]] = static_cast<T>(sgx * is);
      if (p.wantBias) p.gradBias.ptr<T>()[c * p.gradBias.strides[0]] = static_cast<T>(sg);
      if (!wantX) continue;
      const double a = at<T>(w, p.hasWeight, c, T(1)) * is;
      // training: dx = a * (g - mean(g) - xhat * mean(g * xhat)), as x - mu also moves the stats
      const T ka = static_cast<T>(a);
      const T kx = training ? static_cast<T>(a * is * is * sgx / M) : T(0);
      const T k0 = training ? static_cast<T>(a * sg / M - static_cast<double>(kx) * mu) : T(0);
      for (int64_t n = 0; n < N; n++) {
        const T* row = px + (n * C + c) * S;
        T* orow = gx.ptr<T>() + (n * C + c) * S;
        // With an activation, gz is already in orow.
        normGrad(act == Act::none ? pg + (n * C + c) * S : orow, row, orow, S, ka, kx, k0);
      }
    }
  });
}

Napi::Value batchNormBackward(const Napi::CallbackInfo& info) {
  Args args(info, "batchNormBackward", 11);
  const NormBackwardArgs a = parseBatchNormBackwardArgs(args);
  if (a.x.shape[1] == 0) return info.Env().Undefined();
  if (a.x.dtype == DType::float32) batchNormBackwardImpl<float>(a);
  else batchNormBackwardImpl<double>(a);
  return info.Env().Undefined();
}

// ---- layer norm: per row of K ----

template <class T>
void rowStats(const T* p, int64_t n, double eps, double& mean, double& rstd) {
  mean = sumRow(p, n) / static_cast<double>(n);
  const double ss = sumSquaredDeviations(p, n, mean);
  rstd = 1.0 / std::sqrt(ss / static_cast<double>(n) + eps);
}

template <class T>
void layerNormForwardImpl(const TensorArg& out, const TensorArg& x, const TensorArg& w, bool hasW, const TensorArg& b,
                          bool hasB, const TensorArg& saveMean, const TensorArg& saveRstd, double eps) {
  const int64_t M = x.shape[0], K = x.shape[1];
  // Weight and bias contiguous once, so the row loop is a plain fused multiply-add.
  std::vector<T> wv(K, T(1)), bv(K, T(0));
  for (int64_t k = 0; k < K; k++) {
    wv[k] = at<T>(w, hasW, k, T(1));
    bv[k] = at<T>(b, hasB, k, T(0));
  }
  const T* px = x.ptr<T>();
  T* po = out.ptr<T>();
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(K, 1));
  if constexpr (std::is_same_v<T, float>) {
    if (const RowsSimd* rows = simdRows()) {
      parallelFor(M, grain, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; r++)
          rows->layerNorm(px + r * K, po + r * K, K, wv.data(), bv.data(), static_cast<float>(eps),
                          saveMean.ptr<float>() + r, saveRstd.ptr<float>() + r);
      });
      return;
    }
  }
  parallelFor(M, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const T* row = px + r * K;
      T* orow = po + r * K;
      double mean, rstd;
      rowStats(row, K, eps, mean, rstd);
      saveMean.ptr<T>()[r] = static_cast<T>(mean);
      saveRstd.ptr<T>()[r] = static_cast<T>(rstd);
      const T m = static_cast<T>(mean), s = static_cast<T>(rstd);
      for (int64_t k = 0; k < K; k++) orow[k] = (row[k] - m) * s * wv[k] + bv[k];
    }
  });
}

Napi::Value layerNormForward(const Napi::CallbackInfo& info) {
  Args args(info, "layerNormForward", 7);
  const NormForwardArgs a = parseLayerNormForwardArgs(args);
  if (a.x.shape[0] == 0) return info.Env().Undefined();
  if (a.x.dtype == DType::float32)
    layerNormForwardImpl<float>(a.out, a.x, a.weight, a.hasWeight, a.bias, a.hasBias, a.saveMean, a.saveStat, a.eps);
  else
    layerNormForwardImpl<double>(a.out, a.x, a.weight, a.hasWeight, a.bias, a.hasBias, a.saveMean, a.saveStat, a.eps);
  return info.Env().Undefined();
}

// The float32 backward on the vector rows. The weight and bias gradients sum over rows in
// float partial sums, one per chunk of at most 64 rows (so each rounds like a 64-term sum),
// which are added up in double afterwards; threads never share an accumulator.
void layerNormBackwardRows(const RowsSimd& rows, const TensorArg& gx, bool wantX, const TensorArg& gw, bool wantW,
                           const TensorArg& gb, bool wantB, const float* px, const float* pg, const float* w,
                           const float* mean, const float* rstd, int64_t M, int64_t K) {
  const bool params = wantW || wantB;
  const int64_t chunks = params ? std::max<int64_t>(std::min<int64_t>(M, 4 * numThreads()), (M + 63) / 64) : M;
  std::vector<float> pw(wantW ? chunks * K : 0), pb(wantB ? chunks * K : 0);
  float* pgx = wantX ? gx.ptr<float>() : nullptr;
  parallelFor(chunks, params ? 1 : std::max<int64_t>(1, 4096 / std::max<int64_t>(K, 1)), [&](int64_t a0, int64_t a1) {
    for (int64_t a = a0; a < a1; a++) {
      const int64_t r0 = params ? M * a / chunks : a, r1 = params ? M * (a + 1) / chunks : a + 1;
      for (int64_t r = r0; r < r1; r++)
        rows.layerNormGrad(px + r * K, pg + r * K, w, mean[r], rstd[r], pgx ? pgx + r * K : nullptr,
                           wantW ? pw.data() + a * K : nullptr, wantB ? pb.data() + a * K : nullptr, K);
    }
  });
  const auto total = [&](const std::vector<float>& partial, const TensorArg& out) {
    parallelFor(K, 256, [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; k++) {
        double s = 0;
        for (int64_t a = 0; a < chunks; a++) s += partial[a * K + k];
        out.ptr<float>()[k * out.strides[0]] = static_cast<float>(s);
      }
    });
  };
  if (wantW) total(pw, gw);
  if (wantB) total(pb, gb);
}

template <class T>
void layerNormBackwardImpl(const TensorArg& gx, bool wantX, const TensorArg& gw, bool wantW, const TensorArg& gb,
                           bool wantB, const TensorArg& g, const TensorArg& x, const TensorArg& w, bool hasW,
                           const TensorArg& mean, const TensorArg& rstd) {
  const int64_t M = x.shape[0], K = x.shape[1];
  std::vector<T> wv(K);
  for (int64_t k = 0; k < K; k++) wv[k] = at<T>(w, hasW, k, T(1));
  const T *px = x.ptr<T>(), *pg = g.ptr<T>();
  if constexpr (std::is_same_v<T, float>) {
    if (const RowsSimd* rows = simdRows())
      return layerNormBackwardRows(*rows, gx, wantX, gw, wantW, gb, wantB, px, pg, wv.data(), mean.ptr<float>(),
                                   rstd.ptr<float>(), M, K);
  }
  // Weight and bias gradients sum over rows: each chunk of rows fills its own partial sums,
  // added up afterwards, so threads never share an accumulator.
  const bool params = wantW || wantB;
  const int64_t chunks = params ? std::min<int64_t>(M, 4 * numThreads()) : 1;
  std::vector<double> pw(params ? chunks * K : 0), pb(params ? chunks * K : 0);
  const double invK = 1.0 / static_cast<double>(K);
  parallelFor(params ? chunks : M, 1, [&](int64_t a0, int64_t a1) {
    for (int64_t a = a0; a < a1; a++) {
      const int64_t r0 = params ? M * a / chunks : a, r1 = params ? M * (a + 1) / chunks : a + 1;
      double* accW = params ? pw.data() + a * K : nullptr;
      double* accB = params ? pb.data() + a * K : nullptr;
      for (int64_t r = r0; r < r1; r++) {
        const T *row = px + r * K, *grow = pg + r * K;
        const T mu = mean.ptr<T>()[r], rs = rstd.ptr<T>()[r];
        if (params)
          for (int64_t k = 0; k < K; k++) {
            accW[k] += static_cast<double>(grow[k]) * ((row[k] - mu) * rs);
            accB[k] += grow[k];
          }
        if (!wantX) continue;
        // dx = rstd * (dy - mean(dy) - xhat * mean(dy * xhat)), dy = g * w
        const T* w = wv.data();
        const double sdy = sum8(K, [grow, w](int64_t k) { return static_cast<double>(grow[k]) * w[k]; });
        const double sdyx = sum8(K, [grow, w, row, mu, rs](int64_t k) {
          return static_cast<double>(grow[k]) * w[k] * ((row[k] - mu) * rs);
        });
        const T c1 = static_cast<T>(sdy * invK), c2 = static_cast<T>(sdyx * invK);
        T* orow = gx.ptr<T>() + r * K;
        for (int64_t k = 0; k < K; k++) orow[k] = rs * (grow[k] * wv[k] - c1 - (row[k] - mu) * rs * c2);
      }
    }
  });
  for (int64_t k = 0; k < K && params; k++) {
    double sw = 0, sb = 0;
    for (int64_t a = 0; a < chunks; a++) {
      sw += pw[a * K + k];
      sb += pb[a * K + k];
    }
    if (wantW) gw.ptr<T>()[k * gw.strides[0]] = static_cast<T>(sw);
    if (wantB) gb.ptr<T>()[k * gb.strides[0]] = static_cast<T>(sb);
  }
}

Napi::Value layerNormBackward(const Napi::CallbackInfo& info) {
  Args args(info, "layerNormBackward", 8);
  const NormBackwardArgs a = parseLayerNormBackwardArgs(args);
  if (a.x.dtype == DType::float32)
    layerNormBackwardImpl<float>(a.gradX, a.wantX, a.gradWeight, a.wantWeight, a.gradBias, a.wantBias, a.grad, a.x,
                                 a.weight, a.hasWeight, a.saveMean, a.saveStat);
  else
    layerNormBackwardImpl<double>(a.gradX, a.wantX, a.gradWeight, a.wantWeight, a.gradBias, a.wantBias, a.grad, a.x,
                                  a.weight, a.hasWeight, a.saveMean, a.saveStat);
  return info.Env().Undefined();
}

// ---- group norm: per (sample, group) over C/G channels and S ----

template <class T>
void groupNormForwardImpl(const TensorArg& out, const TensorArg& x, int64_t G, const TensorArg& w, bool hasW,
                          const TensorArg& b, bool hasB, const TensorArg& saveMean, const TensorArg& saveRstd,
                          double eps) {
  const int64_t N = x.shape[0], C = x.shape[1], S = x.shape[2], Cg = C / G;
  const T* px = x.ptr<T>();
  T* po = out.ptr<T>();
  parallelFor(N * G, 1, [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; q++) {
      const int64_t n = q / G, grp = q % G;
      const T* base = px + (n * C + grp * Cg) * S;
      double mean, rstd;
      rowStats(base, Cg * S, eps, mean, rstd);
      saveMean.ptr<T>()[q] = static_cast<T>(mean);
      saveRstd.ptr<T>()[q] = static_cast<T>(rstd);
      for (int64_t j = 0; j < Cg; j++) {
        const int64_t c = grp * Cg + j;
        const T scale = static_cast<T>(rstd * at<T>(w, hasW, c, T(1)));
        const T shift = static_cast<T>(at<T>(b, hasB, c, T(0)) - mean * scale);
        const T* row = base + j * S;
        T* orow = po + (n * C + c) * S;
        scaleShift(row, orow, S, scale, shift);
      }
    }
  });
}

Napi::Value groupNormForward(const Napi::CallbackInfo& info) {
  Args args(info, "groupNormForward", 8);
  const NormForwardArgs a = parseGroupNormForwardArgs(args);
  if (a.x.shape[0] == 0) return info.Env().Undefined();
  if (a.x.dtype == DType::float32)
    groupNormForwardImpl<float>(a.out, a.x, a.groups, a.weight, a.hasWeight, a.bias, a.hasBias, a.saveMean, a.saveStat,
                                a.eps);
  else
    groupNormForwardImpl<double>(a.out, a.x, a.groups, a.weight, a.hasWeight, a.bias, a.hasBias, a.saveMean,
                                 a.saveStat, a.eps);
  return info.Env().Undefined();
}

template <class T>
void groupNormBackwardImpl(const TensorArg& gx, bool wantX, const TensorArg& gw, bool wantW, const TensorArg& gb,
                           bool wantB, const TensorArg& g, const TensorArg& x, int64_t G, const TensorArg& w,
                           bool hasW, const TensorArg& mean, const TensorArg& rstd) {
  const int64_t N = x.shape[0], C = x.shape[1], S = x.shape[2], Cg = C / G;
  const double Mg = static_cast<double>(Cg * S);
  const T *px = x.ptr<T>(), *pg = g.ptr<T>();
  // Per (n, c): sum of g and of g * x; everything else follows from these and the stats.
  std::vector<double> sg(N * C), sgx(N * C);
  parallelFor(N * C, std::max<int64_t>(1, 4096 / std::max<int64_t>(S, 1)), [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; q++) {
      const T *row = px + q * S, *grow = pg + q * S;
      sg[q] = sumRow(grow, S);
      sgx[q] = sumProductDeviations(grow, row, S, 0.0);
    }
  });
  if (wantX)
    parallelFor(N * G, 1, [&](int64_t q0, int64_t q1) {
      for (int64_t q = q0; q < q1; q++) {
        const int64_t n = q / G, grp = q % G;
        const double mu = mean.ptr<T>()[q], rs = rstd.ptr<T>()[q];
        double sdy = 0, sdyx = 0;  // sums of dy = g * w and of dy * (x - mu)
        for (int64_t j = 0; j < Cg; j++) {
          const int64_t c = grp * Cg + j;
          const double wc = at<T>(w, hasW, c, T(1));
          sdy += wc * sg[n * C + c];
          sdyx += wc * (sgx[n * C + c] - mu * sg[n * C + c]);
        }
        // dx = rs * (dy - sdy / Mg - (x - mu) * rs^2 * sdyx / Mg)
        const double kx = rs * rs * rs * sdyx / Mg;
        const double k0 = rs * sdy / Mg - kx * mu;
        for (int64_t j = 0; j < Cg; j++) {
          const int64_t c = grp * Cg + j;
          const T ka = static_cast<T>(rs * at<T>(w, hasW, c, T(1)));
          const T *row = px + (n * C + c) * S, *grow = pg + (n * C + c) * S;
          T* orow = gx.ptr<T>() + (n * C + c) * S;
          const T tkx = static_cast<T>(kx), tk0 = static_cast<T>(k0);
          normGrad(grow, row, orow, S, ka, tkx, tk0);
        }
      }
    });
  for (int64_t c = 0; c < C && (wantW || wantB); c++) {
    double sw = 0, sb = 0;
    for (int64_t n = 0; n < N; n++) {
      const int64_t q = n * G + c / Cg;
      sw += (sgx[n * C + c] - static_cast<double>(mean.ptr<T>()[q]) * sg[n * C + c]) * rstd.ptr<T>()[q];
      sb += sg[n * C + c];
    }
    if (wantW) gw.ptr<T>()[c * gw.strides[0]] = static_cast<T>(sw);
    if (wantB) gb.ptr<T>()[c * gb.strides[0]] = static_cast<T>(sb);
  }
}

Napi::Value groupNormBackward(const Napi::CallbackInfo& info) {
  Args args(info, "groupNormBackward", 9);
  const NormBackwardArgs a = parseGroupNormBackwardArgs(args);
  if (a.x.shape[0] * a.x.shape[1] == 0) return info.Env().Undefined();
  if (a.x.dtype == DType::float32)
    groupNormBackwardImpl<float>(a.gradX, a.wantX, a.gradWeight, a.wantWeight, a.gradBias, a.wantBias, a.grad, a.x,
                                 a.groups, a.weight, a.hasWeight, a.saveMean, a.saveStat);
  else
    groupNormBackwardImpl<double>(a.gradX, a.wantX, a.gradWeight, a.wantWeight, a.gradBias, a.wantBias, a.grad, a.x,
                                  a.groups, a.weight, a.hasWeight, a.saveMean, a.saveStat);
  return info.Env().Undefined();
}

}  // namespace

IV_EXPORT("batchNormForward", batchNormForward);
IV_EXPORT("batchNormBackward", batchNormBackward);
IV_EXPORT("layerNormForward", layerNormForward);
IV_EXPORT("layerNormBackward", layerNormBackward);
IV_EXPORT("groupNormForward", groupNormForward);
IV_EXPORT("groupNormBackward", groupNormBackward);

}  // namespace iv
