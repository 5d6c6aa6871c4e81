// Blocked, packed GEMM in the BLIS shape. For each slice of NC columns of C, the whole
// K x NC slice of op(B) is packed once into NR-wide micro-panels shared by every thread;
// then each thread takes a rectangle of C and, per MC x KC block of op(A) (packed into
// MR-row micro-panels, sized for L2), runs the micro-kernel over every B micro-panel
// (KC x NR, sized for L1) and every A micro-panel. Packing absorbs transA/transB, the
// leading dimensions, alpha and zero padding of edge tiles, so the kernels see one layout
// (gemm_kernels.h). Kernels exist per instruction set and are picked at run time.
#include "gemm.h"
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include "cpu_features.h"
#include "gemm_kernels.h"
#include "parallel.h"

namespace iv {
namespace {

constexpr int64_t kKb = kGemmKBlock;

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t roundUp(int64_t a, int64_t b) { return ceilDiv(a, b) * b; }

template <class T>
using KernelFn = void (*)(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, T beta, int64_t mr, int64_t nr);

template <class T>
struct Plan {
  int64_t mr, nr;  // micro-tile
  int64_t kc, mc;  // an A block (mc x kc) stays in L2 and a B micro-panel (kc x nr) in L1
  KernelFn<T> kernel;
};

// Portable kernel for any x86-64 (SSE2): MR x NR accumulators, which the compiler keeps in
// registers when every index is a constant, hence the unrolled loops and the break.
template <class T, int MR, int NR>
void genericKernel(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, T beta, int64_t mr, int64_t nr) {
  T acc[MR][NR] = {};
  for (int64_t k = 0; k < kc; k++) {
    const T* ap = a + (k / kKb) * MR * kKb + k % kKb;
    const T* bp = b + k * NR;
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      const T av = ap[i * kKb];
#pragma GCC unroll 16
      for (int j = 0; j < NR; j++) acc[i][j] += av * bp[j];
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++) {
    if (i >= mr) break;
    T* row = c + i * ldc;
    for (int64_t j = 0; j < nr; j++) {
      const T v = acc[i][j];
      row[j] = beta == T(0) ? v : beta == T(1) ? row[j] + v : v + beta * row[j];
    }
  }
}

Plan<float> floatPlan() {
  switch (activeIsa()) {
    case Isa::avx512: return {avx512::kSgemmMr, avx512::kSgemmNr, 256, 14 * 24, avx512::sgemmKernel};
    case Isa::avx2: return {avx2::kSgemmMr, avx2::kSgemmNr, 256, 6 * 40, avx2::sgemmKernel};
    default: return {6, 8, 256, 6 * 32, genericKernel<float, 6, 8>};
  }
}

Plan<double> doublePlan() {
  switch (activeIsa()) {
    case Isa::avx512: return {avx512::kDgemmMr, avx512::kDgemmNr, 256, 14 * 16, avx512::dgemmKernel};
    case Isa::avx2: return {avx2::kDgemmMr, avx2::kDgemmNr, 256, 6 * 24, avx2::dgemmKernel};
    default: return {6, 4, 256, 6 * 24, genericKernel<double, 6, 4>};
  }
}

// A growable 64-byte-aligned scratch buffer, one per thread and role, so steady-state calls
// allocate (and page-fault) nothing.
struct Scratch {
  void* p = nullptr;
  size_t bytes = 0;
  ~Scratch() { std::free(p); }
  template <class T>
  T* get(int64_t n) {
    const size_t want = static_cast<size_t>(roundUp(n * static_cast<int64_t>(sizeof(T)), 64));
    if (want > bytes) {
      std::free(p);
      p = std::aligned_alloc(64, want);
      bytes = p ? want : 0;
      if (!p) throw std::bad_alloc();
    }
    return static_cast<T*>(p);
  }
};
thread_local Scratch tlsPackA, tlsPackB;

// Rows [i0, i0 + mc) x columns [k0, k0 + kc) of alpha * op(A), as MR-row micro-panels of
// roundUp(kc, 8) columns each.
template <class T>
void packA(bool tA, const T* A, int64_t lda, int64_t i0, int64_t mc, int64_t k0, int64_t kc, T alpha, int64_t MR,
           T* p) {
  const int64_t kcp = roundUp(kc, kKb);
  for (int64_t ip = 0; ip < mc; ip += MR, p += MR * kcp) {
    const int64_t mr = std::min(MR, mc - ip);
    if (!tA) {
      for (int64_t i = 0; i < MR; i++) {
        T* dst = p + i * kKb;
        if (i >= mr) {
          for (int64_t k = 0; k < kcp; k += kKb) std::memset(dst + k * MR, 0, kKb * sizeof(T));
          continue;
        }
        const T* src = A + (i0 + ip + i) * lda + k0;
        int64_t k = 0;
        for (; k + kKb <= kc; k += kKb)
          for (int64_t kk = 0; kk < kKb; kk++) dst[k * MR + kk] = alpha * src[k + kk];
        for (int64_t kk = 0; k + kk < kc; kk++) dst[k * MR + kk] = alpha * src[k + kk];
      }
    } else {
      for (int64_t k = 0; k < kc; k++) {
        const T* src = A + (k0 + k) * lda + i0 + ip;
        T* dst = p + (k / kKb) * MR * kKb + k % kKb;
        for (int64_t i = 0; i < mr; i++) dst[i * kKb] = alpha * src[i];
        for (int64_t i = mr; i < MR; i++) dst[i * kKb] = T(0);
      }
    }
  }
}

// Rows [k0, k0 + kc) x columns [j0, j0 + nr) of op(B) as one kc x NR micro-panel.
template <class T>
void packB(bool tB, const T* B, int64_t ldb, int64_t k0, int64_t kc, int64_t j0, int64_t nr, int64_t NR, T* p) {
  if (!tB) {
    for (int64_t k = 0; k < kc; k++) {
      const T* src = B + (k0 + k) * ldb + j0;
      T* dst = p + k * NR;
      std::memcpy(dst, src, nr * sizeof(T));
      for (int64_t j = nr; j < NR; j++) dst[j] = T(0);
    }
  } else {
    for (int64_t j = 0; j < nr; j++) {
      const T* src = B + (j0 + j) * ldb + k0;
      for (int64_t k = 0; k < kc; k++) p[k * NR + j] = src[k];
    }
    for (int64_t j = nr; j < NR; j++)
      for (int64_t k = 0; k < kc; k++) p[k * NR + j] = T(0);
  }
}

template <class T>
void scaleC(int64_t M, int64_t N, T beta, T* C, int64_t ldc) {
  if (beta == T(1)) return;
  for (int64_t i = 0; i < M; i++) {
    T* row = C + i * ldc;
    if (beta == T(0)) std::fill(row, row + N, T(0));
    else for (int64_t j = 0; j < N; j++) row[j] *= beta;
  }
}

// Packed B for one column slice holds at most this many elements (16 MB of floats), which
// bounds the slice width NC when K is large.
constexpr int64_t kMaxPackedB = int64_t(1) << 22;
// Below this many multiply-adds per thread, waking another thread costs more than it saves.
constexpr int64_t kMinWorkPerThread = int64_t(1) << 19;

template <class T>
void gemm(const Plan<T>& pl, bool tA, bool tB, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) {
    scaleC(M, N, beta, C, ldc);
    return;
  }
  const int64_t MR = pl.mr, NR = pl.nr;
  // Equal K blocks (a multiple of 8 but the last), so no block is a thin remainder.
  const int64_t nkb = ceilDiv(K, pl.kc);
  const int64_t kcb = roundUp(ceilDiv(K, nkb), kKb);
  const int64_t ncMax = std::max(NR, kMaxPackedB / K / NR * NR);
  const int64_t nc = roundUp(ceilDiv(N, ceilDiv(N, ncMax)), NR);
  const int64_t threads = std::max<int64_t>(1, std::min<int64_t>(numThreads(), M * N * K / kMinWorkPerThread));
  T* bp = tlsPackB.get<T>(K * std::min(nc, roundUp(N, NR)));

  for (int64_t j0 = 0; j0 < N; j0 += nc) {
    const int64_t ncur = std::min(nc, N - j0), ncp = roundUp(ncur, NR), np = ncp / NR;
    // Block kb of the slice starts at kb * kcb * ncp; its panel q at q * kc * NR after that.
    const int64_t packGrain = std::max<int64_t>(1, (int64_t(1) << 16) / (kcb * NR));
    parallelFor(nkb * np, threads > 1 ? packGrain : nkb * np, [&](int64_t w0, int64_t w1) {
      for (int64_t w = w0; w < w1; w++) {
        const int64_t kb = w / np, q = w % np, k0 = kb * kcb, kc = std::min(kcb, K - k0);
        packB(tB, B, ldb, k0, kc, j0 + q * NR, std::min(NR, ncur - q * NR), NR, bp + k0 * ncp + q * kc * NR);
      }
    });

    // Split C's tiles into tm x tn rectangles, one per thread, minimising the largest
    // share; a column split makes each thread pack the same A rows, costed as 8 columns.
    const int64_t mt = ceilDiv(M, MR);
    int64_t tm = threads, tn = 1, best = -1;
    for (int64_t m = threads; m >= 1; m--) {
      if (threads % m) continue;
      const int64_t n = threads / m, cost = ceilDiv(mt, m) * (ceilDiv(np, n) * NR + 8);
      if (best < 0 || cost < best) best = cost, tm = m, tn = n;
    }
    parallelFor(threads, 1, [&](int64_t t0, int64_t t1) {
      T* ap = tlsPackA.get<T>(roundUp(pl.mc, MR) * roundUp(kcb, kKb));
      for (int64_t t = t0; t < t1; t++) {
        const int64_t ti = t / tn, tj = t % tn;
        const int64_t r0 = mt * ti / tm * MR, r1 = std::min(M, mt * (ti + 1) / tm * MR);
        const int64_t q0 = np * tj / tn, q1 = np * (tj + 1) / tn;
        if (r0 >= r1 || q0 >= q1) continue;
        const int64_t mcb = roundUp(ceilDiv(r1 - r0, ceilDiv(r1 - r0, pl.mc)), MR);
        for (int64_t i0 = r0; i0 < r1; i0 += mcb) {
          const int64_t mc = std::min(mcb, r1 - i0);
          for (int64_t kb = 0; kb < nkb; kb++) {
            const int64_t k0 = kb * kcb, kc = std::min(kcb, K - k0), kcp = roundUp(kc, kKb);
            packA(tA, A, lda, i0, mc, k0, kc, alpha, MR, ap);
            const T bet = kb == 0 ? beta : T(1);
            for (int64_t q = q0; q < q1; q++) {
              const T* bq = bp + k0 * ncp + q * kc * NR;
              const int64_t nr = std::min(NR, ncur - q * NR);
              T* cq = C + i0 * ldc + j0 + q * NR;
              for (int64_t ir = 0; ir < mc; ir += MR)
                pl.kernel(kc, ap + ir * kcp, bq, cq + ir * ldc, ldc, bet, std::min(MR, mc - ir), nr);
            }
          }
        }
      }
    });
  }
}

// Products smaller than this (multiply-adds) go one per thread rather than split inside.
constexpr int64_t kMinInsideWork = int64_t(1) << 21;

template <class T>
void gemmBatched(const Plan<T>& pl, int64_t batch, bool tA, bool tB, int64_t M, int64_t N, int64_t K, T alpha,
                 const T* A, int64_t lda, int64_t sA, const T* B, int64_t ldb, int64_t sB, T beta, T* C, int64_t ldc,
                 int64_t sC) {
  auto one = [&](int64_t b) {
    gemm(pl, tA, tB, M, N, K, alpha, A + b * sA, lda, B + b * sB, ldb, beta, C + b * sC, ldc);
  };
  // Products writing the same C (stride 0) must run in order.
  if (batch > 1 && sC != 0 && M * N * K < kMinInsideWork) {
    parallelFor(batch, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; b++) one(b);
    });
  } else {
    for (int64_t b = 0; b < batch; b++) one(b);
  }
}

}  // namespace

void sgemm(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
           int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm(floatPlan(), tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
void dgemm(bool tA, bool tB, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
           const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  gemm(doublePlan(), tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
void sgemmBatched(int64_t batch, bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, int64_t sA, const float* B, int64_t ldb, int64_t sB, float beta, float* C, int64_t ldc,
                  int64_t sC) {
  gemmBatched(floatPlan(), batch, tA, tB, M, N, K, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC);
}
void dgemmBatched(int64_t batch, bool tA, bool tB, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                  int64_t lda, int64_t sA, const double* B, int64_t ldb, int64_t sB, double beta, double* C, int64_t ldc,
                  int64_t sC) {
  gemmBatched(doublePlan(), batch, tA, tB, M, N, K, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC);
}

}  // namespace iv
