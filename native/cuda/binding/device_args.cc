#include "device_args.h"
#include <cmath>
#include <mutex>
#include <unordered_set>
#include <vector>

namespace iv {
namespace cuda {

static_assert(static_cast<int>(DType::float32) == kF32 && static_cast<int>(DType::float64) == kF64 &&
                  static_cast<int>(DType::int32) == kI32 && static_cast<int>(DType::uint8) == kU8 &&
                  static_cast<int>(DType::boolean) == kBool,
              "dtype codes of args.h and common.h differ");

namespace {

// Every handle this addon made and the GC has not finalized yet: an External from
// anywhere else is rejected instead of being dereferenced.
std::mutex handlesMutex;
std::unordered_set<DeviceHandle*>& handles() {
  static auto* set = new std::unordered_set<DeviceHandle*>();
  return *set;
}

void finalize(Napi::Env env, DeviceHandle* h) {
  releaseDeviceBuffer(env, h);
  {
    std::lock_guard<std::mutex> lock(handlesMutex);
    handles().erase(h);
  }
  delete h;
}

}  // namespace

Napi::Value newDeviceBuffer(Napi::Env env, size_t bytes) {
  auto* h = new DeviceHandle{deviceAlloc(bytes, "alloc"), bytes, true};
  {
    std::lock_guard<std::mutex> lock(handlesMutex);
    handles().insert(h);
  }
  // V8 counts device bytes as external memory, so that undisposed device tensors press
  // the GC like host ones do.
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(h->block.size));
  return Napi::External<DeviceHandle>::New(env, h, finalize);
}

bool releaseDeviceBuffer(Napi::Env env, DeviceHandle* h) {
  if (!h->live) return false;
  h->live = false;
  deviceFree(h->block);
  Napi::MemoryManagement::AdjustExternalMemory(env, -static_cast<int64_t>(h->block.size));
  return true;
}

static DeviceHandle* handleFrom(const Args& args, Napi::Value v, const std::string& arg) {
  if (!v.IsExternal()) args.fail(arg + ": storage is not a CUDA buffer (a CPU tensor passed to the CUDA backend?)");
  DeviceHandle* h = v.As<Napi::External<DeviceHandle>>().Data();
  std::lock_guard<std::mutex> lock(handlesMutex);
  if (!handles().count(h)) args.fail(arg + ": storage is not a CUDA buffer of this addon");
  return h;
}

DeviceHandle* deviceHandle(const Args& args, size_t i, const char* name) {
  return handleFrom(args, args.at(i), std::string("argument '") + name + "'");
}

TensorArg deviceTensor(const Args& args, size_t i, const char* name) {
  const std::string arg = std::string("argument '") + name + "'";
  const Napi::Value v = args.at(i);
  if (!v.IsArray()) args.fail(arg + " must be a tensor descriptor [handle, offset, shape, strides, dtype]");
  Napi::Array d = v.As<Napi::Array>();
  if (d.Length() != 5) args.fail(arg + " must be a tensor descriptor [handle, offset, shape, strides, dtype]");
  DeviceHandle* h = handleFrom(args, d.Get(0u), arg);
  if (!h->live) args.fail(arg + ": tensor storage was disposed");
  Napi::Value off = d.Get(1u), code = d.Get(4u);
  if (!off.IsNumber() || !code.IsNumber()) args.fail(arg + ": offset and dtype must be numbers");
  const double offD = off.As<Napi::Number>().DoubleValue();
  if (!(offD >= 0 && offD <= 1099511627776.0) || offD != std::trunc(offD))
    args.fail(arg + ": offset must be a non-negative integer");
  const int32_t c = code.As<Napi::Number>().Int32Value();
  if (c < 0 || c > 4) args.fail(arg + ": unknown dtype code " + std::to_string(c));
  TensorArg t;
  t.dtype = static_cast<DType>(c);
  if (!readInts(d.Get(2u), t.shape) || !readInts(d.Get(3u), t.strides) || t.shape.size() != t.strides.size())
    args.fail(arg + ": shape and strides must be integer arrays of the same length");
  placeView(args, t, name, static_cast<int64_t>(offD), static_cast<char*>(h->block.ptr),
            static_cast<int64_t>(h->bytes / dtypeSize(t.dtype)));
  return t;
}

void requireGridRows(const Args& args, int64_t rows) {
  if (rows > 0x7fffffffLL) args.fail("too many rows for the CUDA kernels: " + std::to_string(rows));
}

Layout layoutOf(const TensorArg& out, std::initializer_list<const TensorArg*> inputs) {
  const int64_t* strides[kMaxOperands];
  int k = 0;
  strides[k++] = out.strides.data();
  for (const TensorArg* in : inputs) strides[k++] = in->strides.data();
  return makeLayout(static_cast<int>(out.shape.size()), out.shape.data(), strides, k);
}

}  // namespace cuda
}  // namespace iv
