// Device, memory and host-transfer entry points of the CUDA addon.
#include <cuda_runtime_api.h>
#include <string>
#include "../../binding/registry.h"
#include "../kernels/elementwise.cuh"
#include "device_args.h"

namespace iv {
namespace cuda {
namespace {

// What the loader's probe child reports: never throws, so that a broken driver is a
// reason string rather than a crash.
Napi::Value probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  int driver = 0, runtime = 0, count = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  o.Set("driverVersion", driver);
  o.Set("runtimeVersion", runtime);
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    o.Set("deviceCount", 0);
    o.Set("error", std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e));
    return o;
  }
  o.Set("deviceCount", count);
  if (count > 0) {
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, 0) == cudaSuccess) {
      o.Set("name", std::string(p.name));
      o.Set("capability", std::to_string(p.major) + "." + std::to_string(p.minor));
    }
    // One of our kernels must run: a binary without code for this GPU fails here, in the
    // probe, rather than at the first op.
    try {
      ScopedBlock scratch(64 * sizeof(float), "probe");
      const int64_t n = 64, unit = 1;
      const int64_t* strides[] = {&unit};
      launchFill(kF32, makeLayout(1, &n, strides, 1), n, scratch.as<float>(), 1.0);
      IV_CUDA_CHECK(cudaStreamSynchronize(stream()), "probe");
    } catch (const CudaError& err) {
      o.Set("error", err.what());
    }
  }
  return o;
}

Napi::Value deviceCount(const Napi::CallbackInfo& info) {
  int count = 0;
  IV_CUDA_CHECK(cudaGetDeviceCount(&count), "deviceCount");
  return Napi::Number::New(info.Env(), count);
}

Napi::Value deviceName(const Napi::CallbackInfo& info) {
  cudaDeviceProp p;
  IV_CUDA_CHECK(cudaGetDeviceProperties(&p, 0), "deviceName");
  return Napi::String::New(info.Env(), p.name);
}

Napi::Value synchronize(const Napi::CallbackInfo& info) {
  IV_CUDA_CHECK(cudaStreamSynchronize(stream()), "synchronize");
  return info.Env().Undefined();
}

Napi::Value memoryStatsExport(const Napi::CallbackInfo& info) {
  const MemoryStats s = memoryStats();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("allocatedBytes", static_cast<double>(s.allocated));
  o.Set("reservedBytes", static_cast<double>(s.reserved));
  o.Set("cachedBytes", static_cast<double>(s.reserved - s.allocated));
  o.Set("peakAllocatedBytes", static_cast<double>(s.peakAllocated));
  o.Set("blocks", static_cast<double>(s.blocks));
  o.Set("cudaMallocs", static_cast<double>(s.cudaMallocs));
  return o;
}

Napi::Value emptyCacheExport(const Napi::CallbackInfo& info) {
  emptyCache();
  return info.Env().Undefined();
}

Napi::Value alloc(const Napi::CallbackInfo& info) {
  Args args(info, "alloc", 1);
  const int64_t bytes = args.integer(0, "bytes");
  if (bytes < 0) args.fail("argument 'bytes' must be non-negative, got " + std::to_string(bytes));
  return newDeviceBuffer(info.Env(), static_cast<size_t>(bytes));
}

Napi::Value freeBuffer(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "free", 1);
  return Napi::Boolean::New(info.Env(), releaseDeviceBuffer(info.Env(), deviceHandle(args, 0, "buffer")));
}

// Host reads synchronise: the copy is queued behind every kernel that writes the tensor.
Napi::Value toHost(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "toHost", 2);
  TensorArg t = args.tensor(0, "src");
  if (!info[1].IsTypedArray()) args.fail("argument 'dst' must be a typed array");
  Napi::TypedArray dst = info[1].As<Napi::TypedArray>();
  const size_t bytes = static_cast<size_t>(t.numel()) * dtypeSize(t.dtype);
  if (!t.contiguous()) args.fail("src must be contiguous, shape " + t.shapeString());
  if (dst.ByteLength() != bytes)
    args.fail("dst holds " + std::to_string(dst.ByteLength()) + " bytes, the tensor " + std::to_string(bytes));
  if (bytes == 0) return info.Env().Undefined();
  void* host = static_cast<char*>(dst.ArrayBuffer().Data()) + dst.ByteOffset();
  IV_CUDA_CHECK(cudaMemcpyAsync(host, t.data, bytes, cudaMemcpyDeviceToHost, stream()), "toHost");
  IV_CUDA_CHECK(cudaStreamSynchronize(stream()), "toHost");
  return info.Env().Undefined();
}

// From pageable memory the copy is staged before cudaMemcpyAsync returns, so the JS array
// may be collected afterwards; kernels queued later on the stream see the data.
Napi::Value fromHost(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "fromHost", 2);
  TensorArg t = args.tensor(0, "dst");
  if (!info[1].IsTypedArray()) args.fail("argument 'src' must be a typed array");
  Napi::TypedArray src = info[1].As<Napi::TypedArray>();
  const size_t bytes = static_cast<size_t>(t.numel()) * dtypeSize(t.dtype);
  if (!t.contiguous()) args.fail("dst must be contiguous, shape " + t.shapeString());
  if (src.ByteLength() != bytes)
    args.fail("src holds " + std::to_string(src.ByteLength()) + " bytes, the tensor " + std::to_string(bytes));
  if (bytes == 0) return info.Env().Undefined();
  const void* host = static_cast<const char*>(src.ArrayBuffer().Data()) + src.ByteOffset();
  IV_CUDA_CHECK(cudaMemcpyAsync(t.data, host, bytes, cudaMemcpyHostToDevice, stream()), "fromHost");
  return info.Env().Undefined();
}

// Device time of the work queued between timerStart() and timerStop(), in milliseconds
// (CUDA events on the stream; timerStop waits for it).
cudaEvent_t timerEvents[2];
Napi::Value timerStart(const Napi::CallbackInfo& info) {
  static const bool created = [] {
    IV_CUDA_CHECK(cudaEventCreate(&timerEvents[0]), "timerStart");
    IV_CUDA_CHECK(cudaEventCreate(&timerEvents[1]), "timerStart");
    return true;
  }();
  (void)created;
  IV_CUDA_CHECK(cudaEventRecord(timerEvents[0], stream()), "timerStart");
  return info.Env().Undefined();
}

Napi::Value timerStop(const Napi::CallbackInfo& info) {
  float ms = 0;
  IV_CUDA_CHECK(cudaEventRecord(timerEvents[1], stream()), "timerStop");
  IV_CUDA_CHECK(cudaEventSynchronize(timerEvents[1]), "timerStop");
  IV_CUDA_CHECK(cudaEventElapsedTime(&ms, timerEvents[0], timerEvents[1]), "timerStop");
  return Napi::Number::New(info.Env(), ms);
}

}  // namespace

IV_EXPORT("probe", probe);
IV_EXPORT("deviceCount", deviceCount);
IV_EXPORT("deviceName", deviceName);
IV_EXPORT("synchronize", synchronize);
IV_EXPORT("memoryStats", memoryStatsExport);
IV_EXPORT("emptyCache", emptyCacheExport);
IV_EXPORT("alloc", alloc);
IV_EXPORT("free", freeBuffer);
IV_EXPORT("toHost", toHost);
IV_EXPORT("fromHost", fromHost);
IV_EXPORT("timerStart", timerStart);
IV_EXPORT("timerStop", timerStop);

}  // namespace cuda
}  // namespace iv
