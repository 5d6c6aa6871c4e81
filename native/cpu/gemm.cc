// Blocked, packed GEMM in the BLIS shape. For each slice of NC columns of C, the whole
// K x NC slice of op(B) is packed once into NR-wide micro-panels shared by every thread;
// then each thread takes a rectangle of C and, per MC x KC block of op(A) (packed into
// MR-row micro-panels, sized for L2), runs the micro-kernel over every B micro-panel
// (KC x NR, sized for L1) and every A micro-panel. Packing absorbs transA/transB, the
// leading dimensions, alpha and zero padding of edge tiles, so the kernels see one layout
// (gemm_kernels.h). Kernels exist per instruction set and are picked at run time.
// bfloat16 operands either pack into K-pair panels for the AVX512-BF16 kernel or widen to
// float32 while packing and run the float kernels: both accumulate in float32.
#include "gemm.h"
#include <sys/mman.h>
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <thread>
#include <type_traits>
#include "bfloat16.h"
#include "cpu_features.h"
#include "gemm_kernels.h"
#include "parallel.h"
#include "scratch.h"

namespace iv {
namespace {

constexpr int64_t kKb = kGemmKBlock;

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t roundUp(int64_t a, int64_t b) { return ceilDiv(a, b) * b; }

// T: the type of C and of the accumulators; P: the type of the packed panels (T, or
// bfloat16 in K pairs, whose kernel also takes alpha).
template <class T, class P>
using KernelFn = std::conditional_t<
    std::is_same_v<P, bfloat16>,
    void (*)(int64_t kc, const P* a, const P* b, T* c, int64_t ldc, T alpha, T beta, int64_t mr, int64_t nr,
             const P* next),
    void (*)(int64_t kc, const P* a, const P* b, T* c, int64_t ldc, T beta, int64_t mr, int64_t nr, const P* next)>;

template <class T>
using TransposeFn = void (*)(const T* src, int64_t lds, int64_t rows, int64_t cols, T* dst, int64_t ldd);

template <class T, class P = T>
struct Plan {
  int64_t mr, nr;  // micro-tile
  int64_t kc, mc;  // an A block (mc x kc) stays in L2 and a B micro-panel (kc x nr) in L1
  KernelFn<T, P> kernel;
  TransposeFn<P> transpose;  // vectorised transposing copy for packing, or null
};

// K rows of a packed B micro-panel: kc, rounded up to whole pairs for bfloat16 panels.
template <class P>
constexpr int64_t paddedK(int64_t kc) {
  return std::is_same_v<P, bfloat16> ? (kc + 1) / 2 * 2 : kc;
}

// Portable kernel for any x86-64: MR x NR accumulators in 16-byte vectors (SSE2 registers;
// GCC/Clang vector extensions), the same shape of loop as the ISA kernels.
template <class T, int MR, int NR>
void genericKernel(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, T beta, int64_t mr, int64_t nr,
                   const T*) {
  typedef T V __attribute__((vector_size(16)));
  constexpr int kL = 16 / sizeof(T), kNv = NR / kL;
  static_assert(NR % kL == 0, "NR is whole vectors");
  V acc[MR][kNv];
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
    for (int v = 0; v < kNv; v++) acc[i][v] = V{};
  for (int64_t k = 0; k < kc; k++) {
    const T* ap = a + (k / kKb) * MR * kKb + k % kKb;
    V bv[kNv];
#pragma GCC unroll 4
    for (int v = 0; v < kNv; v++) std::memcpy(&bv[v], b + k * NR + v * kL, sizeof(V));
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      const V av = V{} + ap[i * kKb];
#pragma GCC unroll 4
      for (int v = 0; v < kNv; v++) acc[i][v] += av * bv[v];
    }
  }
  T out[MR][NR];
  std::memcpy(out, acc, sizeof out);
  for (int64_t i = 0; i < mr; i++) {
    T* row = c + i * ldc;
    for (int64_t j = 0; j < nr; j++) {
      const T v = out[i][j];
      row[j] = beta == T(0) ? v : beta == T(1) ? row[j] + v : v + beta * row[j];
    }
  }
}

Plan<float> floatPlan(Isa isa = activeIsa()) {
  switch (isa) {
    case Isa::avx512:
      return {avx512::kSgemmMr, avx512::kSgemmNr, 256, 14 * 24, avx512::sgemmKernel, avx2::transposeF32};
    case Isa::avx2: return {avx2::kSgemmMr, avx2::kSgemmNr, 256, 6 * 40, avx2::sgemmKernel, avx2::transposeF32};
    default: return {6, 8, 256, 6 * 32, genericKernel<float, 6, 8>, nullptr};
  }
}

Plan<double> doublePlan() {
  switch (activeIsa()) {
    case Isa::avx512: return {avx512::kDgemmMr, avx512::kDgemmNr, 256, 14 * 16, avx512::dgemmKernel, nullptr};
    case Isa::avx2: return {avx2::kDgemmMr, avx2::kDgemmNr, 256, 6 * 24, avx2::dgemmKernel, nullptr};
    default: return {4, 4, 256, 4 * 48, genericKernel<double, 4, 4>, nullptr};
  }
}

// Only where avx512Bf16Active(). The float blocking: its bfloat16 panels take half the bytes
// (kc = 512, the same bytes, measured no faster).
Plan<float, bfloat16> bfloat16Plan() {
  return {avx512bf16::kMr, avx512bf16::kNr, 256, 14 * 24, avx512bf16::gemmKernel, avx512bf16::transposeBf16};
}

thread_local Scratch tlsPackA, tlsPackB;

// Per-panel state of a packed B slice while threads fill and read it: free, claimed by a
// thread that is packing it, or ready.
enum PanelState : int { kFree = 0, kPacking = 1, kReady = 2 };
struct PanelStates {
  std::unique_ptr<std::atomic<int>[]> s;
  int64_t cap = 0;
  std::atomic<int>* reset(int64_t n) {
    if (n > cap) {
      s.reset(new std::atomic<int>[n]);
      cap = n;
    }
    for (int64_t i = 0; i < n; i++) s[i].store(kFree, std::memory_order_relaxed);
    return s.get();
  }
};
thread_local PanelStates tlsPanelStates;

// Rows [i0, i0 + mc) x columns [k0, k0 + kc) of alpha * op(A), as MR-row micro-panels of
// roundUp(kc, 8) columns each (In is T, or bfloat16 widened on the way).
template <class In, class T>
void packA(const Plan<T>& pl, bool tA, const In* A, int64_t lda, int64_t i0, int64_t mc, int64_t k0, int64_t kc,
           T alpha, T* p) {
  const int64_t MR = pl.mr, kcp = roundUp(kc, kKb);
  for (int64_t ip = 0; ip < mc; ip += MR, p += MR * kcp) {
    const int64_t mr = std::min(MR, mc - ip);
    if (!tA) {
      for (int64_t i = 0; i < MR; i++) {
        T* dst = p + i * kKb;
        if (i >= mr) {
          for (int64_t k = 0; k < kcp; k += kKb) std::memset(dst + k * MR, 0, kKb * sizeof(T));
          continue;
        }
        const In* src = A + (i0 + ip + i) * lda + k0;
        int64_t k = 0;
        for (; k + kKb <= kc; k += kKb)
          for (int64_t kk = 0; kk < kKb; kk++) dst[k * MR + kk] = alpha * src[k + kk];
        for (int64_t kk = 0; k + kk < kc; kk++) dst[k * MR + kk] = alpha * src[k + kk];
      }
    } else if (std::is_same_v<In, T> && pl.transpose) {
      // Each block of 8 rows of A^T becomes MR rows of 8 (past kc: zero, never read).
      for (int64_t k = 0; k < kc; k += kKb) {
        T* dst = p + k * MR;
        const T* src = reinterpret_cast<const T*>(A) + (k0 + k) * lda + i0 + ip;
        pl.transpose(src, lda, std::min(kKb, kc - k), mr, dst, kKb);
        if (alpha != T(1))
          for (int64_t e = 0; e < mr * kKb; e++) dst[e] *= alpha;
        std::memset(dst + mr * kKb, 0, (MR - mr) * kKb * sizeof(T));
      }
    } else {
      for (int64_t k = 0; k < kc; k++) {
        const In* src = A + (k0 + k) * lda + i0 + ip;
        T* dst = p + (k / kKb) * MR * kKb + k % kKb;
        for (int64_t i = 0; i < mr; i++) dst[i * kKb] = alpha * src[i];
        for (int64_t i = mr; i < MR; i++) dst[i * kKb] = T(0);
      }
    }
  }
}

// Rows [k0, k0 + kc) x columns [j0, j0 + nr) of op(B) as one kc x NR micro-panel (In is T,
// or bfloat16 widened on the way).
template <class In, class T>
void packB(const Plan<T>& pl, bool tB, const In* B, int64_t ldb, int64_t k0, int64_t kc, int64_t j0, int64_t nr,
           int64_t NR, T* p) {
  if (std::is_same_v<In, T> && tB && pl.transpose) {
    pl.transpose(reinterpret_cast<const T*>(B) + j0 * ldb + k0, ldb, nr, kc, p, NR);
  } else if (!tB) {
    for (int64_t k = 0; k < kc; k++) {
      const In* src = B + (k0 + k) * ldb + j0;
      T* dst = p + k * NR;
      if constexpr (std::is_same_v<In, T>) std::memcpy(dst, src, nr * sizeof(T));
      else for (int64_t j = 0; j < nr; j++) dst[j] = T(src[j]);
      for (int64_t j = nr; j < NR; j++) dst[j] = T(0);
    }
  } else {
    for (int64_t j = 0; j < nr; j++) {
      const In* src = B + (j0 + j) * ldb + k0;
      for (int64_t k = 0; k < kc; k++) p[k * NR + j] = T(src[k]);
    }
    for (int64_t j = nr; j < NR; j++)
      for (int64_t k = 0; k < kc; k++) p[k * NR + j] = T(0);
  }
}

// The same two blocks as bfloat16 K-pair panels for the AVX512-BF16 kernel (layouts in
// gemm_kernels.h), zero past the edges and past an odd kc; the kernel applies alpha.
void packA(const Plan<float, bfloat16>& pl, bool tA, const bfloat16* A, int64_t lda, int64_t i0, int64_t mc,
           int64_t k0, int64_t kc, float, bfloat16* p) {
  const int64_t MR = pl.mr, kcp = roundUp(kc, kKb);
  for (int64_t ip = 0; ip < mc; ip += MR, p += MR * kcp) {
    const int64_t mr = std::min(MR, mc - ip);
    if (mr < MR || kc < kcp) std::fill(p, p + MR * kcp, bfloat16());
    if (!tA) {
      for (int64_t i = 0; i < mr; i++) {
        const bfloat16* src = A + (i0 + ip + i) * lda + k0;
        int64_t k = 0;
        for (; k + kKb <= kc; k += kKb) std::memcpy(p + k * MR + i * kKb, src + k, kKb * sizeof(bfloat16));
        if (k < kc) std::memcpy(p + k * MR + i * kKb, src + k, (kc - k) * sizeof(bfloat16));
      }
    } else {
      for (int64_t k = 0; k < kc; k += kKb)
        pl.transpose(A + (k0 + k) * lda + i0 + ip, lda, std::min(kKb, kc - k), mr, p + k * MR, kKb);
    }
  }
}

void packB(const Plan<float, bfloat16>&, bool tB, const bfloat16* B, int64_t ldb, int64_t k0, int64_t kc, int64_t j0,
           int64_t nr, int64_t NR, bfloat16* p) {
  if (nr < NR || kc % 2) std::fill(p, p + paddedK<bfloat16>(kc) * NR, bfloat16());
  if (!tB) {
    // Rows k and k + 1 interleaved (as raw words, which the compiler vectorises).
    uint16_t* dst = &p->bits;
    for (int64_t k = 0; k < kc; k += 2, dst += 2 * NR) {
      const uint16_t* r0 = &B[(k0 + k) * ldb + j0].bits;
      if (k + 1 < kc) {
        const uint16_t* r1 = r0 + ldb;
        for (int64_t j = 0; j < nr; j++) dst[2 * j] = r0[j], dst[2 * j + 1] = r1[j];
      } else {
        for (int64_t j = 0; j < nr; j++) dst[2 * j] = r0[j];
      }
    }
  } else {
    avx512bf16::packBTransposed(B + j0 * ldb + k0, ldb, kc, nr, NR, p);
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

// Equal K blocks (a multiple of 8 but the last), so no block is a thin remainder.
template <class T, class P>
int64_t kBlock(const Plan<T, P>& pl, int64_t K) {
  return roundUp(ceilDiv(K, ceilDiv(K, pl.kc)), kKb);
}

// The blocked product with its packed operands from fillA(i0, mc, k0, kc, dst), rows [i0, i0 +
// mc) x columns [k0, k0 + kc) of alpha * op(A) as MR-row micro-panels (packA's layout),
// written to dst (or, packed beforehand, found elsewhere: fillA returns where), and fillB(k0,
// kc, j0, nr, NR, dst), rows [k0, k0 + kc) x columns [j0, j0 + nr) of op(B) as one kc x NR
// micro-panel.
template <class T, class P, class FillA, class FillB>
void gemmCore(const Plan<T, P>& pl, int64_t M, int64_t N, int64_t K, T alpha, FillA&& fillA, FillB&& fillB, T beta,
              T* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) {
    scaleC(M, N, beta, C, ldc);
    return;
  }
  const int64_t MR = pl.mr, NR = pl.nr;
  const int64_t kcb = kBlock(pl, K), nkb = ceilDiv(K, kcb);
  const int64_t ncMax = std::max(NR, kMaxPackedB / K / NR * NR);
  const int64_t nc = roundUp(ceilDiv(N, ceilDiv(N, ncMax)), NR);
  const int64_t threads = std::max<int64_t>(1, std::min<int64_t>(numThreads(), M * N * K / kMinWorkPerThread));
  P* bp = tlsPackB.get<P>(paddedK<P>(K) * std::min(nc, roundUp(N, NR)));

  for (int64_t j0 = 0; j0 < N; j0 += nc) {
    const int64_t ncur = std::min(nc, N - j0), ncp = roundUp(ncur, NR), np = ncp / NR, items = nkb * np;
    // Panel w = kb * np + q (K block kb, columns q * NR on) is at bp + kb * kcb * ncp + q * kc * NR.
    auto panel = [&](int64_t w) {
      return bp + w / np * kcb * ncp + w % np * paddedK<P>(std::min(kcb, K - w / np * kcb)) * NR;
    };
    std::atomic<int>* state = tlsPanelStates.reset(items);
    auto packPanel = [&](int64_t w) {
      const int64_t kb = w / np, q = w % np, k0 = kb * kcb;
      fillB(k0, std::min(kcb, K - k0), j0 + q * NR, std::min(NR, ncur - q * NR), NR, panel(w));
      state[w].store(kReady, std::memory_order_release);
    };
    auto claim = [&](int64_t w) {
      int expected = kFree;
      return state[w].compare_exchange_strong(expected, kPacking, std::memory_order_relaxed);
    };

    // C is cut into row blocks (about MC rows, tile-aligned) times tn column groups, tn
    // chosen to minimise the largest per-thread share (a column split makes threads pack
    // the same A rows, costed as 8 columns). Threads claim blocks from a shared counter, so
    // one that is slowed down (another process on its core) takes fewer.
    const int64_t mt = ceilDiv(M, MR);
    int64_t tm = threads, tn = 1, best = -1;
    for (int64_t m = threads; m >= 1; m--) {
      if (threads % m) continue;
      const int64_t n = threads / m, cost = ceilDiv(mt, m) * (ceilDiv(np, n) * NR + 8);
      if (best < 0 || cost < best) best = cost, tm = m, tn = n;
    }
    const int64_t nmb = std::min(mt, roundUp(ceilDiv(M, pl.mc), tm)), units = nmb * tn;
    std::atomic<int64_t> nextUnit{0};
    // Each thread first packs B panels from its own starting point until it meets one
    // another thread has claimed, so they are shared out without a barrier and a thread
    // that starts late finds them done; later it waits only on a panel still being packed.
    parallelFor(threads, 1, [&](int64_t t0, int64_t t1) {
      P* ap = tlsPackA.get<P>(ceilDiv(mt, nmb) * MR * roundUp(kcb, kKb));
      for (int64_t t = t0; t < t1; t++)
        for (int64_t i = 0, w = items * t / threads; i < items && claim(w); i++, w = w + 1 == items ? 0 : w + 1)
          packPanel(w);
      for (int64_t u; (u = nextUnit.fetch_add(1, std::memory_order_relaxed)) < units;) {
        const int64_t b = u / tn, g = u % tn;
        const int64_t i0 = mt * b / nmb * MR, mc = std::min(M, mt * (b + 1) / nmb * MR) - i0;
        const int64_t q0 = np * g / tn, q1 = np * (g + 1) / tn;
        if (q0 >= q1) continue;
        for (int64_t kb = 0; kb < nkb; kb++) {
          const int64_t k0 = kb * kcb, kc = std::min(kcb, K - k0), kcp = roundUp(kc, kKb);
          const P* a = fillA(i0, mc, k0, kc, ap);
          const T bet = kb == 0 ? beta : T(1);
          // Each kernel call prefetches its share (kc / 8 lines) of the next B micro-panel.
          const int64_t share = kc / kKb * (64 / int64_t(sizeof(P))), kp = paddedK<P>(kc);
          for (int64_t q = q0; q < q1; q++) {
            const int64_t w = kb * np + q;
            while (state[w].load(std::memory_order_acquire) != kReady) std::this_thread::yield();
            const P* bq = panel(w);
            const int64_t nr = std::min(NR, ncur - q * NR);
            T* cq = C + i0 * ldc + j0 + q * NR;
            for (int64_t ir = 0; ir < mc; ir += MR) {
              const int64_t off = ir / MR * share;
              const P* next = q + 1 < q1 && off + share <= kp * NR ? bq + kp * NR + off : nullptr;
              if constexpr (std::is_same_v<P, bfloat16>)
                pl.kernel(kc, a + ir * kcp, bq, cq + ir * ldc, ldc, alpha, bet, std::min(MR, mc - ir), nr, next);
              else
                pl.kernel(kc, a + ir * kcp, bq, cq + ir * ldc, ldc, bet, std::min(MR, mc - ir), nr, next);
            }
          }
        }
      }
    });
  }
}

// ---- matrix-vector products ---------------------------------------------------------
// With M or N equal to 1 the product is a matrix-vector one and bound by reading the matrix
// once: packing it (three passes over it) would cost more than the multiply-adds. Two forms:
// dot products of the matrix's rows with the vector, or sums of its rows scaled by the
// vector's elements (axpy), both streaming the matrix in its own layout.

// 16-byte vectors (SSE2: the baseline, enough for a memory-bound loop).
template <class T>
struct Vec16;
template <>
struct Vec16<float> {
  typedef float type __attribute__((vector_size(16)));
};
template <>
struct Vec16<double> {
  typedef double type __attribute__((vector_size(16)));
};
template <class T>
using Vec = typename Vec16<T>::type;

// sum_k row[k] x[k], in four independent vector accumulators.
template <class T>
T dot(const T* row, const T* x, int64_t K) {
  constexpr int64_t L = 16 / sizeof(T);
  Vec<T> acc[4] = {};
  int64_t k = 0;
  for (; k + 4 * L <= K; k += 4 * L)
    for (int u = 0; u < 4; u++) {
      Vec<T> a, b;
      std::memcpy(&a, row + k + u * L, sizeof a);
      std::memcpy(&b, x + k + u * L, sizeof b);
      acc[u] += a * b;
    }
  const Vec<T> v = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  T s = 0;
  for (int64_t l = 0; l < L; l++) s += v[l];
  for (; k < K; k++) s += row[k] * x[k];
  return s;
}

// Stores y[i] = alpha * v + beta * y[i] (beta 0 never reads y).
template <class T>
inline void storeScaled(T* y, T v, T alpha, T beta) {
  *y = beta == T(0) ? alpha * v : alpha * v + beta * *y;
}

// y[i * incy] = alpha * sum_k A[i * lda + k] x[k] + beta * y[i * incy], i < rows: the dot
// form, rows split over threads.
template <class T>
void gemvDot(int64_t rows, int64_t K, const T* A, int64_t lda, const T* x, T alpha, T beta, T* y, int64_t incy) {
  parallelFor(rows, std::max<int64_t>(1, kMinWorkPerThread / std::max<int64_t>(K, 1)), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) storeScaled(y + i * incy, dot(A + i * lda, x, K), alpha, beta);
  });
}

// y[j * incy] = alpha * sum_k x[k] A[k * lda + j] + beta * y[j * incy], j < cols: the axpy
// form, columns split over threads in blocks whose sums stay in L1.
template <class T>
void gemvAxpy(int64_t cols, int64_t K, const T* A, int64_t lda, const T* x, T alpha, T beta, T* y, int64_t incy) {
  constexpr int64_t kMaxBlock = 1024;
  // At least one block per thread when the work is worth splitting.
  const int64_t threads = std::min<int64_t>(numThreads(), std::max<int64_t>(1, cols * K / kMinWorkPerThread));
  const int64_t block = std::min(kMaxBlock, roundUp(ceilDiv(cols, threads), 16));
  parallelFor(ceilDiv(cols, block), 1,
              [&](int64_t b0, int64_t b1) {
                T acc[kMaxBlock];
                for (int64_t b = b0; b < b1; b++) {
                  const int64_t j0 = b * block, n = std::min(block, cols - j0);
                  std::fill(acc, acc + n, T(0));
                  for (int64_t k = 0; k < K; k++) {
                    const T* row = A + k * lda + j0;
                    const T s = x[k];
                    for (int64_t j = 0; j < n; j++) acc[j] += s * row[j];
                  }
                  for (int64_t j = 0; j < n; j++) storeScaled(y + (j0 + j) * incy, acc[j], alpha, beta);
                }
              });
}

thread_local Scratch tlsVector;

// The product when M or N is 1 (and K > 0, alpha != 0): true if it was one.
template <class T>
bool gemv(bool tA, bool tB, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
          int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M != 1 && N != 1) return false;
  // The vector operand, contiguous (copied where it is strided).
  auto contiguous = [&](const T* v, int64_t stride) {
    if (stride == 1) return v;
    T* c = tlsVector.get<T>(K);
    for (int64_t k = 0; k < K; k++) c[k] = v[k * stride];
    return static_cast<const T*>(c);
  };
  if (N == 1) {  // C[:, 0] = op(A) x, x = op(B)[:, 0]
    const T* x = contiguous(B, tB ? 1 : ldb);
    if (!tA) gemvDot(M, K, A, lda, x, alpha, beta, C, ldc);
    else gemvAxpy(M, K, A, lda, x, alpha, beta, C, ldc);
  } else {  // C[0, :] = a op(B), a = op(A)[0, :]
    const T* a = contiguous(A, tA ? lda : 1);
    if (!tB) gemvAxpy(N, K, B, ldb, a, alpha, beta, C, 1);
    else gemvDot(N, K, B, ldb, a, alpha, beta, C, 1);
  }
  return true;
}

template <class In, class T, class P>
void gemm(const Plan<T, P>& pl, bool tA, bool tB, int64_t M, int64_t N, int64_t K, T alpha, const In* A, int64_t lda,
          const In* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if constexpr (std::is_same_v<In, T>)
    if (M > 0 && N > 0 && K > 0 && alpha != T(0) && gemv(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) return;
  gemmCore(
      pl, M, N, K, alpha,
      [&](int64_t i0, int64_t mc, int64_t k0, int64_t kc, P* dst) {
        packA(pl, tA, A, lda, i0, mc, k0, kc, alpha, dst);
        return dst;
      },
      [&](int64_t k0, int64_t kc, int64_t j0, int64_t nr, int64_t NR, P* dst) {
        packB(pl, tB, B, ldb, k0, kc, j0, nr, NR, dst);
      },
      beta, C, ldc);
}

// Products smaller than this (multiply-adds) go one per thread rather than split inside.
constexpr int64_t kMinInsideWork = int64_t(1) << 21;

template <class In, class T, class P>
void gemmBatched(const Plan<T, P>& pl, int64_t batch, bool tA, bool tB, int64_t M, int64_t N, int64_t K, T alpha,
                 const In* A, int64_t lda, int64_t sA, const In* B, int64_t ldb, int64_t sB, T beta, T* C, int64_t ldc,
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

bool gemmFillsBetterTransposed(int64_t M, int64_t N) {
  const Plan<float> pl = floatPlan();
  const auto fill = [&](int64_t rows, int64_t cols) {
    return double(rows) / roundUp(rows, pl.mr) * double(cols) / roundUp(cols, pl.nr);
  };
  return M > 0 && N > 0 && fill(N, M) > 1.1 * fill(M, N);
}

void sgemm(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
           int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm(floatPlan(), tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
void dgemm(bool tA, bool tB, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
           const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  gemm(doublePlan(), tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
void sgemmFilledB(bool tA, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, FillPanelFn fill, void* ctx,
                  float beta, float* C, int64_t ldc) {
  const Plan<float> pl = floatPlan();
  gemmCore(
      pl, M, N, K, 1.0f,
      [&](int64_t i0, int64_t mc, int64_t k0, int64_t kc, float* dst) {
        packA(pl, tA, A, lda, i0, mc, k0, kc, 1.0f, dst);
        return dst;
      },
      [&](int64_t k0, int64_t kc, int64_t j0, int64_t nr, int64_t NR, float* dst) { fill(ctx, k0, kc, j0, nr, NR, dst); },
      beta, C, ldc);
}

void sgemmPackA(bool tA, int64_t M, int64_t K, const float* A, int64_t lda, PackedA& p) {
  p.M = M, p.K = K, p.isa = activeIsa();
  const Plan<float> pl = floatPlan(p.isa);
  const int64_t kcb = kBlock(pl, std::max<int64_t>(K, 1)), rows = roundUp(std::max<int64_t>(M, 0), pl.mr);
  p.panels.resize(static_cast<size_t>(rows * roundUp(std::max<int64_t>(K, 0), kKb)));
  // K block k0 / kcb at k0 * rows, its MR-row micro-panels one after another (packA's layout);
  // the threads take runs of micro-panels.
  const int64_t mt = rows / pl.mr, items = ceilDiv(K, kcb) * mt;
  parallelFor(items, 4, [&](int64_t a, int64_t b) {
    while (a < b) {
      const int64_t k0 = a / mt * kcb, kc = std::min(kcb, K - k0), p0 = a % mt, p1 = std::min(mt, p0 + (b - a));
      const int64_t i0 = p0 * pl.mr;
      packA(pl, tA, A, lda, i0, std::min(M, p1 * pl.mr) - i0, k0, kc, 1.0f,
            p.panels.data() + k0 * rows + i0 * roundUp(kc, kKb));
      a += p1 - p0;
    }
  });
}

void sgemmPackedA(const PackedA& A, bool tB, int64_t N, const float* B, int64_t ldb, float beta, float* C,
                  int64_t ldc) {
  const Plan<float> pl = floatPlan(A.isa);
  const int64_t rows = roundUp(A.M, pl.mr);
  gemmCore(
      pl, A.M, N, A.K, 1.0f,
      [&](int64_t i0, int64_t, int64_t k0, int64_t kc, float*) {
        return A.panels.data() + k0 * rows + i0 * roundUp(kc, kKb);
      },
      [&](int64_t k0, int64_t kc, int64_t j0, int64_t nr, int64_t NR, float* dst) {
        packB(pl, tB, B, ldb, k0, kc, j0, nr, NR, dst);
      },
      beta, C, ldc);
}

void sgemmBatched(int64_t batch, bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, int64_t sA, const float* B, int64_t ldb, int64_t sB, float beta, float* C, int64_t ldc,
                  int64_t sC) {
  gemmBatched(floatPlan(), batch, tA, tB, M, N, K, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC);
}
void dgemmBatched(int64_t batch, bool tA, bool tB, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                  int64_t lda, int64_t sA, const double* B, int64_t ldb, int64_t sB, double beta, double* C,
                  int64_t ldc, int64_t sC) {
  gemmBatched(doublePlan(), batch, tA, tB, M, N, K, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC);
}
void sbgemm(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const bfloat16* A, int64_t lda,
            const bfloat16* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (avx512Bf16Active()) gemm(bfloat16Plan(), tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else gemm(floatPlan(), tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
void sbgemmBatched(int64_t batch, bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const bfloat16* A,
                   int64_t lda, int64_t sA, const bfloat16* B, int64_t ldb, int64_t sB, float beta, float* C,
                   int64_t ldc, int64_t sC) {
  if (avx512Bf16Active())
    gemmBatched(bfloat16Plan(), batch, tA, tB, M, N, K, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC);
  else gemmBatched(floatPlan(), batch, tA, tB, M, N, K, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC);
}

}  // namespace iv
