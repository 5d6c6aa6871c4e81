// GEMM micro-kernels compiled per instruction set (gemm_kernels_avx2.cc, _avx512.cc). They
// are plain functions over raw pointers: those files must not emit inline or template code
// that a baseline caller could end up linked against. gemm.cc packs, blocks and dispatches.
//
// Packed operands, as gemm.cc lays them out:
//   A micro-panel, MR rows x kc: element (i, k) at a[(k / 8) * MR * 8 + i * 8 + k % 8], so a
//     row of A is copied in runs of 8 and the kernel's broadcasts use short displacements.
//   B micro-panel, kc x NR: element (k, j) at b[k * NR + j].
//   Rows of A and columns of B past the matrix edge are zero.
// A kernel forms the MR x NR product over kc and writes its top-left mr x nr corner to C
// (row stride ldc): C = AB when beta == 0 (C is not read), C += AB when beta == 1, else
// C = AB + beta * C. Unless null, `next` is a stretch of kc / 8 cache lines of the next B
// micro-panel that the kernel pulls into L2 while it computes.
#pragma once
#include <cstdint>

namespace iv {

struct bfloat16;

constexpr int64_t kGemmKBlock = 8;

namespace avx512 {
constexpr int64_t kSgemmMr = 14, kSgemmNr = 32;
constexpr int64_t kDgemmMr = 14, kDgemmNr = 16;
void sgemmKernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float beta, int64_t mr, int64_t nr,
                 const float* next);
void dgemmKernel(int64_t kc, const double* a, const double* b, double* c, int64_t ldc, double beta, int64_t mr,
                 int64_t nr, const double* next);
// sgemmKernel with B read in place: row k of the kc x 32 B block is the 32 floats at
// b + rowOffset[k] (all readable), for the implicit-GEMM convolution (conv_implicit.cc). A
// tile of mr <= kSgemmShortMr rows runs a kernel that short, in the time of its rows, and
// takes its A micro-panel packed kSgemmShortMr rows wide (so 64 rows are 4 x 14 + 8).
constexpr int64_t kSgemmShortMr = 8;
void sgemmKernelOffsetB(int64_t kc, const float* a, const float* b, const int32_t* rowOffset, float* c, int64_t ldc,
                        float beta, int64_t mr, int64_t nr);
// sgemmKernelOffsetB with B row k's columns 16..31 at b + rowOffset[k] + half, its columns
// 0..15 at b + rowOffset[k]: two output rows of 16 positions that lie half floats apart.
void sgemmKernelSplitB(int64_t kc, const float* a, const float* b, const int32_t* rowOffset, int64_t half, float* c,
                       int64_t ldc, float beta, int64_t mr, int64_t nr);
}  // namespace avx512

namespace avx2 {
constexpr int64_t kSgemmMr = 6, kSgemmNr = 16;
constexpr int64_t kDgemmMr = 6, kDgemmNr = 8;
void sgemmKernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float beta, int64_t mr, int64_t nr,
                 const float* next);
void dgemmKernel(int64_t kc, const double* a, const double* b, double* c, int64_t ldc, double beta, int64_t mr,
                 int64_t nr, const double* next);
// Transposing copy for packing (also used on AVX-512 machines): dst[c * ldd + r] =
// src[r * lds + c] for r < rows, c < cols, and zero for rows <= r < ldd (a multiple of 8).
void transposeF32(const float* src, int64_t lds, int64_t rows, int64_t cols, float* dst, int64_t ldd);
}  // namespace avx2

// bfloat16 operands, float32 accumulation (vdpbf16ps multiplies K pairs). The A micro-panel
// has the layout above, where the pair (k, k + 1), k even, is adjacent; the B micro-panel holds
// element (k, j) at b[(k / 2) * 2 * NR + 2 * j + k % 2]. Both are zero past an odd kc. The
// kernel writes alpha * AB (+ beta * C), as alpha cannot be folded into bfloat16 panels.
namespace avx512bf16 {
constexpr int64_t kMr = 14, kNr = 32;
void gemmKernel(int64_t kc, const bfloat16* a, const bfloat16* b, float* c, int64_t ldc, float alpha, float beta,
                int64_t mr, int64_t nr, const bfloat16* next);
// transposeF32's contract for bfloat16, to pack a transposed A.
void transposeBf16(const bfloat16* src, int64_t lds, int64_t rows, int64_t cols, bfloat16* dst, int64_t ldd);
// The B micro-panel of a transposed B, whose row j (at src + j * lds) is column j of op(B)
// with its K pairs adjacent: element (k, j) for k < kc, j < nr goes to
// dst[(k / 2) * 2 * NR + 2 * j + k % 2]; the rest of the panel is left as it is.
void packBTransposed(const bfloat16* src, int64_t lds, int64_t kc, int64_t nr, int64_t NR, bfloat16* dst);
}  // namespace avx512bf16

}  // namespace iv
