// GEMM correctness: iv::sgemm/dgemm (and the batched forms) against a naive double-precision
// reference, for every ISA path this CPU runs and several thread counts. Covers all trans
// combinations, every M, N and K in 1..70 plus large and multi-slice shapes, padded leading
// dimensions (the padding must stay untouched), alpha/beta variants, beta == 0 over a
// NaN-filled C, and batches with stride 0. Exit status 1 on any mismatch.
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>
#include "../cpu/gemm.h"
#include "../cpu/parallel.h"
#include "isa_stub.h"

namespace {

std::mt19937 rng(12345);
int64_t randInt(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }

struct Case {
  bool tA, tB;
  int64_t m, n, k;
  double alpha, beta;
  int64_t padA, padB, padC;
  int64_t batch = 1;
  bool zeroStrideA = false, zeroStrideB = false, zeroStrideC = false;
  bool packedA = false;  // sgemmPackA + sgemmPackedA (float, alpha 1, one product)
};

long failures = 0, checked = 0;

template <class T>
void runCase(const Case& cs) {
  const int64_t rowsA = cs.tA ? cs.k : cs.m, colsA = cs.tA ? cs.m : cs.k;
  const int64_t rowsB = cs.tB ? cs.n : cs.k, colsB = cs.tB ? cs.k : cs.n;
  const int64_t lda = colsA + cs.padA, ldb = colsB + cs.padB, ldc = cs.n + cs.padC;
  const int64_t sA = cs.zeroStrideA ? 0 : rowsA * lda + randInt(0, 3);
  const int64_t sB = cs.zeroStrideB ? 0 : rowsB * ldb + randInt(0, 3);
  const int64_t sC = cs.zeroStrideC ? 0 : cs.m * ldc + randInt(0, 3);
  const int64_t nb = cs.batch;
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<T> A(sA * (nb - 1) + rowsA * lda), B(sB * (nb - 1) + rowsB * ldb);
  // Trailing guard elements catch writes past the last row.
  std::vector<T> C(sC * (nb - 1) + cs.m * ldc + 64);
  for (auto& x : A) x = static_cast<T>(u(rng));
  for (auto& x : B) x = static_cast<T>(u(rng));
  const T sentinel = static_cast<T>(12345.5);
  for (auto& x : C) x = cs.beta == 0 ? std::numeric_limits<T>::quiet_NaN() : sentinel;
  for (int64_t b = 0; b < nb; b++)  // inside each product C starts finite unless beta == 0
    for (int64_t i = 0; i < cs.m; i++)
      for (int64_t j = 0; j < cs.n; j++)
        if (cs.beta != 0) C[b * sC + i * ldc + j] = static_cast<T>(u(rng));
  std::vector<T> C0 = C;
  std::vector<double> ref(C.begin(), C.end()), mag(C.size(), 0.0);
  for (int64_t b = 0; b < nb; b++) {
    const T* a = A.data() + b * sA;
    const T* bm = B.data() + b * sB;
    for (int64_t i = 0; i < cs.m; i++)
      for (int64_t j = 0; j < cs.n; j++) {
        double s = 0, sa = 0;
        for (int64_t k = 0; k < cs.k; k++) {
          const double x = cs.tA ? a[k * lda + i] : a[i * lda + k];
          const double y = cs.tB ? bm[j * ldb + k] : bm[k * ldb + j];
          s += x * y;
          sa += std::fabs(x * y);
        }
        double& r = ref[b * sC + i * ldc + j];
        const double c0 = cs.beta == 0 ? 0.0 : r;
        r = cs.alpha * s + (cs.beta == 0 ? 0.0 : cs.beta * c0);
        mag[b * sC + i * ldc + j] = std::fabs(cs.alpha) * sa + std::fabs(cs.beta * c0) + mag[b * sC + i * ldc + j];
      }
  }
  if (cs.packedA) {
    if constexpr (sizeof(T) == 4) {
      static iv::PackedA packed;  // reused from case to case, as the convolutions reuse theirs
      iv::sgemmPackA(cs.tA, cs.m, cs.k, A.data(), lda, packed);
      iv::sgemmPackedA(packed, cs.tB, cs.n, B.data(), ldb, float(cs.beta), C.data(), ldc);
    }
  } else if (nb == 1) {
    if constexpr (sizeof(T) == 4)
      iv::sgemm(cs.tA, cs.tB, cs.m, cs.n, cs.k, float(cs.alpha), A.data(), lda, B.data(), ldb, float(cs.beta), C.data(),
                ldc);
    else
      iv::dgemm(cs.tA, cs.tB, cs.m, cs.n, cs.k, cs.alpha, A.data(), lda, B.data(), ldb, cs.beta, C.data(), ldc);
  } else {
    if constexpr (sizeof(T) == 4)
      iv::sgemmBatched(nb, cs.tA, cs.tB, cs.m, cs.n, cs.k, float(cs.alpha), A.data(), lda, sA, B.data(), ldb, sB,
                       float(cs.beta), C.data(), ldc, sC);
    else
      iv::dgemmBatched(nb, cs.tA, cs.tB, cs.m, cs.n, cs.k, cs.alpha, A.data(), lda, sA, B.data(), ldb, sB, cs.beta,
                       C.data(), ldc, sC);
  }
  checked++;
  const double eps = std::numeric_limits<T>::epsilon();
  std::vector<char> inside(C.size(), 0);
  for (int64_t b = 0; b < nb; b++)
    for (int64_t i = 0; i < cs.m; i++)
      for (int64_t j = 0; j < cs.n; j++) inside[b * sC + i * ldc + j] = 1;
  for (size_t p = 0; p < C.size(); p++) {
    bool ok;
    if (inside[p]) ok = std::fabs(C[p] - ref[p]) <= 2 * eps * (cs.k + 4) * mag[p] + 1e-30;
    else ok = std::isnan(static_cast<double>(C0[p])) ? std::isnan(static_cast<double>(C[p])) : C[p] == C0[p];
    if (!ok) {
      if (failures++ < 20)
        std::printf("FAIL %s isa=%s threads=%d tA=%d tB=%d M=%ld N=%ld K=%ld alpha=%g beta=%g pads=%ld,%ld,%ld "
                    "batch=%ld zs=%d%d%d at %zu (%s): got %.9g want %.9g\n",
                    sizeof(T) == 4 ? "sgemm" : "dgemm", iv::isaName(iv::activeIsa()), iv::numThreads(), cs.tA, cs.tB,
                    cs.m, cs.n, cs.k, cs.alpha, cs.beta, cs.padA, cs.padB, cs.padC, cs.batch, cs.zeroStrideA,
                    cs.zeroStrideB, cs.zeroStrideC, p, inside[p] ? "inside" : "padding", double(C[p]), ref[p]);
      return;
    }
  }
}

const double kAlphas[] = {1.0, -0.5, 2.0, 0.0};
const double kBetas[] = {0.0, 1.0, -1.5, 0.5};

Case randomCase(int64_t m, int64_t n, int64_t k) {
  Case c;
  c.tA = randInt(0, 1);
  c.tB = randInt(0, 1);
  c.m = m, c.n = n, c.k = k;
  c.alpha = randInt(0, 5) ? kAlphas[randInt(0, 2)] : kAlphas[randInt(0, 3)];
  c.beta = kBetas[randInt(0, 3)];
  c.padA = randInt(0, 1) ? 0 : randInt(1, 9);
  c.padB = randInt(0, 1) ? 0 : randInt(1, 9);
  c.padC = randInt(0, 1) ? 0 : randInt(1, 9);
  return c;
}

template <class T>
void suite(bool full) {
  if (full) {
    // Every size 1..70 in each dimension, the other two random, all trans combos.
    for (int64_t s = 1; s <= 70; s++)
      for (int tr = 0; tr < 4; tr++) {
        Case c1 = randomCase(s, randInt(1, 70), randInt(1, 70));
        Case c2 = randomCase(randInt(1, 70), s, randInt(1, 70));
        Case c3 = randomCase(randInt(1, 70), randInt(1, 70), s);
        for (Case* c : {&c1, &c2, &c3}) {
          c->tA = tr & 1, c->tB = tr >> 1;
          runCase<T>(*c);
        }
      }
    for (int i = 0; i < 200; i++) runCase<T>(randomCase(randInt(1, 70), randInt(1, 70), randInt(1, 70)));
    for (double a : kAlphas)
      for (double b : kBetas) {
        Case c = randomCase(randInt(1, 40), randInt(1, 40), randInt(1, 40));
        c.alpha = a, c.beta = b;
        runCase<T>(c);
      }
    // Degenerate: K == 0 scales C by beta; M or N == 0 touches nothing.
    for (double b : kBetas) {
      Case c = randomCase(7, 9, 0);
      c.beta = b;
      runCase<T>(c);
    }
    runCase<T>(randomCase(0, 5, 5));
    runCase<T>(randomCase(5, 0, 5));
  }
  // Large (M, N, K): several K blocks, MC blocks and thread rectangles; a K big enough that
  // B is packed in several column slices; tall-skinny, short-wide and tiny-N shapes.
  const int64_t big[][3] = {{300, 129, 517}, {1025, 33, 1023}, {257, 260, 700}, {5, 100, 70000},
                            {3000, 64, 147}, {3, 900, 200},    {130, 2000, 9},  {333, 350, 410}};
  for (auto& s : big)
    for (int tr = 0; tr < 4; tr++) {
      Case c = randomCase(s[0], s[1], s[2]);
      c.tA = tr & 1, c.tB = tr >> 1;
      runCase<T>(c);
    }
  // A packed once (float only): every size 1..70 in one dimension at a time, and the large
  // shapes (several K blocks, MC blocks and column slices).
  if constexpr (sizeof(T) == 4) {
    auto packed = [](Case c) {
      c.packedA = true, c.alpha = 1.0;
      runCase<T>(c);
    };
    if (full)
      for (int64_t s = 1; s <= 70; s++) {
        packed(randomCase(s, randInt(1, 70), randInt(1, 70)));
        packed(randomCase(randInt(1, 70), s, randInt(1, 70)));
        packed(randomCase(randInt(1, 70), randInt(1, 70), s));
      }
    for (auto& s : big) packed(randomCase(s[0], s[1], s[2]));
  }
  // Batched: small products (spread over the batch) and large ones (split inside), with
  // stride-0 operands, and stride-0 C (products accumulate in order).
  for (int i = 0; i < 40; i++) {
    const bool large = i % 4 == 3;
    Case c = large ? randomCase(randInt(100, 200), randInt(100, 200), randInt(100, 200))
                   : randomCase(randInt(1, 40), randInt(1, 40), randInt(1, 40));
    c.batch = randInt(1, 5);
    c.zeroStrideA = i % 3 == 1;
    c.zeroStrideB = i % 3 == 2;
    runCase<T>(c);
  }
  for (int i = 0; i < 4; i++) {
    Case c = randomCase(randInt(1, 30), randInt(1, 30), randInt(1, 30));
    c.batch = 3;
    c.zeroStrideC = true;
    c.beta = 1.0;
    runCase<T>(c);
  }
}

}  // namespace

int main() {
  const int defaultThreads = iv::numThreads();
  for (int i = static_cast<int>(iv::detectIsa()); i >= 0; i--) {
    const auto isa = static_cast<iv::Isa>(i);
    iv::setActiveIsaForBench(isa);
    for (int threads : {defaultThreads, 1, 3}) {
      iv::setNumThreads(threads);
      const long before = failures, n0 = checked;
      suite<float>(threads == defaultThreads);
      suite<double>(threads == defaultThreads);
      std::printf("%-8s threads=%d: %ld cases, %s\n", iv::isaName(isa), threads, checked - n0,
                  failures == before ? "ok" : "FAILED");
      std::fflush(stdout);
    }
    iv::setNumThreads(defaultThreads);
  }
  std::printf("%s: %ld cases, %ld failures\n", failures ? "FAIL" : "PASS", checked, failures);
  return failures ? 1 : 0;
}
