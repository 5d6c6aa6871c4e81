// Batch, layer and group normalisation, forward and backward, one kernel each. The op layer
// passes contiguous views: batch and group norm see x as [N, C, S] (S = spatial size), layer
// norm as [M, K] (K = the normalised size). Statistics are two-pass (mean, then squared
// deviations) in double over one channel, row or group at a time, which stays in cache and
// avoids the cancellation of E[x^2] - E[x]^2; the output is then one fused multiply-add.
#include <cmath>
#include <string>
#include <vector>
#include "../../binding/args.h"
#include "../../binding/registry.h"
#include "../parallel.h"

namespace iv {
namespace {

bool isFloat(DType d) { return d == DType::float32 || d == DType::float64; }

// An optional per-channel vector of length n (weight, bias, running stats): any stride.
TensorArg optionalVector(Args& args, size_t i, const char* name, int64_t n, DType dtype, bool& present) {
  present = !args.isNullish(i);
  TensorArg t;
  if (!present) return t;
  t = args.tensor(i, name);
  if (t.shape.size() != 1 || t.shape[0] != n)
    args.fail(std::string("argument '") + name + "' must have shape [" + std::to_string(n) + "], got " +
              t.shapeString());
  if (t.dtype != dtype)
    args.fail(std::string("argument '") + name + "' must be " + dtypeName(dtype) + ", got " + dtypeName(t.dtype));
  return t;
}

void requireContiguous(Args& args, const TensorArg& t, const char* name, const std::vector<int64_t>& shape,
                       DType dtype) {
  if (t.shape != shape || !t.contiguous() || t.dtype != dtype) {
    std::string want = "[";
    for (size_t i = 0; i < shape.size(); i++) want += (i ? ", " : "") + std::to_string(shape[i]);
    args.fail(std::string("argument '") + name + "' must be a contiguous " + dtypeName(dtype) + " tensor of shape " +
              want + "], got " + dtypeName(t.dtype) + " " + t.shapeString() + (t.contiguous() ? "" : " (strided)"));
  }
}

template <class T>
inline T at(const TensorArg& t, bool present, int64_t i, T fallback) {
  return present ? t.ptr<T>()[i * t.strides[0]] : fallback;
}

// ---- batch norm: per channel over N and S ----

template <class T>
void batchNormForwardImpl(const TensorArg& out, const TensorArg& x, const TensorArg& w, bool hasW,
                          const TensorArg& b, bool hasB, const TensorArg& rm, const TensorArg& rv, bool hasRunning,
                          const TensorArg& saveMean, const TensorArg& saveInvstd, bool training, double momentum,
                          double eps) {
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
          for (int64_t i = 0; i < S; i++) s += row[i];
        }
        mean = s / static_cast<double>(M);
        double ss = 0;
        for (int64_t n = 0; n < N; n++) {
          const T* row = px + (n * C + c) * S;
          for (int64_t i = 0; i < S; i++) {
            const double d = row[i] - mean;
            ss += d * d;
          }
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
        for (int64_t i = 0; i < S; i++) orow[i] = row[i] * scale + shift;
      }
    }
  });
}

Napi::Value batchNormForward(const Napi::CallbackInfo& info) {
  Args args(info, "batchNormForward", 11);
  TensorArg out = args.tensor(0, "out"), x = args.tensor(1, "x");
  if (x.shape.size() != 3 || !x.contiguous() || !isFloat(x.dtype))
    args.fail("argument 'x' must be a contiguous float [N, C, S] tensor, got " + std::string(dtypeName(x.dtype)) +
              " " + x.shapeString());
  const int64_t C = x.shape[1];
  requireContiguous(args, out, "out", x.shape, x.dtype);
  bool hasW, hasB, hasRm, hasRv;
  TensorArg w = optionalVector(args, 2, "weight", C, x.dtype, hasW);
  TensorArg b = optionalVector(args, 3, "bias", C, x.dtype, hasB);
  TensorArg rm = optionalVector(args, 4, "runningMean", C, x.dtype, hasRm);
  TensorArg rv = optionalVector(args, 5, "runningVar", C, x.dtype, hasRv);
  TensorArg saveMean = args.tensor(6, "saveMean"), saveInvstd = args.tensor(7, "saveInvstd");
  requireContiguous(args, saveMean, "saveMean", {C}, x.dtype);
  requireContiguous(args, saveInvstd, "saveInvstd", {C}, x.dtype);
  const bool training = args.boolean(8, "training");
  const double momentum = args.number(9, "momentum"), eps = args.number(10, "eps");
  if (hasRm != hasRv) args.fail("runningMean and runningVar must both be given or both be null");
  if (!training && !hasRm) args.fail("evaluation mode needs runningMean and runningVar");
  if (!(eps >= 0)) args.fail("eps must be non-negative, got " + std::to_string(eps));
  const int64_t M = x.shape[0] * x.shape[2];
  if (training && M <= 1)
    args.fail("training needs more than one value per channel, got input " + x.shapeString());
  if (C == 0) return info.Env().Undefined();
  if (x.dtype == DType::float32)
    batchNormForwardImpl<float>(out, x, w, hasW, b, hasB, rm, rv, hasRm, saveMean, saveInvstd, training, momentum, eps);
  else
    batchNormForwardImpl<double>(out, x, w, hasW, b, hasB, rm, rv, hasRm, saveMean, saveInvstd, training, momentum,
                                 eps);
  return info.Env().Undefined();
}

template <class T>
void batchNormBackwardImpl(const TensorArg& gx, bool wantX, const TensorArg& gw, bool wantW, const TensorArg& gb,
                           bool wantB, const TensorArg& g, const TensorArg& x, const TensorArg& w, bool hasW,
                           const TensorArg& mean, const TensorArg& invstd, bool training) {
  const int64_t N = x.shape[0], C = x.shape[1], S = x.shape[2];
  const double M = static_cast<double>(N * S);
  const T *px = x.ptr<T>(), *pg = g.ptr<T>();
  parallelFor(C, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; c++) {
      const double mu = mean.ptr<T>()[c], is = invstd.ptr<T>()[c];
      double sg = 0, sgx = 0;
      if (training || wantW || wantB) {
        for (int64_t n = 0; n < N; n++) {
          const T *row = px + (n * C + c) * S, *grow = pg + (n * C + c) * S;
          for (int64_t i = 0; i < S; i++) {
            sg += grow[i];
            sgx += grow[i] * (row[i] - mu);
          }
        }
      }
      if (wantW) gw.ptr<T>()[c * gw.strides[0]] = static_cast<T>(sgx * is);
      if (wantB) gb.ptr<T>()[c * gb.strides[0]] = static_cast<T>(sg);
      if (!wantX) continue;
      const double a = at<T>(w, hasW, c, T(1)) * is;
      // training: dx = a * (g - mean(g) - xhat * mean(g * xhat)), as x - mu also moves the stats
      const T ka = static_cast<T>(a);
      const T kx = training ? static_cast<T>(a * is * is * sgx / M) : T(0);
      const T k0 = training ? static_cast<T>(a * sg / M - static_cast<double>(kx) * mu) : T(0);
      for (int64_t n = 0; n < N; n++) {
        const T *row = px + (n * C + c) * S, *grow = pg + (n * C + c) * S;
        T* orow = gx.ptr<T>() + (n * C + c) * S;
        for (int64_t i = 0; i < S; i++) orow[i] = ka * grow[i] - kx * row[i] - k0;
      }
    }
  });
}

Napi::Value batchNormBackward(const Napi::CallbackInfo& info) {
  Args args(info, "batchNormBackward", 9);
  const bool wantX = !args.isNullish(0), wantW = !args.isNullish(1), wantB = !args.isNullish(2);
  TensorArg g = args.tensor(3, "grad"), x = args.tensor(4, "x");
  if (x.shape.size() != 3 || !x.contiguous() || !isFloat(x.dtype))
    args.fail("argument 'x' must be a contiguous float [N, C, S] tensor, got " + std::string(dtypeName(x.dtype)) +
              " " + x.shapeString());
  const int64_t C = x.shape[1];
  requireContiguous(args, g, "grad", x.shape, x.dtype);
  TensorArg gx, gw, gb;
  bool present, hasW;
  if (wantX) requireContiguous(args, gx = args.tensor(0, "gradX"), "gradX", x.shape, x.dtype);
  if (wantW) gw = optionalVector(args, 1, "gradWeight", C, x.dtype, present);
  if (wantB) gb = optionalVector(args, 2, "gradBias", C, x.dtype, present);
  TensorArg w = optionalVector(args, 5, "weight", C, x.dtype, hasW);
  TensorArg mean = args.tensor(6, "saveMean"), invstd = args.tensor(7, "saveInvstd");
  requireContiguous(args, mean, "saveMean", {C}, x.dtype);
  requireContiguous(args, invstd, "saveInvstd", {C}, x.dtype);
  const bool training = args.boolean(8, "training");
  if (C == 0) return info.Env().Undefined();
  if (x.dtype == DType::float32)
    batchNormBackwardImpl<float>(gx, wantX, gw, wantW, gb, wantB, g, x, w, hasW, mean, invstd, training);
  else
    batchNormBackwardImpl<double>(gx, wantX, gw, wantW, gb, wantB, g, x, w, hasW, mean, invstd, training);
  return info.Env().Undefined();
}

// ---- layer norm: per row of K ----

template <class T>
void rowStats(const T* p, int64_t n, double eps, double& mean, double& rstd) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += p[i];
  mean = s / static_cast<double>(n);
  double ss = 0;
  for (int64_t i = 0; i < n; i++) {
    const double d = p[i] - mean;
    ss += d * d;
  }
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
  parallelFor(M, std::max<int64_t>(1, 4096 / std::max<int64_t>(K, 1)), [&](int64_t r0, int64_t r1) {
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
  TensorArg out = args.tensor(0, "out"), x = args.tensor(1, "x");
  if (x.shape.size() != 2 || !x.contiguous() || !isFloat(x.dtype))
    args.fail("argument 'x' must be a contiguous float [M, K] tensor, got " + std::string(dtypeName(x.dtype)) + " " +
              x.shapeString());
  const int64_t M = x.shape[0], K = x.shape[1];
  requireContiguous(args, out, "out", x.shape, x.dtype);
  bool hasW, hasB;
  TensorArg w = optionalVector(args, 2, "weight", K, x.dtype, hasW);
  TensorArg b = optionalVector(args, 3, "bias", K, x.dtype, hasB);
  TensorArg mean = args.tensor(4, "saveMean"), rstd = args.tensor(5, "saveRstd");
  requireContiguous(args, mean, "saveMean", {M}, x.dtype);
  requireContiguous(args, rstd, "saveRstd", {M}, x.dtype);
  const double eps = args.number(6, "eps");
  if (!(eps >= 0)) args.fail("eps must be non-negative, got " + std::to_string(eps));
  if (K == 0) args.fail("cannot normalise over zero elements (x " + x.shapeString() + ")");
  if (M == 0) return info.Env().Undefined();
  if (x.dtype == DType::float32) layerNormForwardImpl<float>(out, x, w, hasW, b, hasB, mean, rstd, eps);
  else layerNormForwardImpl<double>(out, x, w, hasW, b, hasB, mean, rstd, eps);
  return info.Env().Undefined();
}

template <class T>
void layerNormBackwardImpl(const TensorArg& gx, bool wantX, const TensorArg& gw, bool wantW, const TensorArg& gb,
                           bool wantB, const TensorArg& g, const TensorArg& x, const TensorArg& w, bool hasW,
                           const TensorArg& mean, const TensorArg& rstd) {
  const int64_t M = x.shape[0], K = x.shape[1];
  std::vector<T> wv(K);
  for (int64_t k = 0; k < K; k++) wv[k] = at<T>(w, hasW, k, T(1));
  const T *px = x.ptr<T>(), *pg = g.ptr<T>();
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
        double sdy = 0, sdyx = 0;
        for (int64_t k = 0; k < K; k++) {
          const double dy = static_cast<double>(grow[k]) * wv[k];
          sdy += dy;
          sdyx += dy * ((row[k] - mu) * rs);
        }
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
  const bool wantX = !args.isNullish(0), wantW = !args.isNullish(1), wantB = !args.isNullish(2);
  TensorArg g = args.tensor(3, "grad"), x = args.tensor(4, "x");
  if (x.shape.size() != 2 || !x.contiguous() || !isFloat(x.dtype))
    args.fail("argument 'x' must be a contiguous float [M, K] tensor, got " + std::string(dtypeName(x.dtype)) + " " +
              x.shapeString());
  const int64_t M = x.shape[0], K = x.shape[1];
  requireContiguous(args, g, "grad", x.shape, x.dtype);
  TensorArg gx, gw, gb;
  bool present;
  if (wantX) requireContiguous(args, gx = args.tensor(0, "gradX"), "gradX", x.shape, x.dtype);
  if (wantW) gw = optionalVector(args, 1, "gradWeight", K, x.dtype, present);
  if (wantB) gb = optionalVector(args, 2, "gradBias", K, x.dtype, present);
  bool hasW;
  TensorArg w = optionalVector(args, 5, "weight", K, x.dtype, hasW);
  TensorArg mean = args.tensor(6, "saveMean"), rstd = args.tensor(7, "saveRstd");
  requireContiguous(args, mean, "saveMean", {M}, x.dtype);
  requireContiguous(args, rstd, "saveRstd", {M}, x.dtype);
  if (K == 0) args.fail("cannot normalise over zero elements (x " + x.shapeString() + ")");
  if (x.dtype == DType::float32) layerNormBackwardImpl<float>(gx, wantX, gw, wantW, gb, wantB, g, x, w, hasW, mean, rstd);
  else layerNormBackwardImpl<double>(gx, wantX, gw, wantW, gb, wantB, g, x, w, hasW, mean, rstd);
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
        for (int64_t i = 0; i < S; i++) orow[i] = row[i] * scale + shift;
      }
    }
  });
}

Napi::Value groupNormForward(const Napi::CallbackInfo& info) {
  Args args(info, "groupNormForward", 8);
  TensorArg out = args.tensor(0, "out"), x = args.tensor(1, "x");
  if (x.shape.size() != 3 || !x.contiguous() || !isFloat(x.dtype))
    args.fail("argument 'x' must be a contiguous float [N, C, S] tensor, got " + std::string(dtypeName(x.dtype)) +
              " " + x.shapeString());
  const int64_t N = x.shape[0], C = x.shape[1], G = args.integer(2, "numGroups");
  if (G <= 0 || C % G != 0)
    args.fail("numGroups " + std::to_string(G) + " must be positive and divide the " + std::to_string(C) +
              " channels of x " + x.shapeString());
  requireContiguous(args, out, "out", x.shape, x.dtype);
  bool hasW, hasB;
  TensorArg w = optionalVector(args, 3, "weight", C, x.dtype, hasW);
  TensorArg b = optionalVector(args, 4, "bias", C, x.dtype, hasB);
  TensorArg mean = args.tensor(5, "saveMean"), rstd = args.tensor(6, "saveRstd");
  requireContiguous(args, mean, "saveMean", {N, G}, x.dtype);
  requireContiguous(args, rstd, "saveRstd", {N, G}, x.dtype);
  const double eps = args.number(7, "eps");
  if (!(eps >= 0)) args.fail("eps must be non-negative, got " + std::to_string(eps));
  if (x.shape[2] == 0 && N > 0) args.fail("cannot normalise over zero elements (x " + x.shapeString() + ")");
  if (N == 0) return info.Env().Undefined();
  if (x.dtype == DType::float32) groupNormForwardImpl<float>(out, x, G, w, hasW, b, hasB, mean, rstd, eps);
  else groupNormForwardImpl<double>(out, x, G, w, hasW, b, hasB, mean, rstd, eps);
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
      double a = 0, bsum = 0;
      for (int64_t i = 0; i < S; i++) {
        a += grow[i];
        bsum += static_cast<double>(grow[i]) * row[i];
      }
      sg[q] = a;
      sgx[q] = bsum;
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
          for (int64_t i = 0; i < S; i++) orow[i] = ka * grow[i] - tkx * row[i] - tk0;
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
  const bool wantX = !args.isNullish(0), wantW = !args.isNullish(1), wantB = !args.isNullish(2);
  TensorArg g = args.tensor(3, "grad"), x = args.tensor(4, "x");
  if (x.shape.size() != 3 || !x.contiguous() || !isFloat(x.dtype))
    args.fail("argument 'x' must be a contiguous float [N, C, S] tensor, got " + std::string(dtypeName(x.dtype)) +
              " " + x.shapeString());
  const int64_t N = x.shape[0], C = x.shape[1], G = args.integer(5, "numGroups");
  if (G <= 0 || C % G != 0)
    args.fail("numGroups " + std::to_string(G) + " must be positive and divide the " + std::to_string(C) +
              " channels of x " + x.shapeString());
  requireContiguous(args, g, "grad", x.shape, x.dtype);
  TensorArg gx, gw, gb;
  bool present;
  if (wantX) requireContiguous(args, gx = args.tensor(0, "gradX"), "gradX", x.shape, x.dtype);
  if (wantW) gw = optionalVector(args, 1, "gradWeight", C, x.dtype, present);
  if (wantB) gb = optionalVector(args, 2, "gradBias", C, x.dtype, present);
  bool hasW;
  TensorArg w = optionalVector(args, 6, "weight", C, x.dtype, hasW);
  TensorArg mean = args.tensor(7, "saveMean"), rstd = args.tensor(8, "saveRstd");
  requireContiguous(args, mean, "saveMean", {N, G}, x.dtype);
  requireContiguous(args, rstd, "saveRstd", {N, G}, x.dtype);
  if (N * C == 0) return info.Env().Undefined();
  if (x.dtype == DType::float32)
    groupNormBackwardImpl<float>(gx, wantX, gw, wantW, gb, wantB, g, x, G, w, hasW, mean, rstd);
  else
    groupNormBackwardImpl<double>(gx, wantX, gw, wantW, gb, wantB, g, x, G, w, hasW, mean, rstd);
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
