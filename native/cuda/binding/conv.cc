// The CUDA addon's convolution, pooling, batch-norm and group-norm entry points: the CPU's names,
// argument lists, checks and error messages (native/cpu/ops/conv.cc, pool.cc, norm.cc: batch and group norm),
// descriptors holding device handles. The kernels are kernels/conv.cu, pool.cu, batchnorm.cu.
#include <algorithm>
#include <limits>
#include <string>
#include <vector>
#include "../../binding/pool_args.h"
#include "../../binding/registry.h"
#include "../../cpu/ops/conv.h"
#include "device_args.h"

namespace iv {
namespace cuda {

// ---- launchers (kernels/conv.cu, pool.cu, batchnorm.cu) ----

void convForward(Dt dt, const ConvGeom& g, const void* x, const void* w, const void* bias, void* y, void* pre,
                 int act);
void convBackwardInput(Dt dt, const ConvGeom& g, const void* gy, const void* w, void* gx);
void convBackwardWeight(Dt dt, const ConvGeom& g, const void* gy, const void* x, void* gw, void* gb);

struct PoolGeo {
  int64_t planes, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw;
};
void poolMaxForward(Dt dt, const PoolGeo& g, const void* x, void* y, int32_t* idx);
void poolMaxBackward(Dt dt, const PoolGeo& g, const void* gy, const int32_t* idx, void* gx);
void poolAvgForward(Dt dt, const PoolGeo& g, const void* x, void* y, bool includePad, int64_t div);
void poolAvgBackward(Dt dt, const PoolGeo& g, const void* gy, void* gx, bool includePad, int64_t div);
void poolAdaptiveForward(Dt dt, const PoolGeo& g, const void* x, void* y);
void poolAdaptiveBackward(Dt dt, const PoolGeo& g, const void* gy, void* gx);

struct ChanVec {
  void* p;
  int64_t stride;
};
void batchNormForwardLaunch(Dt dt, int64_t N, int64_t C, int64_t S, const void* x, void* out, ChanVec w, ChanVec b,
                            ChanVec rm, ChanVec rv, void* saveMean, void* saveInvstd, bool training, double momentum,
                            double eps);
void batchNormBackwardLaunch(Dt dt, int64_t N, int64_t C, int64_t S, void* gx, ChanVec gw, ChanVec gb, const void* g,
                             const void* x, ChanVec w, const void* mean, const void* invstd, bool training);
void groupNormForwardLaunch(Dt dt, int64_t N, int64_t C, int64_t S, int64_t G, const void* x, void* out, ChanVec w,
                            ChanVec b, void* saveMean, void* saveRstd, double eps);
void groupNormBackwardLaunch(Dt dt, int64_t N, int64_t C, int64_t S, int64_t G, void* gx, ChanVec gw, ChanVec gb,
                             const void* g, const void* x, ChanVec w, const void* mean, const void* rstd,
                             double* sums);

namespace {

std::string str(int64_t v) { return std::to_string(v); }
bool isFloat(DType d) { return d == DType::float32 || d == DType::float64; }
constexpr int64_t kMaxIndex = std::numeric_limits<int32_t>::max();

// ---- convolution ----

// params: [strideH, strideW, padTop, padBottom, padLeft, padRight, dilationH, dilationW, groups].
ConvGeom parseGeom(Args& args, size_t paramsAt, const TensorArg& in, const char* inName, const TensorArg& w,
                   const TensorArg& out, const char* outName) {
  const std::vector<int64_t> p = args.ints(paramsAt, "params");
  if (p.size() != 9)
    args.fail("params must be [strideH, strideW, padTop, padBottom, padLeft, padRight, dilationH, dilationW, groups], "
              "got " + str(static_cast<int64_t>(p.size())) + " values");
  if (in.shape.size() != 4 || w.shape.size() != 4 || out.shape.size() != 4)
    args.fail(std::string("expected 4-d ") + inName + " [N, C, H, W], weight [K, C/groups, kh, kw] and " + outName +
              " [N, K, Ho, Wo], got " + in.shapeString() + ", " + w.shapeString() + " and " + out.shapeString());
  if (in.dtype != w.dtype || in.dtype != out.dtype || !isFloat(in.dtype))
    args.fail(std::string("tensors must share a float dtype, got ") + inName + " " + dtypeName(in.dtype) +
              ", weight " + dtypeName(w.dtype) + ", " + outName + " " + dtypeName(out.dtype));
  if (!in.contiguous() || !w.contiguous() || !out.contiguous())
    args.fail(std::string(inName) + ", weight and " + outName + " must be contiguous");
  ConvGeom g{};
  g.N = in.shape[0], g.C = in.shape[1], g.H = in.shape[2], g.W = in.shape[3];
  g.K = w.shape[0], g.kh = w.shape[2], g.kw = w.shape[3];
  g.sh = p[0], g.sw = p[1], g.pt = p[2], g.pl = p[4], g.dh = p[6], g.dw = p[7], g.groups = p[8];
  const int64_t pb = p[3], pr = p[5];
  if (g.sh < 1 || g.sw < 1 || g.dh < 1 || g.dw < 1 || g.groups < 1 || g.pt < 0 || g.pl < 0)
    args.fail("strides, dilations and groups must be positive and top/left padding non-negative");
  if (g.C < 1 || g.K < 1 || g.kh < 1 || g.kw < 1 || g.H < 1 || g.W < 1)
    args.fail("channels, kernel and spatial sizes must be positive, got " + std::string(inName) + " " +
              in.shapeString() + " and weight " + w.shapeString());
  if (g.C % g.groups || g.K % g.groups)
    args.fail("groups " + str(g.groups) + " must divide input channels " + str(g.C) + " and output channels " +
              str(g.K));
  if (w.shape[1] * g.groups != g.C)
    args.fail(std::string(inName) + " " + in.shapeString() + " has " + str(g.C) + " channels but weight " +
              w.shapeString() + " with groups " + str(g.groups) + " expects " + str(w.shape[1] * g.groups));
  const int64_t spanH = g.H + g.pt + pb - g.dh * (g.kh - 1) - 1, spanW = g.W + g.pl + pr - g.dw * (g.kw - 1) - 1;
  if (spanH < 0 || spanW < 0)
    args.fail("kernel " + str(g.kh) + "x" + str(g.kw) + " (dilation " + str(g.dh) + "x" + str(g.dw) +
              ") is larger than the padded input " + str(g.H + g.pt + pb) + "x" + str(g.W + g.pl + pr));
  g.Ho = spanH / g.sh + 1, g.Wo = spanW / g.sw + 1;
  if (out.shape[0] != g.N || out.shape[1] != g.K || out.shape[2] != g.Ho || out.shape[3] != g.Wo)
    args.fail(std::string(outName) + " has shape " + out.shapeString() + " but " + inName + " " + in.shapeString() +
              " and weight " + w.shapeString() + " give [" + str(g.N) + ", " + str(g.K) + ", " + str(g.Ho) + ", " +
              str(g.Wo) + "]");
  // The kernels index in 32 bits.
  if (std::max({in.numel(), w.numel(), out.numel()}) > kMaxIndex)
    args.fail("tensors of 2^31 or more elements are not supported on CUDA yet (" + std::string(inName) + " " +
              in.shapeString() + ", " + outName + " " + out.shapeString() + ")");
  return g;
}

void checkVector(Args& args, const TensorArg& t, const char* name, int64_t n, DType dtype) {
  if (t.shape.size() != 1 || t.shape[0] != n || t.dtype != dtype || !t.contiguous())
    args.fail(std::string(name) + " must be a contiguous 1-d " + dtypeName(dtype) + " tensor of " + str(n) +
              " elements, got " + dtypeName(t.dtype) + " " + t.shapeString());
}

Act parseAct(Args& args, size_t i) {
  const std::string s = args.string(i, "activation");
  if (s == "none") return Act::none;
  if (s == "relu") return Act::relu;
  if (s == "gelu") return Act::gelu;
  if (s == "silu") return Act::silu;
  args.fail("unknown activation '" + s + "' (expected none, relu, gelu or silu)");
}

// conv2d(out, x, weight, bias | null, params, activation, pre | null)
Napi::Value conv2d(const Napi::CallbackInfo& info) {
  Args args(info, "conv2d", 7);
  TensorArg out = deviceTensor(args, info, 0, "out"), x = deviceTensor(args, info, 1, "x"),
            w = deviceTensor(args, info, 2, "weight");
  const ConvGeom g = parseGeom(args, 4, x, "x", w, out, "out");
  TensorArg bias, pre;
  if (!args.isNullish(3)) bias = deviceTensor(args, info, 3, "bias"), checkVector(args, bias, "bias", g.K, x.dtype);
  const Act act = parseAct(args, 5);
  if (!args.isNullish(6)) {
    pre = deviceTensor(args, info, 6, "pre");
    if (pre.shape != out.shape || pre.dtype != out.dtype || !pre.contiguous())
      args.fail("pre must be a contiguous tensor shaped like out " + out.shapeString() + ", got " + pre.shapeString());
  }
  if (g.N == 0) return info.Env().Undefined();
  convForward(dt(x.dtype), g, x.data, w.data, bias.data, out.data, pre.data, static_cast<int>(act));
  return info.Env().Undefined();
}

// conv2dBackwardInput(gx, gy, weight, params)
Napi::Value conv2dBackwardInput(const Napi::CallbackInfo& info) {
  Args args(info, "conv2dBackwardInput", 4);
  TensorArg gx = deviceTensor(args, info, 0, "gradInput"), gy = deviceTensor(args, info, 1, "gradOutput"),
            w = deviceTensor(args, info, 2, "weight");
  const ConvGeom g = parseGeom(args, 3, gx, "gradInput", w, gy, "gradOutput");
  if (g.N == 0) return info.Env().Undefined();
  convBackwardInput(dt(gx.dtype), g, gy.data, w.data, gx.data);
  return info.Env().Undefined();
}

// conv2dBackwardWeight(gw, gb | null, gy, x, params)
Napi::Value conv2dBackwardWeight(const Napi::CallbackInfo& info) {
  Args args(info, "conv2dBackwardWeight", 5);
  TensorArg gw = deviceTensor(args, info, 0, "gradWeight"), gy = deviceTensor(args, info, 2, "gradOutput"),
            x = deviceTensor(args, info, 3, "x");
  const ConvGeom g = parseGeom(args, 4, x, "x", gw, gy, "gradOutput");
  TensorArg gb;
  if (!args.isNullish(1)) gb = deviceTensor(args, info, 1, "gradBias"), checkVector(args, gb, "gradBias", g.K, x.dtype);
  convBackwardWeight(dt(x.dtype), g, gy.data, x.data, gw.data, gb.data);
  return info.Env().Undefined();
}

// ---- pooling ----

// The kernels take their own PoolGeo (declared in pool.cu's terms); the checks are shared.
PoolGeo toGeo(const PoolGeometry& g) {
  return {g.planes, g.H, g.W, g.Ho, g.Wo, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw};
}

PoolGeo parsePool(Args& args, size_t at, bool ceil, const TensorArg& in, const char* inName, const TensorArg& out,
                  const char* outName) {
  return toGeo(parseMaxPoolArgs(args, at, ceil, in, inName, out, outName));
}

// maxPool2d(out, indices, x, params, ceilMode)
Napi::Value maxPool2d(const Napi::CallbackInfo& info) {
  Args args(info, "maxPool2d", 5);
  TensorArg out = deviceTensor(args, info, 0, "out"), idx = deviceTensor(args, info, 1, "indices"),
            x = deviceTensor(args, info, 2, "x");
  const PoolGeo g = parsePool(args, 3, args.boolean(4, "ceilMode"), x, "x", out, "out");
  if (idx.shape != out.shape || idx.dtype != DType::int32 || !idx.contiguous())
    args.fail("indices must be a contiguous int32 tensor shaped like out " + out.shapeString() + ", got " +
              dtypeName(idx.dtype) + " " + idx.shapeString());
  poolMaxForward(dt(x.dtype), g, x.data, out.data, idx.ptr<int32_t>());
  return info.Env().Undefined();
}

// maxPool2dBackward(gx, gy, indices). The CPU rejects an index outside the plane; reading
// the indices back would cost a sync, so here such an index is skipped instead.
Napi::Value maxPool2dBackward(const Napi::CallbackInfo& info) {
  Args args(info, "maxPool2dBackward", 3);
  TensorArg gx = deviceTensor(args, info, 0, "gradInput"), gy = deviceTensor(args, info, 1, "gradOutput"),
            idx = deviceTensor(args, info, 2, "indices");
  checkPoolPair(args, gx, "gradInput", gy, "gradOutput");
  if (idx.shape != gy.shape || idx.dtype != DType::int32 || !idx.contiguous())
    args.fail("indices must be a contiguous int32 tensor shaped like gradOutput " + gy.shapeString());
  PoolGeo g{gx.shape[0] * gx.shape[1], gx.shape[2], gx.shape[3], gy.shape[2], gy.shape[3], 1, 1, 1, 1, 0, 0, 1, 1};
  poolMaxBackward(dt(gx.dtype), g, gy.data, idx.ptr<int32_t>(), gx.data);
  return info.Env().Undefined();
}

PoolGeo parseAvg(Args& args, const TensorArg& in, const char* inName, const TensorArg& out, const char* outName,
                 bool& includePad, int64_t& div) {
  return toGeo(parseAvgPoolArgs(args, in, inName, out, outName, includePad, div));
}

// avgPool2d(out, x, params, ceilMode, countIncludePad, divisorOverride)
Napi::Value avgPool2d(const Napi::CallbackInfo& info) {
  Args args(info, "avgPool2d", 6);
  TensorArg out = deviceTensor(args, info, 0, "out"), x = deviceTensor(args, info, 1, "x");
  bool includePad;
  int64_t div;
  const PoolGeo g = parseAvg(args, x, "x", out, "out", includePad, div);
  poolAvgForward(dt(x.dtype), g, x.data, out.data, includePad, div);
  return info.Env().Undefined();
}

// avgPool2dBackward(gx, gy, params, ceilMode, countIncludePad, divisorOverride)
Napi::Value avgPool2dBackward(const Napi::CallbackInfo& info) {
  Args args(info, "avgPool2dBackward", 6);
  TensorArg gx = deviceTensor(args, info, 0, "gradInput"), gy = deviceTensor(args, info, 1, "gradOutput");
  bool includePad;
  int64_t div;
  const PoolGeo g = parseAvg(args, gx, "gradInput", gy, "gradOutput", includePad, div);
  poolAvgBackward(dt(gx.dtype), g, gy.data, gx.data, includePad, div);
  return info.Env().Undefined();
}

PoolGeo parseAdaptive(Args& args, const TensorArg& in, const char* inName, const TensorArg& out, const char* outName) {
  checkPoolPair(args, in, inName, out, outName);
  if (in.shape[2] < 1 || in.shape[3] < 1 || out.shape[2] < 1 || out.shape[3] < 1)
    args.fail("spatial sizes must be positive, got " + std::string(inName) + " " + in.shapeString() + " and " +
              outName + " " + out.shapeString());
  return {in.shape[0] * in.shape[1], in.shape[2], in.shape[3], out.shape[2], out.shape[3], 0, 0, 0, 0, 0, 0, 0, 0};
}

// adaptiveAvgPool2d(out, x)
Napi::Value adaptiveAvgPool2d(const Napi::CallbackInfo& info) {
  Args args(info, "adaptiveAvgPool2d", 2);
  TensorArg out = deviceTensor(args, info, 0, "out"), x = deviceTensor(args, info, 1, "x");
  const PoolGeo g = parseAdaptive(args, x, "x", out, "out");
  poolAdaptiveForward(dt(x.dtype), g, x.data, out.data);
  return info.Env().Undefined();
}

// adaptiveAvgPool2dBackward(gx, gy)
Napi::Value adaptiveAvgPool2dBackward(const Napi::CallbackInfo& info) {
  Args args(info, "adaptiveAvgPool2dBackward", 2);
  TensorArg gx = deviceTensor(args, info, 0, "gradInput"), gy = deviceTensor(args, info, 1, "gradOutput");
  const PoolGeo g = parseAdaptive(args, gx, "gradInput", gy, "gradOutput");
  poolAdaptiveBackward(dt(gx.dtype), g, gy.data, gx.data);
  return info.Env().Undefined();
}

// ---- batch norm ----

TensorArg optionalVector(Args& args, const Napi::CallbackInfo& info, size_t i, const char* name, int64_t n,
                         DType dtype, bool& present) {
  present = !args.isNullish(i);
  TensorArg t;
  if (!present) return t;
  t = deviceTensor(args, info, i, name);
  if (t.shape.size() != 1 || t.shape[0] != n)
    args.fail(std::string("argument '") + name + "' must have shape [" + str(n) + "], got " + t.shapeString());
  if (t.dtype != dtype)
    args.fail(std::string("argument '") + name + "' must be " + dtypeName(dtype) + ", got " + dtypeName(t.dtype));
  return t;
}

void requireContiguous(Args& args, const TensorArg& t, const char* name, const std::vector<int64_t>& shape,
                       DType dtype) {
  if (t.shape != shape || !t.contiguous() || t.dtype != dtype) {
    std::string want = "[";
    for (size_t i = 0; i < shape.size(); i++) want += (i ? ", " : "") + str(shape[i]);
    args.fail(std::string("argument '") + name + "' must be a contiguous " + dtypeName(dtype) + " tensor of shape " +
              want + "], got " + dtypeName(t.dtype) + " " + t.shapeString() + (t.contiguous() ? "" : " (strided)"));
  }
}

ChanVec chan(const TensorArg& t, bool present) {
  return present ? ChanVec{t.data, t.strides[0]} : ChanVec{nullptr, 0};
}

// batchNormForward(out, x, weight, bias, runningMean, runningVar, saveMean, saveInvstd, training, momentum, eps)
Napi::Value batchNormForward(const Napi::CallbackInfo& info) {
  Args args(info, "batchNormForward", 11);
  TensorArg out = deviceTensor(args, info, 0, "out"), x = deviceTensor(args, info, 1, "x");
  if (x.shape.size() != 3 || !x.contiguous() || !isFloat(x.dtype))
    args.fail("argument 'x' must be a contiguous float [N, C, S] tensor, got " + std::string(dtypeName(x.dtype)) +
              " " + x.shapeString());
  const int64_t C = x.shape[1];
  requireContiguous(args, out, "out", x.shape, x.dtype);
  bool hasW, hasB, hasRm, hasRv;
  TensorArg w = optionalVector(args, info, 2, "weight", C, x.dtype, hasW);
  TensorArg b = optionalVector(args, info, 3, "bias", C, x.dtype, hasB);
  TensorArg rm = optionalVector(args, info, 4, "runningMean", C, x.dtype, hasRm);
  TensorArg rv = optionalVector(args, info, 5, "runningVar", C, x.dtype, hasRv);
  TensorArg saveMean = deviceTensor(args, info, 6, "saveMean"), saveInvstd = deviceTensor(args, info, 7, "saveInvstd");
  requireContiguous(args, saveMean, "saveMean", {C}, x.dtype);
  requireContiguous(args, saveInvstd, "saveInvstd", {C}, x.dtype);
  const bool training = args.boolean(8, "training");
  const double momentum = args.number(9, "momentum"), eps = args.number(10, "eps");
  if (hasRm != hasRv) args.fail("runningMean and runningVar must both be given or both be null");
  if (!training && !hasRm) args.fail("evaluation mode needs runningMean and runningVar");
  if (!(eps >= 0)) args.fail("eps must be non-negative, got " + std::to_string(eps));
  const int64_t M = x.shape[0] * x.shape[2];
  if (training && M <= 1) args.fail("training needs more than one value per channel, got input " + x.shapeString());
  if (C == 0) return info.Env().Undefined();
  batchNormForwardLaunch(dt(x.dtype), x.shape[0], C, x.shape[2], x.data, out.data, chan(w, hasW), chan(b, hasB),
                         chan(rm, hasRm), chan(rv, hasRv), saveMean.data, saveInvstd.data, training, momentum, eps);
  return info.Env().Undefined();
}

// batchNormBackward(gradX | null, gradWeight | null, gradBias | null, grad, x, weight, saveMean, saveInvstd, training)
Napi::Value batchNormBackward(const Napi::CallbackInfo& info) {
  Args args(info, "batchNormBackward", 9);
  const bool wantX = !args.isNullish(0), wantW = !args.isNullish(1), wantB = !args.isNullish(2);
  TensorArg g = deviceTensor(args, info, 3, "grad"), x = deviceTensor(args, info, 4, "x");
  if (x.shape.size() != 3 || !x.contiguous() || !isFloat(x.dtype))
    args.fail("argument 'x' must be a contiguous float [N, C, S] tensor, got " + std::string(dtypeName(x.dtype)) +
              " " + x.shapeString());
  const int64_t C = x.shape[1];
  requireContiguous(args, g, "grad", x.shape, x.dtype);
  TensorArg gx, gw, gb;
  bool present, hasW;
  if (wantX) requireContiguous(args, gx = deviceTensor(args, info, 0, "gradX"), "gradX", x.shape, x.dtype);
  if (wantW) gw = optionalVector(args, info, 1, "gradWeight", C, x.dtype, present);
  if (wantB) gb = optionalVector(args, info, 2, "gradBias", C, x.dtype, present);
  TensorArg w = optionalVector(args, info, 5, "weight", C, x.dtype, hasW);
  TensorArg mean = deviceTensor(args, info, 6, "saveMean"), invstd = deviceTensor(args, info, 7, "saveInvstd");
  requireContiguous(args, mean, "saveMean", {C}, x.dtype);
  requireContiguous(args, invstd, "saveInvstd", {C}, x.dtype);
  const bool training = args.boolean(8, "training");
  if (C == 0) return info.Env().Undefined();
  batchNormBackwardLaunch(dt(x.dtype), x.shape[0], C, x.shape[2], wantX ? gx.data : nullptr, chan(gw, wantW),
                          chan(gb, wantB), g.data, x.data, chan(w, hasW), mean.data, invstd.data, training);
  return info.Env().Undefined();
}

// ---- group norm ----

// groupNormForward(out, x, numGroups, weight, bias, saveMean, saveRstd, eps)
Napi::Value groupNormForward(const Napi::CallbackInfo& info) {
  Args args(info, "groupNormForward", 8);
  TensorArg out = deviceTensor(args, info, 0, "out"), x = deviceTensor(args, info, 1, "x");
  if (x.shape.size() != 3 || !x.contiguous() || !isFloat(x.dtype))
    args.fail("argument 'x' must be a contiguous float [N, C, S] tensor, got " + std::string(dtypeName(x.dtype)) +
              " " + x.shapeString());
  const int64_t N = x.shape[0], C = x.shape[1], G = args.integer(2, "numGroups");
  if (G <= 0 || C % G != 0)
    args.fail("numGroups " + str(G) + " must be positive and divide the " + str(C) + " channels of x " +
              x.shapeString());
  requireContiguous(args, out, "out", x.shape, x.dtype);
  bool hasW, hasB;
  TensorArg w = optionalVector(args, info, 3, "weight", C, x.dtype, hasW);
  TensorArg b = optionalVector(args, info, 4, "bias", C, x.dtype, hasB);
  TensorArg mean = deviceTensor(args, info, 5, "saveMean"), rstd = deviceTensor(args, info, 6, "saveRstd");
  requireContiguous(args, mean, "saveMean", {N, G}, x.dtype);
  requireContiguous(args, rstd, "saveRstd", {N, G}, x.dtype);
  const double eps = args.number(7, "eps");
  if (!(eps >= 0)) args.fail("eps must be non-negative, got " + std::to_string(eps));
  if (x.shape[2] == 0 && N > 0) args.fail("cannot normalise over zero elements (x " + x.shapeString() + ")");
  if (N == 0) return info.Env().Undefined();
  groupNormForwardLaunch(dt(x.dtype), N, C, x.shape[2], G, x.data, out.data, chan(w, hasW), chan(b, hasB), mean.data,
                         rstd.data, eps);
  return info.Env().Undefined();
}

// groupNormBackward(gradX | null, gradWeight | null, gradBias | null, grad, x, numGroups, weight, saveMean, saveRstd)
Napi::Value groupNormBackward(const Napi::CallbackInfo& info) {
  Args args(info, "groupNormBackward", 9);
  const bool wantX = !args.isNullish(0), wantW = !args.isNullish(1), wantB = !args.isNullish(2);
  TensorArg g = deviceTensor(args, info, 3, "grad"), x = deviceTensor(args, info, 4, "x");
  if (x.shape.size() != 3 || !x.contiguous() || !isFloat(x.dtype))
    args.fail("argument 'x' must be a contiguous float [N, C, S] tensor, got " + std::string(dtypeName(x.dtype)) +
              " " + x.shapeString());
  const int64_t N = x.shape[0], C = x.shape[1], G = args.integer(5, "numGroups");
  if (G <= 0 || C % G != 0)
    args.fail("numGroups " + str(G) + " must be positive and divide the " + str(C) + " channels of x " +
              x.shapeString());
  requireContiguous(args, g, "grad", x.shape, x.dtype);
  TensorArg gx, gw, gb;
  bool present, hasW;
  if (wantX) requireContiguous(args, gx = deviceTensor(args, info, 0, "gradX"), "gradX", x.shape, x.dtype);
  if (wantW) gw = optionalVector(args, info, 1, "gradWeight", C, x.dtype, present);
  if (wantB) gb = optionalVector(args, info, 2, "gradBias", C, x.dtype, present);
  TensorArg w = optionalVector(args, info, 6, "weight", C, x.dtype, hasW);
  TensorArg mean = deviceTensor(args, info, 7, "saveMean"), rstd = deviceTensor(args, info, 8, "saveRstd");
  requireContiguous(args, mean, "saveMean", {N, G}, x.dtype);
  requireContiguous(args, rstd, "saveRstd", {N, G}, x.dtype);
  if (N * C == 0) return info.Env().Undefined();
  // Per (n, c) sums of g and g * x; the block goes back to the cache after the launches
  // are queued, and the one stream orders any reuse after them.
  ScopedBlock sums(sizeof(double) * 2 * static_cast<size_t>(N * C), "groupNormBackward");
  groupNormBackwardLaunch(dt(x.dtype), N, C, x.shape[2], G, wantX ? gx.data : nullptr, chan(gw, wantW),
                          chan(gb, wantB), g.data, x.data, chan(w, hasW), mean.data, rstd.data, sums.as<double>());
  return info.Env().Undefined();
}

}  // namespace

IV_EXPORT("conv2d", conv2d);
IV_EXPORT("conv2dBackwardInput", conv2dBackwardInput);
IV_EXPORT("conv2dBackwardWeight", conv2dBackwardWeight);
IV_EXPORT("maxPool2d", maxPool2d);
IV_EXPORT("maxPool2dBackward", maxPool2dBackward);
IV_EXPORT("avgPool2d", avgPool2d);
IV_EXPORT("avgPool2dBackward", avgPool2dBackward);
IV_EXPORT("adaptiveAvgPool2d", adaptiveAvgPool2d);
IV_EXPORT("adaptiveAvgPool2dBackward", adaptiveAvgPool2dBackward);
IV_EXPORT("batchNormForward", batchNormForward);
IV_EXPORT("batchNormBackward", batchNormBackward);
IV_EXPORT("groupNormForward", groupNormForward);
IV_EXPORT("groupNormBackward", groupNormBackward);

}  // namespace cuda
}  // namespace iv
