// A fixed pool of worker threads for kernels. parallelFor splits [0, n) into chunks of at
// least `grain` items; the calling thread works too. Nested calls run serially.
#pragma once
#include <cstdint>
#include <type_traits>

namespace iv {

int numThreads();
void setNumThreads(int n);

using RangeFn = void (*)(void* ctx, int64_t begin, int64_t end);
void parallelForRaw(int64_t n, int64_t grain, RangeFn fn, void* ctx);

// The template trampoline is unique per lambda type, so no shared inline code is compiled
// with one instruction set and reused by another (which would break run-time dispatch).
template <class F>
inline void parallelFor(int64_t n, int64_t grain, F&& f) {
  using Fn = std::remove_reference_t<F>;
  auto tramp = [](void* c, int64_t b, int64_t e) { (*static_cast<Fn*>(c))(b, e); };
  parallelForRaw(n, grain, tramp, const_cast<void*>(static_cast<const void*>(&f)));
}

}  // namespace iv
