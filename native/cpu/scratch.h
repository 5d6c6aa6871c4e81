// A growable scratch buffer, 64-byte aligned, kept per thread and role (thread_local), so
// steady-state kernel calls allocate (and page-fault) nothing. Large ones ask for transparent
// huge pages: a buffer that spans thousands of 4 KB pages would otherwise be walked through
// the TLB. Contents are not preserved when it grows. Baseline code only: kernels compiled
// for an instruction set take their buffers from their baseline callers.
#pragma once
#include <sys/mman.h>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace iv {

struct Scratch {
  void* p = nullptr;
  size_t bytes = 0;
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { std::free(p); }
  template <class T>
  T* get(int64_t n) {
    const size_t want = static_cast<size_t>(n) * sizeof(T);
    if (want > bytes) {
      constexpr size_t kHuge = size_t(1) << 21;
      const size_t align = want >= kHuge ? kHuge : 64;
      const size_t size = (want + align - 1) / align * align;
      std::free(p);
      p = std::aligned_alloc(align, size);
      bytes = p ? size : 0;
      if (!p) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
      if (align == kHuge) madvise(p, size, MADV_HUGEPAGE);
#endif
    }
    return static_cast<T*>(p);
  }
};

}  // namespace iv
