// Tensor storage: ArrayBuffers 64 bytes larger than asked, whose data starts at the first
// 64-byte boundary (args.cc aligns every descriptor the same way). The memory is allocated
// here and handed to V8 as the buffer's backing store with a deleter: V8 counts it as the
// buffer's size, so the GC knows the pressure and frees forgotten tensors, and the deleter
// runs the moment the memory goes (GC or free()), so the live count below is exact at any
// time, even in a synchronous loop. (N-API finalizers were tried first: Node defers them to
// the event loop, so a synchronous training loop piled them up, and so did a count kept by
// JS finalizers.) free() detaches the buffer, which releases the memory at once and turns
// stale views empty instead of dangling.
// Blocks of 2 MiB and more are mapped directly, 2 MiB aligned, with transparent huge pages
// asked for (madvise): a fresh page's first touch is slow on a VM, and a huge page takes one
// fault where 4 KiB pages take 512. calloc would serve such blocks from the heap once glibc
// has raised its mmap threshold, already touched, where the advice comes too late.
#include <sys/mman.h>
#include <unistd.h>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
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

// Zeroed memory of `total` bytes: mapped from kHugePage up, 2 MiB aligned with huge pages
// asked for; calloc'd below.
void* allocateZeroed(size_t total) {
  if (total < kHugePage) return std::calloc(total, 1);
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

void releaseZeroed(void* data, size_t total) {
  if (total < kHugePage) std::free(data);
  else munmap(data, mappedSpan(total));
}

void releaseStorage(void* data, size_t length, void* counter) {
  releaseZeroed(data, length);
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
  void* data = allocateZeroed(total);
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

// Host arrays for data() of large tensors. A fresh 4 KiB page costs about 12 us on its first
// touch on this VM (a new 64 MiB array fills at 0.3 GB/s, bench/transfer.ts), and glibc maps
// an array this large fresh each time. So these arrays are mapped here in whole huge pages,
// filled by the worker threads (their faults overlap), and when V8 frees one, its block waits
// in a small cache for the next read-out of its size class, whose pages are then already
// faulted in. A reused block keeps its old bytes past the end of the new array, where no
// view reaches.
class HostBlocks {
 public:
  // The block size for an array of `bytes`: its size class.
  static size_t span(size_t bytes) { return (bytes + kHugePage - 1) / kHugePage * kHugePage; }
  void* take(size_t bytes) {
    const size_t want = span(bytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(want);
      if (it != free_.end()) {
        void* p = it->second;
        free_.erase(it);
        cached_ -= want;
        return p;
      }
    }
    return allocateZeroed(want);
  }
  // Called by V8 on whichever thread frees the array.
  static void give(void* data, size_t bytes, void* self) {
    static_cast<HostBlocks*>(self)->keep(data, span(bytes));
  }

 private:
  static constexpr size_t kMaxCached = size_t(256) << 20;
  void keep(void* data, size_t want) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_ + want <= kMaxCached) {
        free_.emplace(want, data);
        cached_ += want;
        return;
      }
    }
    releaseZeroed(data, want);
  }
  std::mutex mutex_;
  std::multimap<size_t, void*> free_;
  size_t cached_ = 0;
};

// Never destroyed: arrays can be freed by V8 after the addon's static destructors would run.
HostBlocks* hostBlocks = new HostBlocks();

// copyToHost(buffer, byteOffset, bytes): a new ArrayBuffer of exactly `bytes` bytes holding a
// copy of buffer[byteOffset, byteOffset + bytes), for arrays of 2 MiB and more.
Napi::Value copyToHost(const Napi::CallbackInfo& info) {
  Args args(info, "copyToHost", 3);
  if (!info[0].IsArrayBuffer()) args.fail("argument 'buffer' must be an ArrayBuffer");
  Napi::ArrayBuffer src = info[0].As<Napi::ArrayBuffer>();
  const int64_t offset = args.integer(1, "byteOffset"), bytes = args.integer(2, "bytes");
  if (offset < 0 || bytes < static_cast<int64_t>(kHugePage) ||
      offset + bytes > static_cast<int64_t>(src.ByteLength()))
    args.fail("bytes [" + std::to_string(offset) + ", " + std::to_string(offset + bytes) +
              ") must lie in the buffer of " + std::to_string(src.ByteLength()) + " bytes and span at least " +
              std::to_string(kHugePage));
  void* data = hostBlocks->take(static_cast<size_t>(bytes));
  if (!data) args.fail("cannot allocate " + std::to_string(bytes) + " bytes: out of memory");
  const char* from = static_cast<const char*>(src.Data()) + offset;
  char* to = static_cast<char*>(data);
  const int64_t chunks = (bytes + kHugePage - 1) / static_cast<int64_t>(kHugePage);
  parallelFor(chunks, 1, [&](int64_t c0, int64_t c1) {
    const int64_t begin = c0 * static_cast<int64_t>(kHugePage), end = std::min(bytes, c1 * static_cast<int64_t>(kHugePage));
    std::memcpy(to + begin, from + begin, static_cast<size_t>(end - begin));
  });
  std::shared_ptr<v8::BackingStore> store =
      v8::ArrayBuffer::NewBackingStore(data, static_cast<size_t>(bytes), HostBlocks::give, hostBlocks);
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

// Bytes and blocks this thread allocated that are not yet freed (cached buffers included).
Napi::Value memoryStats(const Napi::CallbackInfo& info) {
  Args args(info, "memoryStats", 0);
  Napi::Object out = Napi::Object::New(info.Env());
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

}  // namespace iv
