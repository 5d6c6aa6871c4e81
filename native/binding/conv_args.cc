#include "conv_args.h"
#include <string>
#include <vector>

namespace iv {
namespace {

std::string str(int64_t v) { return std::to_string(v); }

// params: [strideH, strideW, padTop, padBottom, padLeft, padRight, dilationH, dilationW, groups].
// `in` is input-shaped (x or its gradient), `out` output-shaped (y or its gradient).
ConvGeom parseGeom(Args& args, size_t paramsAt, const TensorArg& in, const char* inName, const TensorArg& w,
                   const TensorArg& out, const char* outName) {
  const std::vector<int64_t> p = args.ints(paramsAt, "params");
  if (p.size() != 9)
    args.fail("params must be [strideH, strideW, padTop, padBottom, padLeft, padRight, dilationH, dilationW, groups], "
              "got " + str(static_cast<int64_t>(p.size())) + " values");
  if (in.shape.size() != 4 || w.shape.size() != 4 || out.shape.size() != 4)
    args.fail(std::string("expected 4-d ") + inName + " [N, C, H, W], weight [K, C/groups, kh, kw] and " + outName +
              " [N, K, Ho, Wo], got " + in.shapeString() + ", " + w.shapeString() + " and " + out.shapeString());
  if (in.dtype != w.dtype || in.dtype != out.dtype || !(isFloat(in.dtype) || in.dtype == DType::bfloat16))
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
  return g;
}

// Argument i: null, or a contiguous 1-d tensor of n elements (bias, gradBias).
TensorArg optionalChannels(Args& args, size_t i, const char* name, int64_t n, DType dtype) {
  if (args.isNullish(i)) return TensorArg();
  TensorArg t = args.tensor(i, name);
  if (t.shape.size() != 1 || t.shape[0] != n || t.dtype != dtype || !t.contiguous())
    args.fail(std::string(name) + " must be a contiguous 1-d " + dtypeName(dtype) + " tensor of " + str(n) +
              " elements, got " + dtypeName(t.dtype) + " " + t.shapeString());
  return t;
}

}  // namespace

Conv2dArgs parseConv2dArgs(Args& args) {
  Conv2dArgs a;
  a.out = args.tensor(0, "out"), a.x = args.tensor(1, "x"), a.weight = args.tensor(2, "weight");
  a.geom = parseGeom(args, 4, a.x, "x", a.weight, a.out, "out");
  a.bias = optionalChannels(args, 3, "bias", a.geom.K, a.x.dtype);
  a.act = args.activation(5);
  if (!args.isNullish(6)) {
    a.pre = args.tensor(6, "pre");
    if (a.pre.shape != a.out.shape || a.pre.dtype != a.out.dtype || !a.pre.contiguous())
      args.fail("pre must be a contiguous tensor shaped like out " + a.out.shapeString() + ", got " +
                a.pre.shapeString());
  }
  return a;
}

Conv2dBackwardInputArgs parseConv2dBackwardInputArgs(Args& args) {
  Conv2dBackwardInputArgs a;
  a.gradInput = args.tensor(0, "gradInput"), a.gradOutput = args.tensor(1, "gradOutput");
  a.weight = args.tensor(2, "weight");
  a.geom = parseGeom(args, 3, a.gradInput, "gradInput", a.weight, a.gradOutput, "gradOutput");
  return a;
}

Conv2dBackwardWeightArgs parseConv2dBackwardWeightArgs(Args& args) {
  Conv2dBackwardWeightArgs a;
  a.gradWeight = args.tensor(0, "gradWeight"), a.gradOutput = args.tensor(2, "gradOutput"), a.x = args.tensor(3, "x");
  a.geom = parseGeom(args, 4, a.x, "x", a.gradWeight, a.gradOutput, "gradOutput");
  a.gradBias = optionalChannels(args, 1, "gradBias", a.geom.K, a.x.dtype);
  return a;
}

}  // namespace iv
