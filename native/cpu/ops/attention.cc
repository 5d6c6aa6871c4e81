// Scaled dot-product attention, tiled like FlashAttention-2. q [B, L, E], k [B, S, E],
// v [B, S, Ev] (B = batch * heads, contiguous). Forward: each task takes a block of queries
// and streams blocks of keys through an online softmax (running max m and sum l per query,
// the output rescaled when the max grows); it saves only the logsumexp per query. Backward
// recomputes each probability tile from q, k and that logsumexp, so neither pass ever holds
// more than one Br x Bc tile of scores: memory is O((L + S) * E), not O(L * S).
//
// With P = softmax(scale * q k^T + mask) and dropout's Z (keep / (1 - p), or 0):
//   out = (P o Z) v,   D_i = sum_e dOut[i, e] * out[i, e]
//   dV = (P o Z)^T dOut,   dP = (dOut v^T) o Z,   dS = P o (dP - D),
//   dQ = scale * dS k,   dK = scale * dS^T q,   dMask = dS (summed by the op layer).
// Tasks split over batch and query blocks (forward) or key blocks (backward, which owns dK
// and dV; dQ goes to per-split partial sums when batches alone cannot feed every thread).
// Float32 tiles run on the widest instruction set (attention_tiles.inc); float64 uses the
// plain loops below.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>
#include "../../binding/attention_args.h"
#include "../../binding/registry.h"
#include "../cpu_features.h"
#include "../parallel.h"
#include "attention_tiles.inc"

namespace iv {
namespace {

constexpr int64_t kBr = 64;   // queries per tile
constexpr int64_t kBc = 64;   // keys per tile
constexpr int64_t kPad = 16;  // key tiles padded to whole vectors (zeros) for the score GEMM

inline int64_t roundUp(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

struct AttnTilesD {
  void (*gemm)(int64_t m, int64_t n, int64_t k, const double* a, int64_t ars, int64_t acs, const double* b,
               int64_t ldb, double* c, int64_t ldc, bool accumulate);
  void (*expRows)(double* s, int64_t lds, int64_t m, int64_t n, const double* sub, double* rowSum);
};

void gemmD(int64_t m, int64_t n, int64_t k, const double* a, int64_t ars, int64_t acs, const double* b, int64_t ldb,
           double* c, int64_t ldc, bool accumulate) {
  for (int64_t i = 0; i < m; i++) {
    double* crow = c + i * ldc;
    if (!accumulate) std::fill(crow, crow + n, 0.0);
    for (int64_t p = 0; p < k; p++) {
      const double av = a[i * ars + p * acs];
      const double* brow = b + p * ldb;
      for (int64_t j = 0; j < n; j++) crow[j] += av * brow[j];
    }
  }
}

void expRowsD(double* s, int64_t lds, int64_t m, int64_t n, const double* sub, double* rowSum) {
  for (int64_t i = 0; i < m; i++) {
    double sum = 0;
    for (int64_t j = 0; j < n; j++) sum += (s[i * lds + j] = std::exp(s[i * lds + j] - sub[i]));
    if (rowSum) rowSum[i] = sum;
  }
}

const AttnTilesF& tilesFor(float*) {
  static const AttnTilesF generic = {tileGemm, tileExpRows};
  switch (activeIsa()) {
    case Isa::avx512: return *attnTilesAvx512();
    case Isa::avx2: return *attnTilesAvx2();
    default: return generic;
  }
}
const AttnTilesD& tilesFor(double*) {
  static const AttnTilesD tiles = {gemmD, expRowsD};
  return tiles;
}

struct Problem {
  int64_t B, L, S, E, Ev;
  double scale;
  bool causal;
  // mask: element (b, i, j) at mask + maskBatch[b] + i * msL + j * msS
  const void* mask = nullptr;
  bool maskBool = false;
  std::vector<int64_t> maskBatch;
  int64_t msL = 0, msS = 0;
  // dropout on the probabilities
  uint32_t threshold = 0;
  uint64_t seed = 0;
  double keepScale = 1;
  bool dropout() const { return threshold > 0; }
};

// Masks a br x bc score tile at (b, i0, j0) in place: -inf where masked (causal or boolean
// false), plus the additive mask otherwise.
template <class T>
void applyMask(const Problem& P, T* s, int64_t lds, int64_t b, int64_t i0, int64_t br, int64_t j0, int64_t bc) {
  const T ninf = -std::numeric_limits<T>::infinity();
  if (P.causal)
    for (int64_t r = 0; r < br; r++)
      for (int64_t c = std::max<int64_t>(0, i0 + r + 1 - j0); c < bc; c++) s[r * lds + c] = ninf;
  if (!P.mask) return;
  for (int64_t r = 0; r < br; r++) {
    const int64_t base = P.maskBatch[b] + (i0 + r) * P.msL + j0 * P.msS;
    T* row = s + r * lds;
    if (P.maskBool) {
      const uint8_t* m = static_cast<const uint8_t*>(P.mask) + base;
      for (int64_t c = 0; c < bc; c++)
        if (!m[c * P.msS]) row[c] = ninf;
    } else {
      const T* m = static_cast<const T*>(P.mask) + base;
      for (int64_t c = 0; c < bc; c++) row[c] += m[c * P.msS];
    }
  }
}

template <class T>
inline T rowMax(const T* p, int64_t n) {
  T m = -std::numeric_limits<T>::infinity();
  for (int64_t j = 0; j < n; j++) m = p[j] > m ? p[j] : m;
  return m;
}

inline uint64_t dropIndex(const Problem& P, int64_t b, int64_t i, int64_t j) {
  return static_cast<uint64_t>((b * P.L + i) * P.S + j);
}

// K^T of every batch, [B][E][Sp] with the columns past S zero, so score tiles are whole vectors.
template <class T>
std::vector<T> transposeKeys(const Problem& P, const T* k, int64_t Sp) {
  std::vector<T> kt(P.B * P.E * Sp, T(0));
  parallelFor(P.B, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++)
      for (int64_t j = 0; j < P.S; j++)
        for (int64_t e = 0; e < P.E; e++) kt[(b * P.E + e) * Sp + j] = k[(b * P.S + j) * P.E + e];
  });
  return kt;
}

template <class T, class Tiles>
void forwardImpl(const Tiles& tl, const Problem& P, const T* q, const T* k, const T* v, T* out, T* lse) {
  const int64_t L = P.L, S = P.S, E = P.E, Ev = P.Ev, Sp = roundUp(S, kPad), nQB = (L + kBr - 1) / kBr;
  const int64_t ldS = roundUp(kBc, kPad);
  std::vector<T> kt = transposeKeys(P, k, Sp);
  parallelFor(P.B * nQB, 1, [&](int64_t t0, int64_t t1) {
    std::vector<T> qs(kBr * E), st(kBr * ldS), o(kBr * Ev);
    T m[kBr], l[kBr], sub[kBr], sum[kBr];
    for (int64_t t = t0; t < t1; t++) {
      const int64_t b = t / nQB, i0 = (t % nQB) * kBr, br = std::min(kBr, L - i0);
      const T* qb = q + (b * L + i0) * E;
      for (int64_t x = 0; x < br * E; x++) qs[x] = static_cast<T>(qb[x] * P.scale);
      std::fill(o.begin(), o.end(), T(0));
      std::fill(m, m + kBr, -std::numeric_limits<T>::infinity());
      std::fill(l, l + kBr, T(0));
      const int64_t jEnd = P.causal ? std::min(S, i0 + br) : S;
      for (int64_t j0 = 0; j0 < jEnd; j0 += kBc) {
        const int64_t bc = std::min(kBc, jEnd - j0);
        tl.gemm(br, roundUp(bc, kPad), E, qs.data(), E, 1, kt.data() + b * E * Sp + j0, Sp, st.data(), ldS, false);
        applyMask(P, st.data(), ldS, b, i0, br, j0, bc);
        for (int64_t r = 0; r < br; r++) {
          const T mNew = std::max(m[r], rowMax(st.data() + r * ldS, bc));
          sub[r] = std::isinf(mNew) ? T(0) : mNew;  // a row masked so far keeps exp(-inf) = 0
          const T alpha = std::exp(m[r] - sub[r]);
          m[r] = mNew;
          if (alpha != T(1)) {
            l[r] *= alpha;
            for (int64_t e = 0; e < Ev; e++) o[r * Ev + e] *= alpha;
          }
        }
        tl.expRows(st.data(), ldS, br, bc, sub, sum);
        for (int64_t r = 0; r < br; r++) l[r] += sum[r];
        if (P.dropout())
          for (int64_t r = 0; r < br; r++)
            for (int64_t c = 0; c < bc; c++) {
              T& p = st[r * ldS + c];
              p = dropoutKeep(P.seed, dropIndex(P, b, i0 + r, j0 + c), P.threshold) ? static_cast<T>(p * P.keepScale)
                                                                                      : T(0);
            }
        tl.gemm(br, Ev, bc, st.data(), ldS, 1, v + (b * S + j0) * Ev, Ev, o.data(), Ev, true);
      }
      for (int64_t r = 0; r < br; r++) {
        // A query with every key masked attends to nothing: output 0, and lse = +inf makes
        // the recomputed probabilities (and so its gradients) 0 in backward.
        const T inv = l[r] > 0 ? T(1) / l[r] : T(0);
        T* orow = out + (b * L + i0 + r) * Ev;
        for (int64_t e = 0; e < Ev; e++) orow[e] = o[r * Ev + e] * inv;
        lse[b * L + i0 + r] = l[r] > 0 ? m[r] + std::log(l[r]) : std::numeric_limits<T>::infinity();
      }
    }
  });
}

template <class T, class Tiles>
void backwardImpl(const Tiles& tl, const Problem& P, const T* q, const T* k, const T* v, const T* out, const T* lse,
                  const T* gout, T* dq, T* dk, T* dv, T* dmask) {
  const int64_t B = P.B, L = P.L, S = P.S, E = P.E, Ev = P.Ev;
  const int64_t nKB = (S + kBc - 1) / kBc, ldS = roundUp(kBc, kPad);
  // D_i = dOut_i . out_i, and q pre-scaled (it feeds both the scores and dK).
  std::vector<T> D(B * L), qs(B * L * E);
  parallelFor(B * L, 64, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      double d = 0;
      for (int64_t e = 0; e < Ev; e++) d += static_cast<double>(gout[r * Ev + e]) * out[r * Ev + e];
      D[r] = static_cast<T>(d);
      for (int64_t e = 0; e < E; e++) qs[r * E + e] = static_cast<T>(q[r * E + e] * P.scale);
    }
  });
  const int64_t splits = std::max<int64_t>(1, std::min<int64_t>(nKB, (2 * numThreads() + B - 1) / B));
  std::vector<T> dqPart(splits > 1 ? B * splits * L * E : 0, T(0));
  std::fill(dq, dq + B * L * E, T(0));
  parallelFor(B * splits, 1, [&](int64_t t0, int64_t t1) {
    std::vector<T> ktj(E * ldS), vtj(Ev * ldS), st(kBr * ldS), dpt(kBr * ldS), dkj(kBc * E), dvj(kBc * Ev);
    for (int64_t t = t0; t < t1; t++) {
      const int64_t b = t / splits, split = t % splits;
      T* dqb = splits > 1 ? dqPart.data() + t * L * E : dq + b * L * E;
      for (int64_t kb = nKB * split / splits; kb < nKB * (split + 1) / splits; kb++) {
        const int64_t j0 = kb * kBc, bc = std::min(kBc, S - j0), bcp = roundUp(bc, kPad);
        const T* kj = k + (b * S + j0) * E;
        const T* vj = v + (b * S + j0) * Ev;
        std::fill(ktj.begin(), ktj.end(), T(0));
        std::fill(vtj.begin(), vtj.end(), T(0));
        for (int64_t c = 0; c < bc; c++) {
          for (int64_t e = 0; e < E; e++) ktj[e * ldS + c] = kj[c * E + e];
          for (int64_t e = 0; e < Ev; e++) vtj[e * ldS + c] = vj[c * Ev + e];
        }
        std::fill(dkj.begin(), dkj.end(), T(0));
        std::fill(dvj.begin(), dvj.end(), T(0));
        for (int64_t i0 = P.causal ? j0 / kBr * kBr : 0; i0 < L; i0 += kBr) {
          const int64_t br = std::min(kBr, L - i0);
          const T* qsi = qs.data() + (b * L + i0) * E;
          const T* goi = gout + (b * L + i0) * Ev;
          const T* Di = D.data() + b * L + i0;
          tl.gemm(br, bcp, E, qsi, E, 1, ktj.data(), ldS, st.data(), ldS, false);
          applyMask(P, st.data(), ldS, b, i0, br, j0, bc);
          tl.expRows(st.data(), ldS, br, bc, lse + b * L + i0, nullptr);
          tl.gemm(br, bcp, Ev, goi, Ev, 1, vtj.data(), ldS, dpt.data(), ldS, false);
          // st becomes P o Z (for dV) and dpt becomes dS.
          for (int64_t r = 0; r < br; r++)
            for (int64_t c = 0; c < bc; c++) {
              T& p = st[r * ldS + c];
              T& dp = dpt[r * ldS + c];
              if (P.dropout()) {
                const T z = dropoutKeep(P.seed, dropIndex(P, b, i0 + r, j0 + c), P.threshold)
                                ? static_cast<T>(P.keepScale)
                                : T(0);
                dp = p * (dp * z - Di[r]);
                p *= z;
              } else {
                dp = p * (dp - Di[r]);
              }
            }
          if (dmask)
            for (int64_t r = 0; r < br; r++)
              std::copy(dpt.data() + r * ldS, dpt.data() + r * ldS + bc, dmask + (b * L + i0 + r) * S + j0);
          tl.gemm(bc, Ev, br, st.data(), 1, ldS, goi, Ev, dvj.data(), Ev, true);
          tl.gemm(bc, E, br, dpt.data(), 1, ldS, qsi, E, dkj.data(), E, true);
          tl.gemm(br, E, bc, dpt.data(), ldS, 1, kj, E, dqb + i0 * E, E, true);
        }
        std::copy(dkj.begin(), dkj.begin() + bc * E, dk + (b * S + j0) * E);
        std::copy(dvj.begin(), dvj.begin() + bc * Ev, dv + (b * S + j0) * Ev);
      }
    }
  });
  parallelFor(B * L * E, 16384, [&](int64_t x0, int64_t x1) {
    for (int64_t x = x0; x < x1; x++) {
      T s = dq[x];
      if (splits > 1) {
        const int64_t b = x / (L * E), rest = x % (L * E);
        for (int64_t sp = 0; sp < splits; sp++) s += dqPart[(b * splits + sp) * L * E + rest];
      }
      dq[x] = static_cast<T>(s * P.scale);
    }
  });
}

// ---- entry points (arguments parsed by native/binding/attention_args.cc) ----

Problem problemOf(const AttentionArgs& a) {
  Problem P;
  P.B = a.B, P.L = a.L, P.S = a.S, P.E = a.E, P.Ev = a.Ev;
  P.scale = a.scale;
  P.causal = a.causal;
  P.threshold = static_cast<uint32_t>(std::llround(a.dropoutP * 16777216.0));
  P.seed = a.seed;
  P.keepScale = 1.0 / (1.0 - a.dropoutP);
  if (!a.hasMask) return P;
  const TensorArg& m = a.mask;
  const size_t nd = m.shape.size();
  P.mask = m.data;
  P.maskBool = m.dtype == DType::boolean;
  P.msL = m.strides[nd - 2];
  P.msS = m.strides[nd - 1];
  P.maskBatch.resize(P.B);
  for (int64_t b = 0; b < P.B; b++) {
    int64_t rem = b, off = 0;
    for (size_t d = nd - 2; d-- > 0;) {
      off += (rem % m.shape[d]) * m.strides[d];
      rem /= m.shape[d];
    }
    P.maskBatch[b] = off;
  }
  return P;
}

Napi::Value attentionForward(const Napi::CallbackInfo& info) {
  Args args(info, "attentionForward", 11);
  const AttentionForwardArgs a = parseAttentionForwardArgs(args);
  const Problem P = problemOf(a);
  if (a.q.dtype == DType::float32)
    forwardImpl(tilesFor(static_cast<float*>(nullptr)), P, a.q.ptr<float>(), a.k.ptr<float>(), a.v.ptr<float>(),
                a.out.ptr<float>(), a.lse.ptr<float>());
  else
    forwardImpl(tilesFor(static_cast<double*>(nullptr)), P, a.q.ptr<double>(), a.k.ptr<double>(), a.v.ptr<double>(),
                a.out.ptr<double>(), a.lse.ptr<double>());
  return info.Env().Undefined();
}

Napi::Value attentionBackward(const Napi::CallbackInfo& info) {
  Args args(info, "attentionBackward", 16);
  const AttentionBackwardArgs a = parseAttentionBackwardArgs(args);
  const Problem P = problemOf(a);
  if (a.q.dtype == DType::float32)
    backwardImpl(tilesFor(static_cast<float*>(nullptr)), P, a.q.ptr<float>(), a.k.ptr<float>(), a.v.ptr<float>(),
                 a.out.ptr<float>(), a.lse.ptr<float>(), a.gradOut.ptr<float>(), a.gradQ.ptr<float>(),
                 a.gradK.ptr<float>(), a.gradV.ptr<float>(), a.wantMaskGrad ? a.gradMask.ptr<float>() : nullptr);
  else
    backwardImpl(tilesFor(static_cast<double*>(nullptr)), P, a.q.ptr<double>(), a.k.ptr<double>(), a.v.ptr<double>(),
                 a.out.ptr<double>(), a.lse.ptr<double>(), a.gradOut.ptr<double>(), a.gradQ.ptr<double>(),
                 a.gradK.ptr<double>(), a.gradV.ptr<double>(), a.wantMaskGrad ? a.gradMask.ptr<double>() : nullptr);
  return info.Env().Undefined();
}

}  // namespace

IV_EXPORT("attentionForward", attentionForward);
IV_EXPORT("attentionBackward", attentionBackward);

}  // namespace iv
