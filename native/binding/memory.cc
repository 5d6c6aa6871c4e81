// Tensor storage: V8-owned ArrayBuffers, 64 bytes larger than asked, whose data starts at
// the first 64-byte boundary (args.cc aligns every descriptor the same way). V8 owns the
// memory, so it knows the pressure and the GC frees forgotten tensors; free() detaches the
// buffer, which releases the memory at once and turns stale views empty instead of
// dangling. (External buffers with N-API finalizers were tried first: Node defers those
// finalizers to the event loop, so a synchronous training loop piled them up.)
#include <unistd.h>
#include <cstdint>
#include "args.h"
#include "registry.h"

namespace iv {
namespace {

Napi::Value alloc(const Napi::CallbackInfo& info) {
  Args args(info, "alloc", 1);
  int64_t bytes = args.integer(0, "bytes");
  if (bytes < 0) args.fail("argument 'bytes' must be non-negative, got " + std::to_string(bytes));
  // V8 aborts the process when an ArrayBuffer cannot be allocated, so a request that cannot
  // fit in physical memory is refused here with an error instead.
  static const int64_t physical = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  if (bytes > physical)
    args.fail("cannot allocate " + std::to_string(bytes) + " bytes: more than this machine's " +
              std::to_string(physical) + " bytes of memory");
  return Napi::ArrayBuffer::New(info.Env(), static_cast<size_t>(bytes) + kStorageAlignment);
}

Napi::Value freeBuffer(const Napi::CallbackInfo& info) {
  Args args(info, "free", 1);
  if (!info[0].IsArrayBuffer()) args.fail("argument 'buffer' must be an ArrayBuffer");
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  if (ab.ByteLength() == 0) return Napi::Boolean::New(info.Env(), false);
  ab.Detach();
  return Napi::Boolean::New(info.Env(), true);
}

// Where the aligned data starts inside a storage buffer, for JS typed-array views.
Napi::Value alignedOffset(const Napi::CallbackInfo& info) {
  Args args(info, "alignedOffset", 1);
  if (!info[0].IsArrayBuffer()) args.fail("argument 'buffer' must be an ArrayBuffer");
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  return Napi::Number::New(info.Env(), static_cast<double>(alignmentPad(ab.Data())));
}

}  // namespace

IV_EXPORT("alloc", alloc);
IV_EXPORT("free", freeBuffer);
IV_EXPORT("alignedOffset", alignedOffset);

}  // namespace iv
