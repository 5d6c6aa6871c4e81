// General matrix multiply, row-major: C = alpha * op(A) * op(B) + beta * C, where op(A) is
// M x K (A[i*lda + k], or A[k*lda + i] when transA) and op(B) is K x N. Every conv, linear
// and attention kernel sits on these. Multithreaded inside; beta == 0 ignores C's contents
// (NaNs included), as BLAS does.
#pragma once
#include <cstdint>

namespace iv {

struct bfloat16;

void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void dgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
           const double* B, int64_t ldb, double beta, double* C, int64_t ldc);

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
