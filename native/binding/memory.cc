// Tensor storage: 64-byte aligned native memory exposed to JS as an external ArrayBuffer
// (zero-copy typed-array views). free() releases it at once and detaches the buffer, so a
// stale view reads as empty instead of touching freed memory; otherwise the GC frees it.
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include "args.h"
#include "registry.h"

namespace iv {
namespace {

struct Block {
  void* ptr;
  size_t bytes;
  bool freed;
};

std::mutex registryMutex;
std::unordered_map<void*, Block*>& liveBlocks() {
  static std::unordered_map<void*, Block*> blocks;
  return blocks;
}
int64_t liveBytes = 0;
int64_t liveCount = 0;

void release(Napi::Env env, Block* b) {
  std::free(b->ptr);
  b->freed = true;
  liveBytes -= static_cast<int64_t>(b->bytes);
  liveCount--;
  Napi::MemoryManagement::AdjustExternalMemory(env, -static_cast<int64_t>(b->bytes));
}

void finalize(Napi::Env env, void*, Block* b) {
  {
    std::lock_guard<std::mutex> lock(registryMutex);
    if (!b->freed) {
      liveBlocks().erase(b->ptr);
      release(env, b);
    }
  }
  delete b;
}

Napi::Value alloc(const Napi::CallbackInfo& info) {
  Args args(info, "alloc", 1);
  int64_t bytes = args.integer(0, "bytes");
  if (bytes < 0) args.fail("argument 'bytes' must be non-negative, got " + std::to_string(bytes));
  if (bytes > (int64_t(1) << 40)) args.fail("argument 'bytes' is too large: " + std::to_string(bytes));
  // Round up so vector kernels may read a full 64-byte line past the last element.
  size_t rounded = (static_cast<size_t>(bytes) + 63) / 64 * 64 + 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p) args.fail("out of memory allocating " + std::to_string(bytes) + " bytes");
  std::memset(p, 0, rounded);
  Block* b = new Block{p, rounded, false};
  {
    std::lock_guard<std::mutex> lock(registryMutex);
    liveBlocks()[p] = b;
    liveBytes += static_cast<int64_t>(rounded);
    liveCount++;
  }
  Napi::MemoryManagement::AdjustExternalMemory(info.Env(), static_cast<int64_t>(rounded));
  // Detaching requires a non-zero length: zero-byte tensors still get a real (padded) block.
  return Napi::ArrayBuffer::New(info.Env(), p, bytes == 0 ? 1 : static_cast<size_t>(bytes), finalize, b);
}

Napi::Value freeBuffer(const Napi::CallbackInfo& info) {
  Args args(info, "free", 1);
  if (!info[0].IsArrayBuffer()) args.fail("argument 'buffer' must be an ArrayBuffer");
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  void* p = ab.Data();
  {
    std::lock_guard<std::mutex> lock(registryMutex);
    auto it = liveBlocks().find(p);
    if (p == nullptr || it == liveBlocks().end()) return Napi::Boolean::New(info.Env(), false);
    Block* b = it->second;
    liveBlocks().erase(it);
    release(info.Env(), b);
  }
  ab.Detach();
  return Napi::Boolean::New(info.Env(), true);
}

Napi::Value memoryStats(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  std::lock_guard<std::mutex> lock(registryMutex);
  o.Set("bytes", Napi::Number::New(info.Env(), static_cast<double>(liveBytes)));
  o.Set("blocks", Napi::Number::New(info.Env(), static_cast<double>(liveCount)));
  return o;
}

}  // namespace

IV_EXPORT("alloc", alloc);
IV_EXPORT("free", freeBuffer);
IV_EXPORT("memoryStats", memoryStats);

}  // namespace iv
