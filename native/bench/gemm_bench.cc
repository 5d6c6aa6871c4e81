// GEMM throughput: GFLOP/s of iv::sgemm (or dgemm with --double) at the standard shapes
// (M x K x N), for every ISA path this CPU runs, plus OpenBLAS when built with
// -DGEMM_BENCH_OPENBLAS. Columns are timed in interleaved rounds and the best round is
// kept, so a busy machine penalises them alike. Threads: INTERN_VISION_NUM_THREADS
// (default: all cores; OpenBLAS follows OPENBLAS_NUM_THREADS). Build: build-gemm-bench.sh.
//   gemm_bench [--isa generic|avx2|avx512]... [--double] [--tA] [--tB] [MxKxN ...]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>
#include "../cpu/gemm.h"
#include "../cpu/parallel.h"
#include "isa_stub.h"
#ifdef GEMM_BENCH_OPENBLAS
#include <cblas.h>
#endif

namespace {

struct Shape {
  int64_t m, k, n;
};

struct Column {
  std::string name;
  iv::Isa isa;
  bool openblas;
};

template <class T>
void runColumn(const Column& col, const Shape& s, bool tA, bool tB, const T* a, const T* b, T* c) {
  const int64_t lda = tA ? s.m : s.k, ldb = tB ? s.k : s.n;
#ifdef GEMM_BENCH_OPENBLAS
  if (col.openblas) {
    const auto ta = tA ? CblasTrans : CblasNoTrans, tb = tB ? CblasTrans : CblasNoTrans;
    if constexpr (sizeof(T) == 4)
      cblas_sgemm(CblasRowMajor, ta, tb, s.m, s.n, s.k, 1.0f, a, lda, b, ldb, 0.0f, c, s.n);
    else
      cblas_dgemm(CblasRowMajor, ta, tb, s.m, s.n, s.k, 1.0, a, lda, b, ldb, 0.0, c, s.n);
    return;
  }
#endif
  iv::setActiveIsaForBench(col.isa);
  if constexpr (sizeof(T) == 4)
    iv::sgemm(tA, tB, s.m, s.n, s.k, 1.0f, a, lda, b, ldb, 0.0f, c, s.n);
  else
    iv::dgemm(tA, tB, s.m, s.n, s.k, 1.0, a, lda, b, ldb, 0.0, c, s.n);
}

template <class T>
std::vector<double> measure(const std::vector<Column>& cols, const Shape& s, bool tA, bool tB) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<T> a(s.m * s.k), b(s.k * s.n), c(s.m * s.n);
  for (auto& x : a) x = u(rng);
  for (auto& x : b) x = u(rng);
  const double flop = 2.0 * s.m * s.n * s.k;
  const int reps = std::max(1, static_cast<int>(1e9 / flop));
  std::vector<double> best(cols.size(), 1e30);
  for (size_t i = 0; i < cols.size(); i++)
    for (int r = 0; r < std::max(2, reps / 4); r++) runColumn(cols[i], s, tA, tB, a.data(), b.data(), c.data());
  for (int round = 0; round < 9; round++)
    for (size_t i = 0; i < cols.size(); i++) {
      auto t0 = std::chrono::steady_clock::now();
      for (int r = 0; r < reps; r++) runColumn(cols[i], s, tA, tB, a.data(), b.data(), c.data());
      best[i] = std::min(best[i], std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps);
    }
  for (double& t : best) t = flop / t / 1e9;
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Column> cols;
  std::vector<Shape> shapes;
  bool dbl = false, tA = false, tB = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--double") dbl = true;
    else if (a == "--tA") tA = true;
    else if (a == "--tB") tB = true;
    else if (a == "--isa" && i + 1 < argc) {
      std::string v = argv[++i];
      cols.push_back({v, v == "avx512" ? iv::Isa::avx512 : v == "avx2" ? iv::Isa::avx2 : iv::Isa::generic, false});
    } else {
      Shape s;
      if (std::sscanf(a.c_str(), "%ldx%ldx%ld", &s.m, &s.k, &s.n) != 3) {
        std::fprintf(stderr, "bad argument %s\n", a.c_str());
        return 2;
      }
      shapes.push_back(s);
    }
  }
  if (cols.empty())
    for (int i = static_cast<int>(iv::detectIsa()); i >= 0; i--) {
      const auto isa = static_cast<iv::Isa>(i);
      cols.push_back({iv::isaName(isa), isa, false});
    }
#ifdef GEMM_BENCH_OPENBLAS
  cols.push_back({"openblas", iv::Isa::generic, true});
#endif
  if (shapes.empty())
    shapes = {{256, 256, 256}, {512, 512, 512}, {1024, 1024, 1024}, {2048, 2048, 2048},
              {3136, 576, 64}, {784, 1152, 128}, {50176, 147, 64}};
  std::printf("%s GFLOP/s, %d threads%s%s\n%-16s", dbl ? "dgemm" : "sgemm", iv::numThreads(), tA ? ", transA" : "",
              tB ? ", transB" : "", "MxKxN");
  for (const Column& c : cols) std::printf("%10s", c.name.c_str());
  std::printf("\n");
  for (const Shape& s : shapes) {
    char name[64];
    std::snprintf(name, sizeof name, "%ldx%ldx%ld", s.m, s.k, s.n);
    std::printf("%-16s", name);
    for (double g : dbl ? measure<double>(cols, s, tA, tB) : measure<float>(cols, s, tA, tB)) std::printf("%10.1f", g);
    std::printf("\n");
    std::fflush(stdout);
  }
}
