// Which instruction-set kernels this CPU can run, read once at load time, so that one
// prebuilt binary runs on any x86-64 and uses AVX-512 or AVX2 where present.
#pragma once

namespace iv {

enum class Isa { generic = 0, avx2 = 1, avx512 = 2 };

Isa detectIsa();
// The ISA kernels dispatch on: the detected one, lowered by INTERN_VISION_ISA if set
// ("generic", "avx2", "avx512"), which lets tests exercise every code path on one machine.
Isa activeIsa();
const char* isaName(Isa isa);

}  // namespace iv
