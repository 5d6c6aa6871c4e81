// Stand-in for native/cpu/cpu_features.cc (which needs Node headers) in the standalone
// GEMM harnesses: the ISA the kernels dispatch on is whatever the harness last set.
#include "../cpu/cpu_features.h"
#include "isa_stub.h"

namespace iv {

static Isa gIsa = Isa::generic;

Isa detectIsa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl"))
    return Isa::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::avx2;
  return Isa::generic;
}
Isa activeIsa() { return gIsa; }
void setActiveIsaForBench(Isa isa) { gIsa = isa; }
// The harnesses time and check the float32 and float64 products, not the bfloat16 kernel.
bool detectAvx512Bf16() { return false; }
bool avx512Bf16Active() { return false; }
const char* isaName(Isa isa) { return isa == Isa::avx512 ? "avx512" : isa == Isa::avx2 ? "avx2" : "generic"; }

}  // namespace iv
