// NCCL collectives on CUDA tensors for the distributed process group (src/distributed). NCCL
// is loaded with dlopen at run time (libnccl.so.2, or $INTERN_VISION_NCCL_LIBRARY), so this
// addon builds and loads where NCCL is absent; its C API is stable, and the few entry points
// used are declared below. Collectives run on their own stream, after the work already
// queued on the compute stream, so they overlap the kernels queued after them (gradient
// buckets reduce while backward goes on). wait() blocks the host until one finishes, polling
// NCCL's asynchronous error state, with a deadline: a dead peer becomes an error, not a hang.
// The buffers in flight must stay alive until then: the caching allocator assumes one stream
// (allocator.h), so the callers (the process group, DistributedDataParallel's buckets) hold
// them and wait before they let them go.
#include <dlfcn.h>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <type_traits>
#include "../../binding/registry.h"
#include "../common.h"
#include "device_args.h"

namespace iv {
namespace cuda {
namespace {

// From nccl.h (NCCL 2.x): the types and entry points used here.
typedef struct ncclComm* ncclComm_t;
struct ncclUniqueId {
  char internal[128];
};
typedef int ncclResult_t;  // an enum in nccl.h; 0 is ncclSuccess, 7 ncclInProgress
typedef int ncclDataType_t;
typedef int ncclRedOp_t;
constexpr ncclResult_t kSuccess = 0, kInProgress = 7;
constexpr ncclDataType_t kUint8 = 1, kInt32 = 2, kFloat32 = 7, kFloat64 = 8;
constexpr ncclRedOp_t kSum = 0, kProd = 1, kMax = 2, kMin = 3;

struct Nccl {
  std::string error;  // why it did not load; empty when it did
  int version = 0;
  ncclResult_t (*getVersion)(int*);
  ncclResult_t (*getUniqueId)(ncclUniqueId*);
  ncclResult_t (*commInitRank)(ncclComm_t*, int, ncclUniqueId, int);
  ncclResult_t (*commDestroy)(ncclComm_t);
  ncclResult_t (*commAbort)(ncclComm_t);
  ncclResult_t (*commGetAsyncError)(ncclComm_t, ncclResult_t*);
  const char* (*getErrorString)(ncclResult_t);
  ncclResult_t (*allReduce)(const void*, void*, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t);
  ncclResult_t (*broadcast)(const void*, void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t);
  ncclResult_t (*allGather)(const void*, void*, size_t, ncclDataType_t, ncclComm_t, cudaStream_t);
};

const Nccl& nccl() {
  static const Nccl loaded = [] {
    Nccl n{};
    const char* override = std::getenv("INTERN_VISION_NCCL_LIBRARY");
    const char* name = override && *override ? override : "libnccl.so.2";
    void* lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* why = dlerror();
      n.error = std::string("cannot load ") + name + ": " + (why ? why : "unknown error");
      return n;
    }
    auto bind = [&](auto& fn, const char* symbol) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, symbol));
      if (!fn && n.error.empty()) n.error = std::string(name) + " has no " + symbol + " (NCCL 2.x is needed)";
    };
    bind(n.getVersion, "ncclGetVersion");
    bind(n.getUniqueId, "ncclGetUniqueId");
    bind(n.commInitRank, "ncclCommInitRank");
    bind(n.commDestroy, "ncclCommDestroy");
    bind(n.commAbort, "ncclCommAbort");
    bind(n.commGetAsyncError, "ncclCommGetAsyncError");
    bind(n.getErrorString, "ncclGetErrorString");
    bind(n.allReduce, "ncclAllReduce");
    bind(n.broadcast, "ncclBroadcast");
    bind(n.allGather, "ncclAllGather");
    if (n.error.empty()) n.getVersion(&n.version);
    return n;
  }();
  return loaded;
}

const Nccl& requireNccl(const Args& args) {
  const Nccl& n = nccl();
  if (!n.error.empty()) args.fail(n.error);
  return n;
}

void checkNccl(const Args& args, ncclResult_t r, const char* call) {
  if (r != kSuccess) args.fail(std::string(call) + " failed: " + nccl().getErrorString(r));
}

// The one communicator of this process, its stream, and the end event of each collective
// not yet waited for.
ncclComm_t comm = nullptr;
cudaStream_t commStream = nullptr;
std::map<uint64_t, cudaEvent_t> pending;
uint64_t nextId = 1;
void* barrierScratch = nullptr;

ncclComm_t requireComm(const Args& args) {
  requireNccl(args);
  if (!comm) args.fail("NCCL is not initialised (call ncclInit first), or the communicator was aborted");
  return comm;
}

ncclDataType_t ncclType(const Args& args, const TensorArg& t, bool reducing) {
  switch (t.dtype) {
    case DType::float32: return kFloat32;
    case DType::float64: return kFloat64;
    case DType::int32: return kInt32;
    case DType::uint8:
    case DType::boolean:
      if (!reducing) return kUint8;
  }
  args.fail(std::string("cannot reduce a ") + dtypeName(t.dtype) + " tensor (float32, float64 or int32)");
}

void requireContiguous(const Args& args, const TensorArg& t, const char* name) {
  if (!t.contiguous()) args.fail(std::string("argument '") + name + "' must be contiguous, got strides for shape " + t.shapeString());
}

// Queues `launch` on the NCCL stream after everything already queued for compute; returns the
// id that wait() takes.
template <class Launch>
Napi::Value enqueue(const Args& args, const char* what, Launch launch) {
  cudaEvent_t ready, done;
  IV_CUDA_CHECK(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming), what);
  IV_CUDA_CHECK(cudaEventRecord(ready, stream()), what);
  IV_CUDA_CHECK(cudaStreamWaitEvent(commStream, ready, 0), what);
  IV_CUDA_CHECK(cudaEventDestroy(ready), what);
  checkNccl(args, launch(), what);
  IV_CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming), what);
  IV_CUDA_CHECK(cudaEventRecord(done, commStream), what);
  const uint64_t id = nextId++;
  pending[id] = done;
  return Napi::Number::New(args.env(), static_cast<double>(id));
}

Napi::Value ncclLoad(const Napi::CallbackInfo& info) {
  const Nccl& n = nccl();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("available", n.error.empty());
  if (n.error.empty()) o.Set("version", n.version);
  else o.Set("reason", n.error);
  return o;
}

Napi::Value ncclUniqueIdExport(const Napi::CallbackInfo& info) {
  Args args(info, "ncclUniqueId", 0);
  const Nccl& n = requireNccl(args);
  ncclUniqueId id;
  checkNccl(args, n.getUniqueId(&id), "ncclGetUniqueId");
  Napi::ArrayBuffer out = Napi::ArrayBuffer::New(info.Env(), sizeof(id));
  std::memcpy(out.Data(), &id, sizeof(id));
  return out;
}

// Blocks until every rank has called it with the same id.
Napi::Value ncclInit(const Napi::CallbackInfo& info) {
  Args args(info, "ncclInit", 3);
  const Nccl& n = requireNccl(args);
  if (comm) args.fail("NCCL is already initialised in this process");
  if (!info[0].IsArrayBuffer() || info[0].As<Napi::ArrayBuffer>().ByteLength() != sizeof(ncclUniqueId))
    args.fail("argument 'id' must be the 128-byte ArrayBuffer ncclUniqueId() made on rank 0");
  ncclUniqueId id;
  std::memcpy(&id, info[0].As<Napi::ArrayBuffer>().Data(), sizeof(id));
  const int rank = static_cast<int>(args.integer(1, "rank")), size = static_cast<int>(args.integer(2, "size"));
  if (size < 1 || rank < 0 || rank >= size) args.fail("rank " + std::to_string(rank) + " is not in a world of " + std::to_string(size));
  stream();  // selects the device the compute stream lives on
  IV_CUDA_CHECK(cudaStreamCreateWithFlags(&commStream, cudaStreamNonBlocking), "ncclInit");
  IV_CUDA_CHECK(cudaMalloc(&barrierScratch, sizeof(float)), "ncclInit");
  checkNccl(args, n.commInitRank(&comm, size, id, rank), "ncclCommInitRank");
  return info.Env().Undefined();
}

ncclRedOp_t redOp(const Args& args, const std::string& op) {
  if (op == "sum") return kSum;
  if (op == "prod") return kProd;
  if (op == "max") return kMax;
  if (op == "min") return kMin;
  args.fail("argument 'op' must be 'sum', 'prod', 'max' or 'min', got '" + op + "'");
}

Napi::Value ncclAllReduce(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "ncclAllReduce", 2);
  ncclComm_t c = requireComm(args);
  TensorArg t = args.tensor(0, "tensor");
  requireContiguous(args, t, "tensor");
  const ncclDataType_t type = ncclType(args, t, true);
  const ncclRedOp_t op = redOp(args, args.string(1, "op"));
  return enqueue(args, "ncclAllReduce", [&] { return nccl().allReduce(t.data, t.data, t.numel(), type, op, c, commStream); });
}

Napi::Value ncclBroadcast(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "ncclBroadcast", 2);
  ncclComm_t c = requireComm(args);
  TensorArg t = args.tensor(0, "tensor");
  requireContiguous(args, t, "tensor");
  const ncclDataType_t type = ncclType(args, t, false);
  const int root = static_cast<int>(args.integer(1, "src"));
  return enqueue(args, "ncclBroadcast", [&] { return nccl().broadcast(t.data, t.data, t.numel(), type, root, c, commStream); });
}

Napi::Value ncclAllGather(const Napi::CallbackInfo& info) {
  DeviceArgs args(info, "ncclAllGather", 2);
  ncclComm_t c = requireComm(args);
  TensorArg send = args.tensor(0, "send"), recv = args.tensor(1, "recv");
  requireContiguous(args, send, "send");
  requireContiguous(args, recv, "recv");
  if (send.dtype != recv.dtype) args.fail("arguments 'send' and 'recv' must have the same dtype");
  const ncclDataType_t type = ncclType(args, send, false);
  return enqueue(args, "ncclAllGather", [&] { return nccl().allGather(send.data, recv.data, send.numel(), type, c, commStream); });
}

// NCCL has no barrier: an all-reduce of one element stands in for it.
Napi::Value ncclBarrier(const Napi::CallbackInfo& info) {
  Args args(info, "ncclBarrier", 0);
  ncclComm_t c = requireComm(args);
  return enqueue(args, "ncclBarrier", [&] { return nccl().allReduce(barrierScratch, barrierScratch, 1, kFloat32, kSum, c, commStream); });
}

// true once the collective has finished on the device; false when the deadline passed first.
// An asynchronous NCCL error (a peer died, a network failure) aborts the communicator and throws.
Napi::Value ncclWait(const Napi::CallbackInfo& info) {
  Args args(info, "ncclWait", 2);
  ncclComm_t c = requireComm(args);
  const uint64_t id = static_cast<uint64_t>(args.integer(0, "id"));
  const double timeoutMs = args.number(1, "timeoutMs");
  auto it = pending.find(id);
  if (it == pending.end()) args.fail("no NCCL operation #" + std::to_string(id) + " is pending");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double, std::milli>(timeoutMs);
  for (;;) {
    const cudaError_t q = cudaEventQuery(it->second);
    if (q == cudaSuccess) {
      cudaEventDestroy(it->second);
      pending.erase(it);
      return Napi::Boolean::New(info.Env(), true);
    }
    if (q != cudaErrorNotReady) IV_CUDA_CHECK(q, "ncclWait");
    ncclResult_t async = kSuccess;
    nccl().commGetAsyncError(c, &async);
    if (async != kSuccess && async != kInProgress) {
      nccl().commAbort(c);
      comm = nullptr;
      args.fail(std::string("NCCL reported an asynchronous error (") + nccl().getErrorString(async) +
                "); the communicator was aborted");
    }
    if (std::chrono::steady_clock::now() > deadline) return Napi::Boolean::New(info.Env(), false);
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

void releaseStreams() {
  for (auto& [id, ev] : pending) cudaEventDestroy(ev);
  pending.clear();
  if (barrierScratch) cudaFree(barrierScratch);
  if (commStream) cudaStreamDestroy(commStream);
  barrierScratch = nullptr;
  commStream = nullptr;
}

Napi::Value ncclFinalize(const Napi::CallbackInfo& info) {
  Args args(info, "ncclFinalize", 0);
  ncclComm_t c = requireComm(args);
  IV_CUDA_CHECK(cudaStreamSynchronize(commStream), "ncclFinalize");
  comm = nullptr;
  checkNccl(args, nccl().commDestroy(c), "ncclCommDestroy");
  releaseStreams();
  return info.Env().Undefined();
}

// Stops this rank's collectives at once (in-flight ones included); the peers see an error.
Napi::Value ncclAbort(const Napi::CallbackInfo& info) {
  if (comm) nccl().commAbort(comm);
  comm = nullptr;
  releaseStreams();
  return info.Env().Undefined();
}

}  // namespace

IV_EXPORT("ncclLoad", ncclLoad);
IV_EXPORT("ncclUniqueId", ncclUniqueIdExport);
IV_EXPORT("ncclInit", ncclInit);
IV_EXPORT("ncclAllReduce", ncclAllReduce);
IV_EXPORT("ncclBroadcast", ncclBroadcast);
IV_EXPORT("ncclAllGather", ncclAllGather);
IV_EXPORT("ncclBarrier", ncclBarrier);
IV_EXPORT("ncclWait", ncclWait);
IV_EXPORT("ncclFinalize", ncclFinalize);
IV_EXPORT("ncclAbort", ncclAbort);

}  // namespace cuda
}  // namespace iv
