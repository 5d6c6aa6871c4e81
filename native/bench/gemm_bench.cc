// GEMM throughput: GFLOP/s of iv::sgemm (and dgemm with --double) at the standard shapes
// (M x K x N), for every ISA path this CPU runs. Threads: INTERN_VISION_NUM_THREADS
// (default: all cores). Build with build-gemm-bench.sh.
//   gemm_bench [--isa generic|avx2|avx512] [--double] [--tA] [--tB] [MxKxN ...]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>
#include "../cpu/gemm.h"
#include "../cpu/parallel.h"
#include "isa_stub.h"

namespace {

struct Shape {
  int64_t m, k, n;
};

template <class T>
double gflops(const Shape& s, bool tA, bool tB) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<T> a(s.m * s.k), b(s.k * s.n), c(s.m * s.n);
  for (auto& x : a) x = u(rng);
  for (auto& x : b) x = u(rng);
  const int64_t lda = tA ? s.m : s.k, ldb = tB ? s.k : s.n;
  auto run = [&] {
    if constexpr (sizeof(T) == 4)
      iv::sgemm(tA, tB, s.m, s.n, s.k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(), s.n);
    else
      iv::dgemm(tA, tB, s.m, s.n, s.k, 1.0, a.data(), lda, b.data(), ldb, 0.0, c.data(), s.n);
  };
  const double flop = 2.0 * s.m * s.n * s.k;
  const int reps = std::max(1, static_cast<int>(2e9 / flop));
  for (int i = 0; i < std::max(2, reps / 4); i++) run();
  double best = 1e30;
  for (int trial = 0; trial < 7; trial++) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; i++) run();
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
    best = std::min(best, dt);
  }
  return flop / best / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<iv::Isa> isas;
  std::vector<Shape> shapes;
  bool dbl = false, tA = false, tB = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--double") dbl = true;
    else if (a == "--tA") tA = true;
    else if (a == "--tB") tB = true;
    else if (a == "--isa" && i + 1 < argc) {
      std::string v = argv[++i];
      isas.push_back(v == "avx512" ? iv::Isa::avx512 : v == "avx2" ? iv::Isa::avx2 : iv::Isa::generic);
    } else {
      Shape s;
      if (std::sscanf(a.c_str(), "%ldx%ldx%ld", &s.m, &s.k, &s.n) != 3) {
        std::fprintf(stderr, "bad argument %s\n", a.c_str());
        return 2;
      }
      shapes.push_back(s);
    }
  }
  if (isas.empty())
    for (int i = static_cast<int>(iv::detectIsa()); i >= 0; i--) isas.push_back(static_cast<iv::Isa>(i));
  if (shapes.empty())
    shapes = {{256, 256, 256}, {512, 512, 512}, {1024, 1024, 1024}, {2048, 2048, 2048},
              {3136, 576, 64}, {784, 1152, 128}, {50176, 147, 64}};
  std::printf("%s GFLOP/s, %d threads%s%s\n%-16s", dbl ? "dgemm" : "sgemm", iv::numThreads(), tA ? ", transA" : "",
              tB ? ", transB" : "", "MxKxN");
  for (auto isa : isas) std::printf("%10s", iv::isaName(isa));
  std::printf("\n");
  for (const Shape& s : shapes) {
    char name[64];
    std::snprintf(name, sizeof name, "%ldx%ldx%ld", s.m, s.k, s.n);
    std::printf("%-16s", name);
    for (auto isa : isas) {
      iv::setActiveIsaForBench(isa);
      std::printf("%10.1f", dbl ? gflops<double>(s, tA, tB) : gflops<float>(s, tA, tB));
      std::fflush(stdout);
    }
    std::printf("\n");
  }
}
