#include "common.h"

namespace iv {
namespace cuda {

void throwCuda(cudaError_t e, const char* what, const char* call) {
  // Clear the (non-sticky) error so that it does not resurface at the next launch check.
  cudaGetLastError();
  // No op prefix: the export wrapper (native/binding/addon.cc) adds the entry point's name.
  throw CudaError(std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e) + " (at " + what + ": " + call + ")");
}

// The backend addresses one device for now (tensors say 'cuda', not 'cuda:1'), so this is
// device 0's stream. Non-blocking: it never serialises against the legacy default stream.
cudaStream_t stream() {
  static cudaStream_t s = [] {
    cudaStream_t created;
    IV_CUDA_CHECK(cudaSetDevice(0), "stream");
    IV_CUDA_CHECK(cudaStreamCreateWithFlags(&created, cudaStreamNonBlocking), "stream");
    return created;
  }();
  return s;
}

int smCount() {
  static int n = [] {
    int count = 0;
    IV_CUDA_CHECK(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, 0), "smCount");
    return count;
  }();
  return n;
}

unsigned gridStrideBlocks(int64_t n, int threads) {
  const int64_t cover = (n + threads - 1) / threads, cap = 32LL * smCount();
  return static_cast<unsigned>(cover < 1 ? 1 : cover < cap ? cover : cap);
}

Layout makeLayout(int ndim, const int64_t* shape, const int64_t* const* strides, int operands) {
  Layout L;
  L.operands = operands;
  if (operands > kMaxOperands) throw std::invalid_argument("too many operands");
  for (int d = 0; d < ndim; d++) {
    if (shape[d] == 1) continue;
    if (L.ndim == kMaxDims) throw std::invalid_argument("tensors of more than 16 dimensions are not supported");
    L.shape[L.ndim] = shape[d];
    for (int k = 0; k < operands; k++) L.strides[k][L.ndim] = strides[k][d];
    L.ndim++;
  }
  int out = 0;
  for (int d = 0; d < L.ndim; d++) {
    if (out > 0) {
      bool merge = true;
      for (int k = 0; k < operands; k++)
        if (L.strides[k][out - 1] != L.strides[k][d] * L.shape[d]) merge = false;
      if (merge) {
        L.shape[out - 1] *= L.shape[d];
        for (int k = 0; k < operands; k++) L.strides[k][out - 1] = L.strides[k][d];
        continue;
      }
    }
    L.shape[out] = L.shape[d];
    for (int k = 0; k < operands; k++) L.strides[k][out] = L.strides[k][d];
    out++;
  }
  L.ndim = out;
  return L;
}

}  // namespace cuda
}  // namespace iv
