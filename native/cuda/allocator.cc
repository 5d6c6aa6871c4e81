#include "allocator.h"
#include <mutex>
#include <unordered_map>
#include <vector>
#include "common.h"

namespace iv {
namespace cuda {
namespace {

constexpr size_t kSmallLimit = size_t(1) << 20;  // at most this: 512-byte granularity
constexpr size_t kSmallRound = 512;
constexpr size_t kLargeRound = size_t(2) << 20;

size_t roundSize(size_t bytes) {
  if (bytes == 0) bytes = 1;
  const size_t g = bytes <= kSmallLimit ? kSmallRound : kLargeRound;
  return (bytes + g - 1) / g * g;
}

// Never destroyed: N-API finalizers may return blocks during process teardown, after
// static destructors would have run.
struct Cache {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void*>> freeLists;
  MemoryStats stats{};
};
Cache& cache() {
  static Cache* c = new Cache();
  return *c;
}

std::string mib(int64_t bytes) { return std::to_string(bytes / (1 << 20)) + " MiB"; }

// Caller holds the mutex.
void releaseCached(Cache& c) {
  for (auto& [size, ptrs] : c.freeLists) {
    for (void* p : ptrs) {
      IV_CUDA_CHECK(cudaFree(p), "emptyCache");
      c.stats.reserved -= static_cast<int64_t>(size);
    }
  }
  c.freeLists.clear();
}

}  // namespace

DeviceBlock deviceAlloc(size_t bytes, const char* op) {
  const size_t size = roundSize(bytes);
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  void* p = nullptr;
  auto it = c.freeLists.find(size);
  if (it != c.freeLists.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
  } else {
    cudaError_t e = cudaMalloc(&p, size);
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      IV_CUDA_CHECK(cudaStreamSynchronize(stream()), op);
      releaseCached(c);
      e = cudaMalloc(&p, size);
      if (e == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        size_t freeBytes = 0, total = 0;
        cudaMemGetInfo(&freeBytes, &total);
        cudaGetLastError();
        throw CudaError("CUDA out of memory allocating " + std::to_string(bytes) + " bytes for " + op + " (" +
                        mib(static_cast<int64_t>(size)) + " rounded); " + mib(c.stats.allocated) +
                        " allocated by tensors, " + mib(static_cast<int64_t>(freeBytes)) + " free of " +
                        mib(static_cast<int64_t>(total)) + " on the device");
      }
    }
    if (e != cudaSuccess) throwCuda(e, op, "cudaMalloc");
    c.stats.reserved += static_cast<int64_t>(size);
    c.stats.cudaMallocs++;
  }
  c.stats.allocated += static_cast<int64_t>(size);
  c.stats.blocks++;
  if (c.stats.allocated > c.stats.peakAllocated) c.stats.peakAllocated = c.stats.allocated;
  return {p, size};
}

void deviceFree(DeviceBlock block) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.freeLists[block.size].push_back(block.ptr);
  c.stats.allocated -= static_cast<int64_t>(block.size);
  c.stats.blocks--;
}

void emptyCache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  if (c.freeLists.empty()) return;
  // cudaFree of memory that queued kernels still use is undefined: drain the stream first.
  IV_CUDA_CHECK(cudaStreamSynchronize(stream()), "emptyCache");
  releaseCached(c);
}

MemoryStats memoryStats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.stats;
}

}  // namespace cuda
}  // namespace iv
