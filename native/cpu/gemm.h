// General matrix multiply, row-major: C = alpha * op(A) * op(B) + beta * C, where op(A) is
// M x K (A[i*lda + k], or A[k*lda + i] when transA) and op(B) is K x N. Every conv, linear
// and attention kernel sits on these. Multithreaded inside; beta == 0 ignores C's contents
// (NaNs included), as BLAS does.
#pragma once
#include <cstdint>
#include <type_traits>
#include <vector>
#include "cpu_features.h"

namespace iv {

struct bfloat16;

void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void dgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
           const double* B, int64_t ldb, double beta, double* C, int64_t ldc);

// Whether an M x N product fills the float kernel's micro-tiles (rows x panel columns)
// better, by a tenth or more, as its N x M transpose: 64 x 27 fills 27 of 32 panel columns
// and 64 of 70 tile rows on AVX-512, its transpose 27 of 28 rows and whole panels.
bool gemmFillsBetterTransposed(int64_t M, int64_t N);

// C = op(A) * B + beta * C for a B that is not stored as a matrix (the convolutions' column
// matrix): fill(ctx, k0, kc, j0, nr, NR, dst) writes rows [k0, k0 + kc) x columns [j0, j0 + nr)
// of B into dst[k * NR + j], and zero for nr <= j < NR, where NR is the kernel's panel width.
// Threads call it concurrently, once per panel, and read every panel it writes M times.
using FillPanelFn = void (*)(void* ctx, int64_t k0, int64_t kc, int64_t j0, int64_t nr, int64_t NR, float* dst);
void sgemmFilledB(bool transA, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, FillPanelFn fill,
                  void* ctx, float beta, float* C, int64_t ldc);
template <class F>
inline void sgemmFilledB(bool transA, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, F&& fill,
                         float beta, float* C, int64_t ldc) {
  using Fn = std::remove_reference_t<F>;
  auto tramp = [](void* c, int64_t k0, int64_t kc, int64_t j0, int64_t nr, int64_t NR, float* dst) {
    (*static_cast<Fn*>(c))(k0, kc, j0, nr, NR, dst);
  };
  sgemmFilledB(transA, M, N, K, A, lda, tramp, const_cast<void*>(static_cast<const void*>(&fill)), beta, C, ldc);
}

// op(A) packed once into the float kernel's panels, for products that share it (a
// convolution's weights, image after image): sgemmPackedA then packs only B. The panels are
// laid out for the kernel set active when packing, which the products keep using.
struct PackedA {
  int64_t M = 0, K = 0;
  Isa isa = Isa::generic;
  std::vector<float> panels;
};
// Packs op(A) into `packed`, reusing its storage (a PackedA kept between calls allocates
// nothing once it has grown).
void sgemmPackA(bool transA, int64_t M, int64_t K, const float* A, int64_t lda, PackedA& packed);
// C = A * op(B) + beta * C, A from sgemmPackA.
void sgemmPackedA(const PackedA& A, bool transB, int64_t N, const float* B, int64_t ldb, float beta, float* C,
                  int64_t ldc);

// `batch` independent products, matrix b of each operand at base + b * stride (stride 0
// broadcasts one matrix to every product). Small products are spread over threads by batch.
void sgemmBatched(int64_t batch, bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
                  const float* A, int64_t lda, int64_t strideA, const float* B, int64_t ldb, int64_t strideB, float beta,
                  float* C, int64_t ldc, int64_t strideC);
void dgemmBatched(int64_t batch, bool transA, bool transB, int64_t M, int64_t N, int64_t K, double alpha,
                  const double* A, int64_t lda, int64_t strideA, const double* B, int64_t ldb, int64_t strideB,
                  double beta, double* C, int64_t ldc, int64_t strideC);

// bfloat16 A and B, float32 C and accumulation (OpenBLAS's sbgemm): AVX512-BF16 dot products
// where avx512Bf16Active(), else the operands widen to float32 as they are packed. An odd K
// is padded with a zero pair element.
void sbgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const bfloat16* A, int64_t lda,
            const bfloat16* B, int64_t ldb, float beta, float* C, int64_t ldc);
void sbgemmBatched(int64_t batch, bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
                   const bfloat16* A, int64_t lda, int64_t strideA, const bfloat16* B, int64_t ldb, int64_t strideB,
                   float beta, float* C, int64_t ldc, int64_t strideC);

}  // namespace iv
