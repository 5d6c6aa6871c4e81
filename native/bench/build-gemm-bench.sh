#!/bin/sh
# Builds the standalone GEMM harnesses into $OUT (default /tmp/iv-gemm): gemm_bench (throughput)
# and gemm_check (correctness vs a double-precision reference), with binding.gyp's flags.
set -e
cd "$(dirname "$0")/../cpu"
OUT=${OUT:-/tmp/iv-gemm}
mkdir -p "$OUT"
CXX=${CXX:-g++}
FLAGS="-std=c++17 -O3 -fno-math-errno -pthread"
$CXX $FLAGS -c gemm_kernels_avx2.cc -mavx2 -mfma -mf16c -o "$OUT/gemm_kernels_avx2.o"
$CXX $FLAGS -c gemm_kernels_avx512.cc -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma -mf16c \
  -o "$OUT/gemm_kernels_avx512.o"
$CXX $FLAGS -c gemm_kernels_avx512bf16.cc -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx512bf16 -mavx2 -mfma \
  -mf16c -o "$OUT/gemm_kernels_avx512bf16.o"
$CXX $FLAGS -c gemm.cc -o "$OUT/gemm.o"
$CXX $FLAGS -c parallel.cc -o "$OUT/parallel.o"
$CXX $FLAGS -c ../bench/isa_stub.cc -o "$OUT/isa_stub.o"
LIBS="$OUT/gemm.o $OUT/gemm_kernels_avx2.o $OUT/gemm_kernels_avx512.o $OUT/gemm_kernels_avx512bf16.o $OUT/parallel.o
  $OUT/isa_stub.o"
# With OpenBLAS's headers present (libopenblas-dev), the bench also times cblas_sgemm.
BLAS=""
for inc in /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/openblas /usr/include; do
  if [ -f "$inc/cblas.h" ]; then BLAS="-DGEMM_BENCH_OPENBLAS -I$inc -lopenblas"; break; fi
done
$CXX $FLAGS ../bench/gemm_bench.cc $LIBS $BLAS -o "$OUT/gemm_bench"
$CXX $FLAGS ../bench/gemm_check.cc $LIBS -o "$OUT/gemm_check"
echo "built $OUT/gemm_bench $OUT/gemm_check"
