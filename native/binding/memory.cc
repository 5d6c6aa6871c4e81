// Tensor storage: ArrayBuffers 64 bytes larger than asked, whose data starts at the first
// 64-byte boundary (args.cc aligns every descriptor the same way). The memory is allocated
// here and handed to V8 as the buffer's backing store with a deleter: V8 counts it as the
// buffer's size, so the GC knows the pressure and frees forgotten tensors, and the deleter
// runs the moment the memory goes (GC or free()), so the live count below is exact at any
// time, even in a synchronous loop. (N-API finalizers were tried first: Node defers them to
// the event loop, so a synchronous training loop piled them up, and so did a count kept by
// JS finalizers.) free() detaches the buffer, which releases the memory at once (a mapped
// block to the cache below) and turns stale views empty instead of dangling.
// Blocks of 128 KiB and more are mapped here, 2 MiB aligned, with transparent huge pages
// asked for (madvise; they apply to the whole 2 MiB pages of a block): a fresh page's first
// touch is slow on a VM (about 12 us per 4 KiB page here: bench/transfer.ts), and a huge page
// takes one fault where 4 KiB pages take 512. When V8 frees such a block (a tensor the GC
// collected, a detached buffer, a data() array), it waits in a cache for the next block of its
// span, whose pages are then already faulted in; emptyCache() drains it. glibc would serve
// these sizes from fresh mappings and hand them back to the system when freed.
#include <sys/mman.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>
#include <v8.h>
#include "../cpu/parallel.h"
#include "args.h"
#include "registry.h"

namespace iv {
namespace {

// Storage bytes and blocks not yet freed, per JS thread (the main one and each worker):
// allocation happens on the thread, the deleter may run on a GC thread.
struct LiveStorage {
  std::atomic<int64_t> bytes{0};
  std::atomic<int64_t> blocks{0};
};

// Never freed: a storage can outlive its thread's addon instance and still report to it.
thread_local LiveStorage* live = new LiveStorage();

constexpr size_t kHugePage = size_t(2) << 20;
// Mapped blocks span whole 4 KiB pages: the part past the last 2 MiB boundary stays in small
// pages, so a block just above 2 MiB does not hold 4 MiB.
inline size_t mappedSpan(size_t total) { return (total + 4095) / 4096 * 4096; }

// Blocks from this size up are mapped here and cached once freed; smaller ones are calloc'd.
constexpr size_t kMappedMin = size_t(128) << 10;

// Memory of `total` bytes (kMappedMin or more): mapped 2 MiB aligned with huge pages asked
// for (used where the block spans whole 2 MiB pages), zeroed by the kernel.
void* mapBlock(size_t total) {
  const size_t span = mappedSpan(total);
  void* raw = mmap(nullptr, span + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  // Keep the span that starts at the first 2 MiB boundary; unmap what is before and after it.
  const uintptr_t at = reinterpret_cast<uintptr_t>(raw), start = (at + kHugePage - 1) / kHugePage * kHugePage;
  if (start > at) munmap(raw, start - at);
  munmap(reinterpret_cast<void*>(start + span), kHugePage - (start - at));
  madvise(reinterpret_cast<void*>(start), span, MADV_HUGEPAGE);
  return reinterpret_cast<void*>(start);
}

// Mapped blocks that V8 has freed, by span: a block is kept when it is at most a quarter of
// the limit, and where it does not fit under the limit, the blocks given longest ago make room
// (the rule of the TypeScript cache, which sets the limit). V8 may free a buffer on another
// thread (its GC's), hence the lock.
class MappedBlocks {
 public:
  // A cached block of total's span (old contents), or a fresh zeroed one; null if out of memory.
  void* take(size_t total, bool& reused) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(mappedSpan(total));
      if (it != free_.end()) {
        void* p = it->second.data;
        cached_ -= it->first;
        free_.erase(it);
        reused = true;
        return p;
      }
    }
    reused = false;
    return mapBlock(total);
  }
  void give(void* data, size_t total) {
    const size_t span = mappedSpan(total);
    std::vector<std::pair<size_t, void*>> evicted;
    bool kept = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (span <= limit_ / 4) {
        if (cached_ + span > limit_) evictFor(span, evicted);
        free_.emplace(span, Block{data, ++clock_});
        cached_ += span;
        kept = true;
      }
    }
    for (const auto& [bytes, p] : evicted) munmap(p, bytes);
    if (!kept) munmap(data, span);
  }
  void setLimit(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    limit_ = bytes;
  }
  void clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [span, block] : free_) munmap(block.data, span);
    free_.clear();
    cached_ = 0;
  }
  size_t cachedBytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_;
  }

 private:
  struct Block {
    void* data;
    uint64_t given;  // the clock when V8 freed it
  };
  // Takes the blocks given longest ago out of the cache (into `evicted`, to be unmapped once
  // the lock is released) until `span` fits with 1/64 of the limit to spare.
  void evictFor(size_t span, std::vector<std::pair<size_t, void*>>& evicted) {
    std::vector<std::multimap<size_t, Block>::iterator> oldestFirst;
    for (auto it = free_.begin(); it != free_.end(); ++it) oldestFirst.push_back(it);
    std::sort(oldestFirst.begin(), oldestFirst.end(),
              [](const auto& a, const auto& b) { return a->second.given < b->second.given; });
    for (auto it : oldestFirst) {
      if (cached_ + span + limit_ / 64 <= limit_) break;
      evicted.emplace_back(it->first, it->second.data);
      cached_ -= it->first;
      free_.erase(it);
    }
  }

  size_t limit_ = size_t(512) << 20;
  std::mutex mutex_;
  std::multimap<size_t, Block> free_;
  size_t cached_ = 0;
  uint64_t clock_ = 0;
};

// Never destroyed: V8 can free buffers after the addon's static destructors would run.
MappedBlocks* mappedBlocks = new MappedBlocks();

// INTERN_VISION_POISON=1 (the tests): a reused block is filled with NaN bytes, as the
// TypeScript cache fills its reused buffers, so an output a kernel never writes shows up.
const bool poisonReused = [] {
  const char* v = std::getenv("INTERN_VISION_POISON");
  return v && std::strcmp(v, "1") == 0;
}();

// Memory of `total` bytes: zeroed (calloc) below kMappedMin; a mapped block from there up,
// reused (not zeroed, as empty() promises nothing) where the cache has one.
void* allocateBlock(size_t total) {
  if (total < kMappedMin) return std::calloc(total, 1);
  bool reused = false;
  void* p = mappedBlocks->take(total, reused);
  if (p && reused && poisonReused) std::memset(p, 0xff, total);
  return p;
}

void releaseBlock(void* data, size_t total) {
  if (total < kMappedMin) std::free(data);
  else mappedBlocks->give(data, total);
}

void releaseStorage(void* data, size_t length, void* counter) {
  releaseBlock(data, length);
  auto* c = static_cast<LiveStorage*>(counter);
  c->bytes.fetch_sub(static_cast<int64_t>(length - kStorageAlignment), std::memory_order_relaxed);
  c->blocks.fetch_sub(1, std::memory_order_relaxed);
}

Napi::Value alloc(const Napi::CallbackInfo& info) {
  Args args(info, "alloc", 1);
  int64_t bytes = args.integer(0, "bytes");
  if (bytes < 0) args.fail("argument 'bytes' must be non-negative, got " + std::to_string(bytes));
  // A request that cannot fit in physical memory is refused with an error, not an abort.
  static const int64_t physical = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  if (bytes > physical)
    args.fail("cannot allocate " + std::to_string(bytes) + " bytes: more than this machine's " +
              std::to_string(physical) + " bytes of memory");
  const size_t total = static_cast<size_t>(bytes) + kStorageAlignment;
  void* data = allocateBlock(total);
  if (!data) args.fail("cannot allocate " + std::to_string(bytes) + " bytes: out of memory");
  live->bytes.fetch_add(bytes, std::memory_order_relaxed);
  live->blocks.fetch_add(1, std::memory_order_relaxed);
  std::shared_ptr<v8::BackingStore> store = v8::ArrayBuffer::NewBackingStore(data, total, releaseStorage, live);
  v8::Local<v8::ArrayBuffer> buffer = v8::ArrayBuffer::New(v8::Isolate::GetCurrent(), std::move(store));
  // N-API has no buffer with a synchronous deleter; a napi_value is a V8 local handle.
  return Napi::Value(info.Env(), reinterpret_cast<napi_value>(*buffer));
}

Napi::Value freeBuffer(const Napi::CallbackInfo& info) {
  Args args(info, "free", 1);
  if (!info[0].IsArrayBuffer()) args.fail("argument 'buffer' must be an ArrayBuffer");
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  if (ab.ByteLength() == 0) return Napi::Boolean::New(info.Env(), false);
  ab.Detach();
  return Napi::Boolean::New(info.Env(), true);
}

// Host arrays for data() of all but small tensors: mapped blocks, in whole huge pages from 2
// MiB (glibc maps an array this large fresh each time, and frees it the same way), filled by
// the worker threads (their faults overlap). When V8 frees one, its block joins the cache of
// mapped blocks, so the next read-out of its size writes into pages already faulted in. A
// reused block keeps its old bytes past the end of the new array, where no view reaches.
inline size_t hostSpan(size_t bytes) {
  return bytes >= kHugePage ? (bytes + kHugePage - 1) / kHugePage * kHugePage : mappedSpan(bytes);
}
void releaseHostArray(void* data, size_t bytes, void*) { mappedBlocks->give(data, hostSpan(bytes)); }

// copyToHost(buffer, byteOffset, bytes): a new ArrayBuffer of exactly `bytes` bytes holding a
// copy of buffer[byteOffset, byteOffset + bytes), for arrays of kMappedMin bytes and more.
Napi::Value copyToHost(const Napi::CallbackInfo& info) {
  Args args(info, "copyToHost", 3);
  if (!info[0].IsArrayBuffer()) args.fail("argument 'buffer' must be an ArrayBuffer");
  Napi::ArrayBuffer src = info[0].As<Napi::ArrayBuffer>();
  const int64_t offset = args.integer(1, "byteOffset"), bytes = args.integer(2, "bytes");
  if (offset < 0 || bytes < static_cast<int64_t>(kMappedMin) ||
      offset + bytes > static_cast<int64_t>(src.ByteLength()))
    args.fail("bytes [" + std::to_string(offset) + ", " + std::to_string(offset + bytes) +
              ") must lie in the buffer of " + std::to_string(src.ByteLength()) + " bytes and span at least " +
              std::to_string(kMappedMin));
  bool reused = false;
  void* data = mappedBlocks->take(hostSpan(static_cast<size_t>(bytes)), reused);
  if (!data) args.fail("cannot allocate " + std::to_string(bytes) + " bytes: out of memory");
  const char* from = static_cast<const char*>(src.Data()) + offset;
  char* to = static_cast<char*>(data);
  const int64_t chunks = (bytes + kHugePage - 1) / static_cast<int64_t>(kHugePage);
  parallelFor(chunks, 1, [&](int64_t c0, int64_t c1) {
    const int64_t begin = c0 * static_cast<int64_t>(kHugePage), end = std::min(bytes, c1 * static_cast<int64_t>(kHugePage));
    std::memcpy(to + begin, from + begin, static_cast<size_t>(end - begin));
  });
  std::shared_ptr<v8::BackingStore> store =
      v8::ArrayBuffer::NewBackingStore(data, static_cast<size_t>(bytes), releaseHostArray, nullptr);
  v8::Local<v8::ArrayBuffer> buffer = v8::ArrayBuffer::New(v8::Isolate::GetCurrent(), std::move(store));
  return Napi::Value(info.Env(), reinterpret_cast<napi_value>(*buffer));
}

// Where the aligned data starts inside a storage buffer, for JS typed-array views.
Napi::Value alignedOffset(const Napi::CallbackInfo& info) {
  Args args(info, "alignedOffset", 1);
  if (!info[0].IsArrayBuffer()) args.fail("argument 'buffer' must be an ArrayBuffer");
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  return Napi::Number::New(info.Env(), static_cast<double>(alignmentPad(ab.Data())));
}

// setCachedBlockLimit(bytes): the most bytes of freed mapped blocks kept for reuse.
Napi::Value setCachedBlockLimit(const Napi::CallbackInfo& info) {
  Args args(info, "setCachedBlockLimit", 1);
  const int64_t bytes = args.integer(0, "bytes");
  if (bytes < 0) args.fail("argument 'bytes' must be non-negative, got " + std::to_string(bytes));
  mappedBlocks->setLimit(static_cast<size_t>(bytes));
  return info.Env().Undefined();
}

// Unmaps the mapped blocks V8 has freed (emptyCache()).
Napi::Value releaseCachedBlocks(const Napi::CallbackInfo& info) {
  Args args(info, "releaseCachedBlocks", 0);
  mappedBlocks->clear();
  return info.Env().Undefined();
}

// Bytes and blocks this thread allocated that are not yet freed (cached buffers included),
// and the bytes of freed mapped blocks waiting for reuse (all threads).
Napi::Value memoryStats(const Napi::CallbackInfo& info) {
  Args args(info, "memoryStats", 0);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("mappedCachedBytes", Napi::Number::New(info.Env(), static_cast<double>(mappedBlocks->cachedBytes())));
  out.Set("bytes", Napi::Number::New(info.Env(), static_cast<double>(live->bytes.load(std::memory_order_relaxed))));
  out.Set("blocks", Napi::Number::New(info.Env(), static_cast<double>(live->blocks.load(std::memory_order_relaxed))));
  return out;
}

}  // namespace

IV_EXPORT("alloc", alloc);
IV_EXPORT("free", freeBuffer);
IV_EXPORT("alignedOffset", alignedOffset);
IV_EXPORT("copyToHost", copyToHost);
IV_EXPORT("memoryStats", memoryStats);
IV_EXPORT("releaseCachedBlocks", releaseCachedBlocks);
IV_EXPORT("setCachedBlockLimit", setCachedBlockLimit);

}  // namespace iv
