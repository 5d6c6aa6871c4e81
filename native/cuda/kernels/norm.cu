// Batch and group normalisation on the GPU, the CPU's semantics (native/cpu/ops/norm.cc): x
// seen as [N, C, S]. Batch norm: per channel two-pass statistics in double (mean, then squared
// deviations), running-stat update with the unbiased variance, saved mean and inverse std;
// backward from the per-channel sums of g and g * (x - mean); a block per channel. Group
// norm: a block per (sample, group) for the forward; the backward takes per-(sample, channel)
// sums of g and g * x (a workspace of doubles), then a block per (sample, group) for the input
// gradient and a thread per channel for the weight and bias gradients.
#include <cstdint>
#include "norm.cuh"

namespace iv {
namespace cuda {
namespace {

constexpr int kThreads = 512;

__device__ double blockSumD(double v, double* red) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  if (warp == 0) {
    double s = lane < kThreads / 32 ? red[lane] : 0.0;
    for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
    if (lane == 0) red[32] = s;
  }
  __syncthreads();
  return red[32];  // every thread
}

template <class T>
__device__ __forceinline__ T vecAt(const ChanVec& v, int64_t c, T fallback) {
  return v.p ? static_cast<const T*>(v.p)[c * v.stride] : fallback;
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    bnForward(int64_t N, int64_t C, int64_t S, const T* __restrict__ x, T* __restrict__ out, ChanVec w, ChanVec b,
              ChanVec rm, ChanVec rv, T* __restrict__ saveMean, T* __restrict__ saveInvstd, bool training,
              double momentum, double eps) {
  __shared__ double red[33];
  const int64_t c = blockIdx.x, M = N * S;
  double mean, invstd;
  if (training) {
    double s = 0;
    for (int64_t n = 0; n < N; n++) {
      const T* row = x + (n * C + c) * S;
      for (int64_t i = threadIdx.x; i < S; i += kThreads) s += row[i];
    }
    mean = blockSumD(s, red) / static_cast<double>(M);
    double ss = 0;
    for (int64_t n = 0; n < N; n++) {
      const T* row = x + (n * C + c) * S;
      for (int64_t i = threadIdx.x; i < S; i += kThreads) {
        const double d = row[i] - mean;
        ss += d * d;
      }
    }
    ss = blockSumD(ss, red);
    invstd = 1.0 / sqrt(ss / static_cast<double>(M) + eps);
    if (threadIdx.x == 0 && rm.p) {
      T* m = static_cast<T*>(rm.p) + c * rm.stride;
      T* v = static_cast<T*>(rv.p) + c * rv.stride;
      *m = static_cast<T>((1 - momentum) * *m + momentum * mean);
      *v = static_cast<T>((1 - momentum) * *v + momentum * ss / static_cast<double>(M - 1));
    }
  } else {
    mean = static_cast<const T*>(rm.p)[c * rm.stride];
    invstd = 1.0 / sqrt(static_cast<double>(static_cast<const T*>(rv.p)[c * rv.stride]) + eps);
  }
  if (threadIdx.x == 0) {
    saveMean[c] = static_cast<T>(mean);
    saveInvstd[c] = static_cast<T>(invstd);
  }
  const T scale = static_cast<T>(invstd * vecAt<T>(w, c, T(1)));
  const T shift = static_cast<T>(vecAt<T>(b, c, T(0)) - mean * scale);
  for (int64_t n = 0; n < N; n++) {
    const T* row = x + (n * C + c) * S;
    T* orow = out + (n * C + c) * S;
    for (int64_t i = threadIdx.x; i < S; i += kThreads) orow[i] = row[i] * scale + shift;
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    bnBackward(int64_t N, int64_t C, int64_t S, T* __restrict__ gx, ChanVec gw, ChanVec gb, const T* __restrict__ g,
               const T* __restrict__ x, ChanVec w, const T* __restrict__ mean, const T* __restrict__ invstd,
               bool training) {
  __shared__ double red[33];
  const int64_t c = blockIdx.x;
  const double M = static_cast<double>(N * S);
  const double mu = mean[c], is = invstd[c];
  double sg = 0, sgx = 0;
  if (training || gw.p || gb.p) {
    for (int64_t n = 0; n < N; n++) {
      const T *row = x + (n * C + c) * S, *grow = g + (n * C + c) * S;
      for (int64_t i = threadIdx.x; i < S; i += kThreads) {
        sg += grow[i];
        sgx += grow[i] * (row[i] - mu);
      }
    }
    sg = blockSumD(sg, red);
    sgx = blockSumD(sgx, red);
  }
  if (threadIdx.x == 0) {
    if (gw.p) static_cast<T*>(gw.p)[c * gw.stride] = static_cast<T>(sgx * is);
    if (gb.p) static_cast<T*>(gb.p)[c * gb.stride] = static_cast<T>(sg);
  }
  if (!gx) return;
  const double a = vecAt<T>(w, c, T(1)) * is;
  const T ka = static_cast<T>(a);
  const T kx = training ? static_cast<T>(a * is * is * sgx / M) : T(0);
  const T k0 = training ? static_cast<T>(a * sg / M - static_cast<double>(kx) * mu) : T(0);
  for (int64_t n = 0; n < N; n++) {
    const T *row = x + (n * C + c) * S, *grow = g + (n * C + c) * S;
    T* orow = gx + (n * C + c) * S;
    for (int64_t i = threadIdx.x; i < S; i += kThreads) orow[i] = ka * grow[i] - kx * row[i] - k0;
  }
}

// ---- group norm: per (sample, group) over C/G channels and S (as norm.cc) ----

template <class T>
__global__ void __launch_bounds__(kThreads)
    gnForward(int64_t C, int64_t S, int64_t G, const T* __restrict__ x, T* __restrict__ out, ChanVec w, ChanVec b,
              T* __restrict__ saveMean, T* __restrict__ saveRstd, double eps) {
  __shared__ double red[33];
  const int64_t q = blockIdx.x, n = q / G, grp = q % G, Cg = C / G, cnt = Cg * S;
  const T* base = x + (n * C + grp * Cg) * S;
  double s = 0;
  for (int64_t i = threadIdx.x; i < cnt; i += kThreads) s += base[i];
  const double mean = blockSumD(s, red) / static_cast<double>(cnt);
  double ss = 0;
  for (int64_t i = threadIdx.x; i < cnt; i += kThreads) {
    const double d = base[i] - mean;
    ss += d * d;
  }
  const double rstd = 1.0 / sqrt(blockSumD(ss, red) / static_cast<double>(cnt) + eps);
  if (threadIdx.x == 0) {
    saveMean[q] = static_cast<T>(mean);
    saveRstd[q] = static_cast<T>(rstd);
  }
  for (int64_t j = 0; j < Cg; j++) {
    const int64_t c = grp * Cg + j;
    const T scale = static_cast<T>(rstd * vecAt<T>(w, c, T(1)));
    const T shift = static_cast<T>(vecAt<T>(b, c, T(0)) - mean * scale);
    const T* row = base + j * S;
    T* orow = out + (n * C + c) * S;
    for (int64_t i = threadIdx.x; i < S; i += kThreads) orow[i] = row[i] * scale + shift;
  }
}

// Per (n, c): sums of g and of g * x, in double.
template <class T>
__global__ void __launch_bounds__(kThreads)
    gnSums(int64_t S, const T* __restrict__ g, const T* __restrict__ x, double* __restrict__ sums) {
  __shared__ double red[33];
  const int64_t q = blockIdx.x;
  const T *row = x + q * S, *grow = g + q * S;
  double a = 0, bsum = 0;
  for (int64_t i = threadIdx.x; i < S; i += kThreads) {
    a += grow[i];
    bsum += static_cast<double>(grow[i]) * row[i];
  }
  a = blockSumD(a, red);
  bsum = blockSumD(bsum, red);
  if (threadIdx.x == 0) sums[2 * q] = a, sums[2 * q + 1] = bsum;
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    gnBackwardX(int64_t C, int64_t S, int64_t G, const double* __restrict__ sums, const T* __restrict__ g,
                const T* __restrict__ x, ChanVec w, const T* __restrict__ mean, const T* __restrict__ rstd,
                T* __restrict__ gx) {
  __shared__ double red[33];
  const int64_t q = blockIdx.x, n = q / G, grp = q % G, Cg = C / G;
  const double Mg = static_cast<double>(Cg * S);
  const double mu = mean[q], rs = rstd[q];
  double sdy = 0, sdyx = 0;
  for (int64_t j = threadIdx.x; j < Cg; j += kThreads) {
    const int64_t c = grp * Cg + j;
    const double wc = vecAt<T>(w, c, T(1));
    const double sg = sums[2 * (n * C + c)], sgx = sums[2 * (n * C + c) + 1];
    sdy += wc * sg;
    sdyx += wc * (sgx - mu * sg);
  }
  sdy = blockSumD(sdy, red);
  sdyx = blockSumD(sdyx, red);
  const double kx = rs * rs * rs * sdyx / Mg;
  const double k0 = rs * sdy / Mg - kx * mu;
  const T tkx = static_cast<T>(kx), tk0 = static_cast<T>(k0);
  for (int64_t j = 0; j < Cg; j++) {
    const int64_t c = grp * Cg + j;
    const T ka = static_cast<T>(rs * vecAt<T>(w, c, T(1)));
    const T *row = x + (n * C + c) * S, *grow = g + (n * C + c) * S;
    T* orow = gx + (n * C + c) * S;
    for (int64_t i = threadIdx.x; i < S; i += kThreads) orow[i] = ka * grow[i] - tkx * row[i] - tk0;
  }
}

template <class T>
__global__ void gnBackwardParams(int64_t N, int64_t C, int64_t G, const double* __restrict__ sums,
                                 const T* __restrict__ mean, const T* __restrict__ rstd, ChanVec gw, ChanVec gb) {
  const int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  const int64_t Cg = C / G;
  double sw = 0, sb = 0;
  for (int64_t n = 0; n < N; n++) {
    const int64_t q = n * G + c / Cg;
    const double sg = sums[2 * (n * C + c)], sgx = sums[2 * (n * C + c) + 1];
    sw += (sgx - static_cast<double>(mean[q]) * sg) * rstd[q];
    sb += sg;
  }
  if (gw.p) static_cast<T*>(gw.p)[c * gw.stride] = static_cast<T>(sw);
  if (gb.p) static_cast<T*>(gb.p)[c * gb.stride] = static_cast<T>(sb);
}

}  // namespace

void batchNormForwardLaunch(Dt dt, int64_t N, int64_t C, int64_t S, const void* x, void* out, ChanVec w, ChanVec b,
                            ChanVec rm, ChanVec rv, void* saveMean, void* saveInvstd, bool training, double momentum,
                            double eps) {
  if (C == 0) return;
  if (C > 2147483647LL) throw CudaError("batchNormForward: too many channels for one launch");
  if (dt == kF32)
    bnForward<float><<<static_cast<unsigned>(C), kThreads, 0, stream()>>>(
        N, C, S, (const float*)x, (float*)out, w, b, rm, rv, (float*)saveMean, (float*)saveInvstd, training, momentum,
        eps);
  else
    bnForward<double><<<static_cast<unsigned>(C), kThreads, 0, stream()>>>(
        N, C, S, (const double*)x, (double*)out, w, b, rm, rv, (double*)saveMean, (double*)saveInvstd, training,
        momentum, eps);
  IV_CUDA_LAUNCHED("batchNormForward kernel");
}

void batchNormBackwardLaunch(Dt dt, int64_t N, int64_t C, int64_t S, void* gx, ChanVec gw, ChanVec gb, const void* g,
                             const void* x, ChanVec w, const void* mean, const void* invstd, bool training) {
  if (C == 0) return;
  if (C > 2147483647LL) throw CudaError("batchNormBackward: too many channels for one launch");
  if (dt == kF32)
    bnBackward<float><<<static_cast<unsigned>(C), kThreads, 0, stream()>>>(
        N, C, S, (float*)gx, gw, gb, (const float*)g, (const float*)x, w, (const float*)mean, (const float*)invstd,
        training);
  else
    bnBackward<double><<<static_cast<unsigned>(C), kThreads, 0, stream()>>>(
        N, C, S, (double*)gx, gw, gb, (const double*)g, (const double*)x, w, (const double*)mean,
        (const double*)invstd, training);
  IV_CUDA_LAUNCHED("batchNormBackward kernel");
}

void groupNormForwardLaunch(Dt dt, int64_t N, int64_t C, int64_t S, int64_t G, const void* x, void* out, ChanVec w,
                            ChanVec b, void* saveMean, void* saveRstd, double eps) {
  if (N * G == 0) return;
  if (N * G > 2147483647LL) throw CudaError("groupNormForward: too many groups for one launch");
  const unsigned blocks = static_cast<unsigned>(N * G);
  if (dt == kF32)
    gnForward<float><<<blocks, kThreads, 0, stream()>>>(C, S, G, (const float*)x, (float*)out, w, b,
                                                        (float*)saveMean, (float*)saveRstd, eps);
  else
    gnForward<double><<<blocks, kThreads, 0, stream()>>>(C, S, G, (const double*)x, (double*)out, w, b,
                                                         (double*)saveMean, (double*)saveRstd, eps);
  IV_CUDA_LAUNCHED("groupNormForward kernel");
}

// sums: a device workspace of 2 * N * C doubles.
void groupNormBackwardLaunch(Dt dt, int64_t N, int64_t C, int64_t S, int64_t G, void* gx, ChanVec gw, ChanVec gb,
                             const void* g, const void* x, ChanVec w, const void* mean, const void* rstd,
                             double* sums) {
  if (N * C == 0) return;
  if (N * C > 2147483647LL) throw CudaError("groupNormBackward: too many channels for one launch");
  const bool f32 = dt == kF32;
  if (f32) gnSums<float><<<static_cast<unsigned>(N * C), kThreads, 0, stream()>>>(S, (const float*)g, (const float*)x, sums);
  else gnSums<double><<<static_cast<unsigned>(N * C), kThreads, 0, stream()>>>(S, (const double*)g, (const double*)x, sums);
  IV_CUDA_LAUNCHED("groupNormBackward sums kernel");
  if (gx) {
    const unsigned blocks = static_cast<unsigned>(N * G);
    if (f32)
      gnBackwardX<float><<<blocks, kThreads, 0, stream()>>>(C, S, G, sums, (const float*)g, (const float*)x, w,
                                                            (const float*)mean, (const float*)rstd, (float*)gx);
    else
      gnBackwardX<double><<<blocks, kThreads, 0, stream()>>>(C, S, G, sums, (const double*)g, (const double*)x, w,
                                                             (const double*)mean, (const double*)rstd, (double*)gx);
    IV_CUDA_LAUNCHED("groupNormBackward input-gradient kernel");
  }
  if (gw.p || gb.p) {
    const unsigned blocks = static_cast<unsigned>((C + 255) / 256);
    if (f32) gnBackwardParams<float><<<blocks, 256, 0, stream()>>>(N, C, G, sums, (const float*)mean, (const float*)rstd, gw, gb);
    else gnBackwardParams<double><<<blocks, 256, 0, stream()>>>(N, C, G, sums, (const double*)mean, (const double*)rstd, gw, gb);
    IV_CUDA_LAUNCHED("groupNormBackward parameter-gradient kernel");
  }
}

}  // namespace cuda
}  // namespace iv
