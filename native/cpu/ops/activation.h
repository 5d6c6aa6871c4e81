// The activations that kernels apply to their outputs in place (conv2d's and batchNorm's
// fused `activation` option), as scalars: the kernels' float64 paths and epilogues.
#pragma once
#include <cmath>

namespace iv {

enum class Act { none, relu, gelu, silu };

template <class T>
inline T activate(Act a, T z) {
  switch (a) {
    case Act::relu: return z > T(0) ? z : T(0);
    case Act::gelu: return T(0.5) * z * (T(1) + std::erf(z * T(0.70710678118654752440)));
    case Act::silu: return z / (T(1) + std::exp(-z));
    default: return z;
  }
}

// d activate(z) / dz: relu's is 0 at 0, as PyTorch's.
template <class T>
inline T activateGrad(Act a, T z) {
  switch (a) {
    case Act::relu: return z > T(0) ? T(1) : T(0);
    case Act::gelu: {
      const T cdf = T(0.5) * (T(1) + std::erf(z * T(0.70710678118654752440)));
      return cdf + z * std::exp(T(-0.5) * z * z) * T(0.39894228040143267794);
    }
    case Act::silu: {
      const T s = T(1) / (T(1) + std::exp(-z));
      return s * (T(1) + z * (T(1) - s));
    }
    default: return T(1);
  }
}

}  // namespace iv
