// One 2-d pooling problem, NCHW with batch and channels merged into planes: what
// pool_args.cc checks and both the CPU and the CUDA pooling kernels take. No napi.h here, so
// nvcc can include it.
#pragma once
#include <cstdint>

namespace iv {

struct PoolGeometry {
  int64_t planes, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw;
};

}  // namespace iv
