#include "pool_args.h"
#include <string>
#include <vector>

namespace iv {
namespace {

std::string str(int64_t v) { return std::to_string(v); }

int64_t floorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// PyTorch's pooling_output_shape: in ceil mode the last window must start inside the input
// or the left padding.
int64_t pooledSize(int64_t in, int64_t k, int64_t p, int64_t s, int64_t d, bool ceil) {
  int64_t o = floorDiv(in + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0), s) + 1;
  if (ceil && (o - 1) * s >= in + p) o--;
  return o;
}

void checkFloat4d(Args& args, const TensorArg& t, const char* name) {
  if (t.shape.size() != 4) args.fail(std::string(name) + " must be 4-d [N, C, H, W], got " + t.shapeString());
  if (t.dtype != DType::float32 && t.dtype != DType::float64)
    args.fail(std::string(name) + " must be float32 or float64, got " + dtypeName(t.dtype));
  if (!t.contiguous()) args.fail(std::string(name) + " must be contiguous");
}

// The window against the input: positive sizes, padding at most half the kernel, and the
// output's spatial size the one the window gives.
void checkWindow(Args& args, const PoolGeometry& g, bool ceil, bool dilated, const TensorArg& in, const char* inName,
                 const TensorArg& out, const char* outName) {
  if (g.kh < 1 || g.kw < 1 || g.sh < 1 || g.sw < 1 || g.dh < 1 || g.dw < 1 || g.ph < 0 || g.pw < 0)
    args.fail(dilated ? "kernel size, stride and dilation must be positive and padding non-negative"
                      : "kernel size and stride must be positive and padding non-negative");
  if (g.ph > g.kh / 2 || g.pw > g.kw / 2)
    args.fail("padding " + str(g.ph) + "x" + str(g.pw) + " must be at most half the kernel size " + str(g.kh) + "x" +
              str(g.kw));
  const int64_t ho = pooledSize(g.H, g.kh, g.ph, g.sh, g.dh, ceil), wo = pooledSize(g.W, g.kw, g.pw, g.sw, g.dw, ceil);
  if (ho < 1 || wo < 1)
    args.fail("input " + in.shapeString() + " is too small for kernel " + str(g.kh) + "x" + str(g.kw) +
              (dilated ? " (output would be " + str(ho) + "x" + str(wo) + ")" : std::string()));
  if (g.Ho != ho || g.Wo != wo)
    args.fail(std::string(outName) + " " + out.shapeString() + " should be " + str(ho) + "x" + str(wo) +
              " spatially for " + inName + " " + in.shapeString());
}

void checkPoolPair(Args& args, const TensorArg& in, const char* inName, const TensorArg& out, const char* outName) {
  checkFloat4d(args, in, inName);
  checkFloat4d(args, out, outName);
  if (in.dtype != out.dtype)
    args.fail(std::string(inName) + " is " + dtypeName(in.dtype) + " but " + outName + " is " + dtypeName(out.dtype));
  if (in.shape[0] != out.shape[0] || in.shape[1] != out.shape[1])
    args.fail(std::string(inName) + " " + in.shapeString() + " and " + outName + " " + out.shapeString() +
              " differ in batch or channels");
}

PoolGeometry parseMaxPoolArgs(Args& args, size_t at, bool ceil, const TensorArg& in, const char* inName,
                              const TensorArg& out, const char* outName) {
  checkPoolPair(args, in, inName, out, outName);
  const std::vector<int64_t> p = args.ints(at, "params");
  if (p.size() != 8) args.fail("params must be [kh, kw, sh, sw, ph, pw, dh, dw]");
  const PoolGeometry g{in.shape[0] * in.shape[1], in.shape[2], in.shape[3], out.shape[2], out.shape[3],
                       p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]};
  checkWindow(args, g, ceil, true, in, inName, out, outName);
  return g;
}

PoolGeometry parseAvgPoolArgs(Args& args, const TensorArg& in, const char* inName, const TensorArg& out,
                              const char* outName, bool& includePad, int64_t& div) {
  const std::vector<int64_t> p = args.ints(2, "params");
  if (p.size() != 6) args.fail("params must be [kh, kw, sh, sw, ph, pw]");
  const bool ceil = args.boolean(3, "ceilMode");
  includePad = args.boolean(4, "countIncludePad");
  div = args.integer(5, "divisorOverride");
  if (div < 0) args.fail("divisorOverride must be positive (or 0 for none), got " + str(div));
  checkPoolPair(args, in, inName, out, outName);
  const PoolGeometry g{in.shape[0] * in.shape[1], in.shape[2], in.shape[3], out.shape[2], out.shape[3],
                       p[0], p[1], p[2], p[3], p[4], p[5], 1, 1};
  checkWindow(args, g, ceil, false, in, inName, out, outName);
  return g;
}

// (out, x) for a forward pass, (gradInput, gradOutput) for a backward one.
struct Pair {
  TensorArg input, output;
  const char *inName, *outName;
};
Pair readPair(Args& args, bool backward) {
  Pair p;
  p.inName = backward ? "gradInput" : "x";
  p.outName = backward ? "gradOutput" : "out";
  if (backward) p.input = args.tensor(0, p.inName), p.output = args.tensor(1, p.outName);
  else p.output = args.tensor(0, p.outName), p.input = args.tensor(1, p.inName);
  return p;
}

}  // namespace

MaxPool2dArgs parseMaxPool2dArgs(Args& args) {
  MaxPool2dArgs a;
  a.out = args.tensor(0, "out"), a.indices = args.tensor(1, "indices"), a.x = args.tensor(2, "x");
  a.geom = parseMaxPoolArgs(args, 3, args.boolean(4, "ceilMode"), a.x, "x", a.out, "out");
  const TensorArg& idx = a.indices;
  if (idx.shape != a.out.shape || idx.dtype != DType::int32 || !idx.contiguous())
    args.fail("indices must be a contiguous int32 tensor shaped like out " + a.out.shapeString() + ", got " +
              dtypeName(idx.dtype) + " " + idx.shapeString());
  return a;
}

MaxPool2dBackwardArgs parseMaxPool2dBackwardArgs(Args& args) {
  MaxPool2dBackwardArgs a;
  a.gradInput = args.tensor(0, "gradInput"), a.gradOutput = args.tensor(1, "gradOutput");
  a.indices = args.tensor(2, "indices");
  const TensorArg &gx = a.gradInput, &gy = a.gradOutput, &idx = a.indices;
  checkPoolPair(args, gx, "gradInput", gy, "gradOutput");
  if (idx.shape != gy.shape || idx.dtype != DType::int32 || !idx.contiguous())
    args.fail("indices must be a contiguous int32 tensor shaped like gradOutput " + gy.shapeString());
  a.geom = {gx.shape[0] * gx.shape[1], gx.shape[2], gx.shape[3], gy.shape[2], gy.shape[3], 1, 1, 1, 1, 0, 0, 1, 1};
  return a;
}

AvgPool2dArgs parseAvgPool2dArgs(Args& args, bool backward) {
  const Pair p = readPair(args, backward);
  AvgPool2dArgs a{p.input, p.output, {}, false, 0};
  a.geom = parseAvgPoolArgs(args, p.input, p.inName, p.output, p.outName, a.countIncludePad, a.divisorOverride);
  return a;
}

AdaptiveAvgPool2dArgs parseAdaptiveAvgPool2dArgs(Args& args, bool backward) {
  const Pair p = readPair(args, backward);
  const TensorArg &in = p.input, &out = p.output;
  const char *inName = p.inName, *outName = p.outName;
  checkPoolPair(args, in, inName, out, outName);
  if (in.shape[2] < 1 || in.shape[3] < 1 || out.shape[2] < 1 || out.shape[3] < 1)
    args.fail("spatial sizes must be positive, got " + std::string(inName) + " " + in.shapeString() + " and " +
              outName + " " + out.shapeString());
  const PoolGeometry g{in.shape[0] * in.shape[1], in.shape[2], in.shape[3], out.shape[2], out.shape[3],
                       0, 0, 0, 0, 0, 0, 0, 0};
  return {in, out, g};
}

}  // namespace iv
