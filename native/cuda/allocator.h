// Caching device allocator, after PyTorch's: requests are rounded (512 bytes up to 1 MiB,
// 2 MiB multiples above), freed blocks go to a free list per rounded size and are reused
// without cudaMalloc/cudaFree (both synchronise the device). Reuse is safe without events
// because every kernel and copy runs on the one stream: work queued before the free
// finishes before work queued after the reuse.
#pragma once
#include <cstddef>
#include <cstdint>

namespace iv {
namespace cuda {

struct DeviceBlock {
  void* ptr;
  size_t size;  // rounded: what the free list keys on
};

struct MemoryStats {
  int64_t allocated;      // bytes in live blocks (rounded sizes)
  int64_t reserved;       // bytes obtained from cudaMalloc: live plus cached
  int64_t peakAllocated;  // high-water mark of `allocated`
  int64_t blocks;         // live blocks
  int64_t cudaMallocs;    // cache misses so far
};

// Throws CudaError naming the size and `op` (what the memory is for) when the device is
// out of memory even after the cache was emptied.
DeviceBlock deviceAlloc(size_t bytes, const char* op);
void deviceFree(DeviceBlock block);
// Returns every cached block to the driver (after a device synchronise).
void emptyCache();
MemoryStats memoryStats();

// A block that returns itself to the cache when it goes out of scope (kernel workspaces).
class ScopedBlock {
 public:
  ScopedBlock(size_t bytes, const char* op) : block_(deviceAlloc(bytes, op)) {}
  ~ScopedBlock() { deviceFree(block_); }
  ScopedBlock(const ScopedBlock&) = delete;
  ScopedBlock& operator=(const ScopedBlock&) = delete;
  template <class T>
  T* as() const {
    return static_cast<T*>(block_.ptr);
  }

 private:
  DeviceBlock block_;
};

}  // namespace cuda
}  // namespace iv
