// Which instruction-set kernels this CPU can run, read once at load time, so that one
// prebuilt binary runs on any x86-64 and uses AVX-512 or AVX2 where present.
#pragma once

namespace iv {

enum class Isa { generic = 0, avx2 = 1, avx512 = 2 };

Isa detectIsa();
// The ISA kernels dispatch on: the detected one, lowered by INTERN_VISION_ISA if set
// ("generic", "avx2", "avx512", "avx512bf16"), which lets tests exercise every code path on
// one machine.
Isa activeIsa();
const char* isaName(Isa isa);

// AVX512-BF16 (vdpbf16ps: bfloat16 pair dot products into float32) on top of AVX-512. It is
// not an Isa level of its own, so every float kernel keeps dispatching on activeIsa();
// the bfloat16 GEMM uses it when active: detected, activeIsa() is avx512, and
// INTERN_VISION_ISA is not "avx512" (which, like the lower levels, turns it off).
bool detectAvx512Bf16();
bool avx512Bf16Active();

}  // namespace iv
