// The MPI backend: an optional third addon (build-mpi/Release/intern_vision_mpi.node), built
// by native/distributed/build.js wherever Open MPI's mpicxx is found, so that the CPU addon
// never depends on MPI. Every MPI call except MPI_Abort runs on one communication thread, in
// the order JavaScript submitted it: collectives then match across ranks, and they run while
// the JavaScript thread keeps computing (DistributedDataParallel overlaps them with backward).
// JavaScript submits an operation (an id comes back at once) and later waits for it, with a
// deadline, so that a stalled peer becomes an error instead of a hang.
#include <mpi.h>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include "../binding/args.h"
#include "../binding/registry.h"

namespace iv {
namespace {

struct Outcome {
  bool done = false;
  std::string error;  // empty on success
};

// One operation queued for the communication thread: returns an error message or "".
struct Job {
  uint64_t id;
  std::function<std::string()> run;
};

class CommThread {
 public:
  // Starts the thread, which initialises MPI; returns its error message or "".
  std::string start() {
    worker_ = std::thread([this] { loop(); });
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [this] { return initDone_; });
    if (initError_.empty()) return "";
    lock.unlock();
    worker_.join();  // the thread has returned: running() says no
    return initError_;
  }

  uint64_t submit(std::function<std::string()> run) {
    std::lock_guard<std::mutex> lock(mutex_);
    const uint64_t id = nextId_++;
    outcomes_[id] = Outcome{};
    queue_.push_back(Job{id, std::move(run)});
    changed_.notify_all();
    return id;
  }

  // True with `error` filled (empty on success) once the job is done; false at the deadline.
  bool wait(uint64_t id, double timeoutMs, std::string& error) {
    std::unique_lock<std::mutex> lock(mutex_);
    auto it = outcomes_.find(id);
    if (it == outcomes_.end()) {
      error = "no operation #" + std::to_string(id) + " is pending";
      return true;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double, std::milli>(timeoutMs);
    if (!changed_.wait_until(lock, deadline, [&] { return outcomes_[id].done; })) return false;
    error = outcomes_[id].error;
    outcomes_.erase(id);
    return true;
  }

  // Runs what is queued, then MPI_Finalize on the thread that initialised MPI, and joins.
  std::string stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      changed_.notify_all();
    }
    worker_.join();
    return finalizeError_;
  }

  bool running() const { return worker_.joinable(); }

 private:
  void loop() {
    int provided = 0;
    const int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (rc != MPI_SUCCESS) initError_ = "MPI_Init_thread failed: " + message(rc);
      // MPI_Abort comes from the JavaScript thread while this one may be inside a collective.
      else if (provided < MPI_THREAD_MULTIPLE)
        initError_ = "this MPI library does not support MPI_THREAD_MULTIPLE (it provides level " + std::to_string(provided) + ")";
      else MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
      initDone_ = true;
      changed_.notify_all();
      if (!initError_.empty()) return;
    }
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) break;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      std::string error = job.run();
      std::lock_guard<std::mutex> lock(mutex_);
      outcomes_[job.id] = Outcome{true, std::move(error)};
      changed_.notify_all();
    }
    const int frc = MPI_Finalize();
    if (frc != MPI_SUCCESS) finalizeError_ = "MPI_Finalize failed: " + message(frc);
  }

 public:
  static std::string message(int code) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
    return std::string(text, len);
  }

 private:
  std::thread worker_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Job> queue_;
  std::map<uint64_t, Outcome> outcomes_;
  uint64_t nextId_ = 1;
  bool initDone_ = false, stopping_ = false;
  std::string initError_, finalizeError_;
};

CommThread comm;
// The storage of every operation in flight, held until JavaScript has waited for it (the
// JavaScript thread alone touches these references).
std::map<uint64_t, Napi::Reference<Napi::ArrayBuffer>> inFlight;

void requireRunning(const Args& args) {
  if (!comm.running()) args.fail("MPI is not initialised (call init first)");
}

MPI_Datatype mpiType(const Args& args, const TensorArg& t, bool reducing) {
  switch (t.dtype) {
    case DType::float32: return MPI_FLOAT;
    case DType::float64: return MPI_DOUBLE;
    case DType::int32: return MPI_INT;
    case DType::uint8:
    case DType::boolean:
      if (!reducing) return MPI_UNSIGNED_CHAR;
  }
  args.fail(std::string("cannot reduce a ") + dtypeName(t.dtype) + " tensor (float32, float64 or int32)");
}

int mpiCount(const Args& args, const TensorArg& t, const char* name) {
  if (!t.contiguous()) args.fail(std::string("argument '") + name + "' must be contiguous, got strides for shape " + t.shapeString());
  if (t.numel() > INT_MAX) args.fail(std::string("argument '") + name + "' has " + std::to_string(t.numel()) + " elements; MPI counts stop at 2^31 - 1");
  return static_cast<int>(t.numel());
}

MPI_Op mpiOp(const Args& args, const std::string& op) {
  if (op == "sum") return MPI_SUM;
  if (op == "prod") return MPI_PROD;
  if (op == "max") return MPI_MAX;
  if (op == "min") return MPI_MIN;
  args.fail("argument 'op' must be 'sum', 'prod', 'max' or 'min', got '" + op + "'");
}

std::string check(int rc, const char* call) { return rc == MPI_SUCCESS ? "" : std::string(call) + ": " + CommThread::message(rc); }

// Holds the storage that operation `id` writes (argument i's buffer) until it is waited for.
Napi::Value track(const Napi::CallbackInfo& info, size_t i, uint64_t id) {
  inFlight.emplace(id, Napi::Persistent(info[i].As<Napi::Array>().Get(0u).As<Napi::ArrayBuffer>()));
  return Napi::Number::New(info.Env(), static_cast<double>(id));
}

Napi::Value init(const Napi::CallbackInfo& info) {
  Args args(info, "mpi.init", 0);
  // MPI allows one initialisation per process, finalized or not.
  static bool started = false;
  if (started) args.fail("MPI was already initialised in this process (it cannot be initialised twice)");
  started = true;
  const std::string error = comm.start();
  if (!error.empty()) args.fail(error);
  int rank = 0, size = 0, major = 0, minor = 0, len = 0;
  char library[MPI_MAX_LIBRARY_VERSION_STRING];
  const uint64_t id = comm.submit([&] {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Get_version(&major, &minor);
    MPI_Get_library_version(library, &len);
    return std::string();
  });
  std::string ignored;
  comm.wait(id, 1e12, ignored);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("rank", rank);
  out.Set("size", size);
  out.Set("version", std::to_string(major) + "." + std::to_string(minor));
  std::string lib(library, len);
  out.Set("library", lib.substr(0, lib.find_first_of(",\n")));
  return out;
}

Napi::Value allReduce(const Napi::CallbackInfo& info) {
  Args args(info, "mpi.allReduce", 2);
  requireRunning(args);
  TensorArg t = args.tensor(0, "tensor");
  const MPI_Datatype type = mpiType(args, t, true);
  const int count = mpiCount(args, t, "tensor");
  const MPI_Op op = mpiOp(args, args.string(1, "op"));
  void* data = t.data;
  const uint64_t id = comm.submit([=] { return check(MPI_Allreduce(MPI_IN_PLACE, data, count, type, op, MPI_COMM_WORLD), "MPI_Allreduce"); });
  return track(info, 0, id);
}

Napi::Value broadcast(const Napi::CallbackInfo& info) {
  Args args(info, "mpi.broadcast", 2);
  requireRunning(args);
  TensorArg t = args.tensor(0, "tensor");
  const MPI_Datatype type = mpiType(args, t, false);
  const int count = mpiCount(args, t, "tensor");
  const int root = static_cast<int>(args.integer(1, "src"));
  void* data = t.data;
  const uint64_t id = comm.submit([=] { return check(MPI_Bcast(data, count, type, root, MPI_COMM_WORLD), "MPI_Bcast"); });
  return track(info, 0, id);
}

// recv holds world-size copies of send's elements, rank by rank.
Napi::Value allGather(const Napi::CallbackInfo& info) {
  Args args(info, "mpi.allGather", 2);
  requireRunning(args);
  TensorArg send = args.tensor(0, "send"), recv = args.tensor(1, "recv");
  if (send.dtype != recv.dtype) args.fail("arguments 'send' and 'recv' must have the same dtype");
  const MPI_Datatype type = mpiType(args, send, false);
  const int count = mpiCount(args, send, "send");
  mpiCount(args, recv, "recv");
  const void* from = send.data;
  void* to = recv.data;
  const uint64_t id = comm.submit([=] { return check(MPI_Allgather(from, count, type, to, count, type, MPI_COMM_WORLD), "MPI_Allgather"); });
  return track(info, 1, id);
}

Napi::Value barrier(const Napi::CallbackInfo& info) {
  Args args(info, "mpi.barrier", 0);
  requireRunning(args);
  const uint64_t id = comm.submit([] { return check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); });
  return Napi::Number::New(info.Env(), static_cast<double>(id));
}

// true when done (throws the MPI error if it failed), false when the deadline passed first.
Napi::Value wait(const Napi::CallbackInfo& info) {
  Args args(info, "mpi.wait", 2);
  const uint64_t id = static_cast<uint64_t>(args.integer(0, "id"));
  const double timeoutMs = args.number(1, "timeoutMs");
  std::string error;
  if (!comm.wait(id, timeoutMs, error)) return Napi::Boolean::New(info.Env(), false);
  inFlight.erase(id);
  if (!error.empty()) args.fail(error);
  return Napi::Boolean::New(info.Env(), true);
}

Napi::Value finalize(const Napi::CallbackInfo& info) {
  Args args(info, "mpi.finalize", 0);
  requireRunning(args);
  const std::string error = comm.stop();
  inFlight.clear();
  if (!error.empty()) args.fail(error);
  return info.Env().Undefined();
}

// Ends every rank of the job: the launcher (mpirun, srun) kills the others. Does not return.
Napi::Value abortJob(const Napi::CallbackInfo& info) {
  Args args(info, "mpi.abort", 1);
  MPI_Abort(MPI_COMM_WORLD, static_cast<int>(args.integer(0, "code")));
  return info.Env().Undefined();
}

}  // namespace

IV_EXPORT("init", init);
IV_EXPORT("allReduce", allReduce);
IV_EXPORT("broadcast", broadcast);
IV_EXPORT("allGather", allGather);
IV_EXPORT("barrier", barrier);
IV_EXPORT("wait", wait);
IV_EXPORT("finalize", finalize);
IV_EXPORT("abort", abortJob);

}  // namespace iv
