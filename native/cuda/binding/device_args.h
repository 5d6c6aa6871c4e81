// Device tensors at the N-API boundary. A CUDA storage's handle is a JS External owning a
// DeviceHandle; descriptors are [handle, offset, shape, strides, dtype] like the CPU's,
// read into the same TensorArg (data = device pointer) with the same bounds checks. The CUDA
// entry points read their arguments through DeviceArgs, so the argument parsers of
// native/binding/ serve them as they serve the CPU's.
#pragma once
#include <napi.h>
#include "../../binding/args.h"
#include "../allocator.h"
#include "../common.h"

namespace iv {
namespace cuda {

struct DeviceHandle {
  DeviceBlock block;
  size_t bytes;  // as requested: the bound that views are checked against
  bool live;
};

Napi::Value newDeviceBuffer(Napi::Env env, size_t bytes);
// The handle behind argument i, or a JS error naming the op and argument.
DeviceHandle* deviceHandle(const Args& args, size_t i, const char* name);
// Returns the block to the cache; false when it already was.
bool releaseDeviceBuffer(Napi::Env env, DeviceHandle* h);
TensorArg deviceTensor(const Args& args, size_t i, const char* name);

// Args whose tensors are device descriptors.
struct DeviceArgs : Args {
  DeviceArgs(const Napi::CallbackInfo& info, const char* op, size_t count) : Args(info, op, count, deviceTensor) {}
};

// Kernels that run a block per row are limited to 2^31 - 1 rows (the grid's x dimension).
void requireGridRows(const Args& args, int64_t rows);

inline Dt dt(DType d) { return static_cast<Dt>(static_cast<int32_t>(d)); }
Layout layoutOf(const TensorArg& out, std::initializer_list<const TensorArg*> inputs);

}  // namespace cuda
}  // namespace iv
