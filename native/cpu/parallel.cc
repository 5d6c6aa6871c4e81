#include "parallel.h"
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace iv {
namespace {

class Pool {
 public:
  explicit Pool(int threads) { resize(threads); }
  ~Pool() { stop(); }

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  void resize(int threads) {
    stop();
    stopping_ = false;
    for (int i = 1; i < threads; i++) workers_.emplace_back([this] { loop(); });
  }

  void run(int64_t n, int64_t grain, RangeFn fn, void* ctx) {
    const int64_t maxChunks = std::max<int64_t>(1, n / std::max<int64_t>(1, grain));
    const int64_t chunks = std::min<int64_t>(maxChunks, size());
    if (chunks <= 1 || inParallel_) {
      fn(ctx, 0, n);
      return;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    // A worker that woke late for the previous job may still be inside work(): the job's
    // fields change only when no worker is active.
    done_.wait(lock, [this] { return active_ == 0; });
    fn_ = fn;
    ctx_ = ctx;
    n_ = n;
    chunks_ = chunks;
    pending_ = chunks;
    next_.store(0);
    generation_++;
    lock.unlock();
    wake_.notify_all();
    inParallel_ = true;
    work();
    inParallel_ = false;
    spinUntil([this] { return pending_ == 0 && active_ == 0; });
    lock.lock();
    done_.wait(lock, [this] { return pending_ == 0 && active_ == 0; });
  }

 private:
  void work() {
    for (;;) {
      int64_t c = next_.fetch_add(1);
      if (c >= chunks_) return;
      fn_(ctx_, n_ * c / chunks_, n_ * (c + 1) / chunks_);
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pending_ == 0) done_.notify_all();
    }
  }

  // Waits up to kSpin for ready() without sleeping. Kernels come back to back in a training
  // step, and a sleeping thread takes tens of microseconds to wake on a VM: as long as a
  // small kernel. OpenMP's threads spin likewise before they sleep.
  template <class Ready>
  static void spinUntil(Ready ready) {
    constexpr auto kSpin = std::chrono::microseconds(100);
    const auto until = std::chrono::steady_clock::now() + kSpin;
    while (!ready()) {
      for (int i = 0; i < 64; i++) __builtin_ia32_pause();
      if (std::chrono::steady_clock::now() > until) return;
    }
  }

  void loop() {
    uint64_t seen = 0;
    for (;;) {
      spinUntil([&] { return stopping_ || generation_ != seen; });
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        active_++;
      }
      inParallel_ = true;
      work();
      inParallel_ = false;
      std::lock_guard<std::mutex> lock(mutex_);
      if (--active_ == 0) done_.notify_all();
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  // Written under mutex_; atomic so that spinUntil may read them without it.
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> generation_{0};
  std::atomic<int64_t> pending_{0}, active_{0};
  RangeFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0, chunks_ = 0;
  std::atomic<int64_t> next_{0};
  static thread_local bool inParallel_;
};

thread_local bool Pool::inParallel_ = false;

int defaultThreads() {
  if (const char* env = std::getenv("INTERN_VISION_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

Pool& pool() {
  static Pool p(defaultThreads());
  return p;
}

}  // namespace

int numThreads() { return pool().size(); }
void setNumThreads(int n) { pool().resize(std::max(1, n)); }
void parallelForRaw(int64_t n, int64_t grain, RangeFn fn, void* ctx) {
  if (n <= 0) return;
  pool().run(n, grain, fn, ctx);
}

}  // namespace iv
