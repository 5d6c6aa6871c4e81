// Shared by the CUDA kernels (.cu, nvcc) and the N-API glue (.cc, g++): error checking,
// the one stream, dtype codes and the strided layout the kernels index with. No napi.h
// here, so nvcc never sees Node's headers.
#pragma once
#include <cuda_runtime_api.h>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace iv {
namespace cuda {

// The dtype codes of native/binding/args.h (DType); binding/device_args.cc asserts they agree.
enum Dt : int32_t { kF32 = 0, kF64 = 1, kI32 = 2, kU8 = 3, kBool = 4 };

// Thrown on any failed CUDA call; addon.cc turns it into a JS Error prefixed with the entry point.
struct CudaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void throwCuda(cudaError_t e, const char* what, const char* call);

// Checks a runtime call; `what` names the step (kernel, copy) for the message.
#define IV_CUDA_CHECK(call, what)                              \
  do {                                                         \
    cudaError_t ivErr_ = (call);                               \
    if (ivErr_ != cudaSuccess) ::iv::cuda::throwCuda(ivErr_, what, #call); \
  } while (0)

// After every kernel launch: launch-configuration errors surface here, faults at the next sync.
#define IV_CUDA_LAUNCHED(what) IV_CUDA_CHECK(cudaGetLastError(), what)

// The stream every kernel and copy of the current device runs on (created on first use).
cudaStream_t stream();
// Multiprocessors of the current device (grid sizing).
int smCount();
// Blocks for a grid-stride loop over n elements, `threads` per block: enough to cover n, at
// most 32 per multiprocessor, at least one.
unsigned gridStrideBlocks(int64_t n, int threads = 256);

constexpr int kMaxDims = 16;
constexpr int kMaxOperands = 4;

// Operands of one shape, size-1 dims dropped and dims contiguous in every operand merged
// (the same coalescing as native/cpu/strided.cc), passed to kernels by value.
struct Layout {
  int ndim = 0;      // 0: a single element
  int operands = 0;  // the output first
  int64_t shape[kMaxDims];
  int64_t strides[kMaxOperands][kMaxDims];  // in elements
};

Layout makeLayout(int ndim, const int64_t* shape, const int64_t* const* strides, int operands);

}  // namespace cuda
}  // namespace iv
