#include "optim_args.h"
#include <cmath>
#include <string>

namespace iv {
namespace {

std::string quoted(const char* name) { return std::string("argument '") + name + "'"; }

std::string stridesString(const TensorArg& t) { return shapeString(t.strides); }

// The tensor every other one is checked against.
TensorArg floatTensor(const Args& args, size_t i, const char* name) {
  TensorArg t = args.tensor(i, name);
  if (!isFloat(t.dtype)) args.fail(quoted(name) + " must be float32 or float64, got " + dtypeName(t.dtype));
  if (!t.contiguous())
    args.fail(quoted(name) + " must be contiguous, got shape " + t.shapeString() + " with strides " +
              stridesString(t));
  return t;
}

TensorArg matching(const Args& args, size_t i, const char* name, const TensorArg& ref, const char* refName) {
  TensorArg t = args.tensor(i, name);
  if (t.shape != ref.shape)
    args.fail(quoted(name) + " has shape " + t.shapeString() + " but '" + refName + "' has shape " + ref.shapeString());
  if (t.dtype != ref.dtype)
    args.fail(quoted(name) + " is " + dtypeName(t.dtype) + " but '" + refName + "' is " + dtypeName(ref.dtype));
  if (!t.contiguous())
    args.fail(quoted(name) + " must be contiguous, got shape " + t.shapeString() + " with strides " +
              stridesString(t));
  return t;
}

double finite(const Args& args, size_t i, const char* name) {
  double v = args.number(i, name);
  if (!std::isfinite(v)) args.fail(quoted(name) + " must be finite, got " + std::to_string(v));
  return v;
}

double nonNegative(const Args& args, size_t i, const char* name) {
  double v = finite(args, i, name);
  if (v < 0) args.fail(quoted(name) + " must be >= 0, got " + std::to_string(v));
  return v;
}

double unitInterval(const Args& args, size_t i, const char* name) {  // [0, 1)
  double v = finite(args, i, name);
  if (v < 0 || v >= 1) args.fail(quoted(name) + " must be in [0, 1), got " + std::to_string(v));
  return v;
}

// Arguments 0-7, common to SGD and LARS.
void parseMomentum(Args& args, SgdArgs& a) {
  a.param = floatTensor(args, 0, "param");
  a.grad = matching(args, 1, "grad", a.param, "param");
  a.hasBuffer = !args.isNullish(2);
  if (a.hasBuffer) a.momentumBuffer = matching(args, 2, "momentumBuffer", a.param, "param");
  a.lr = nonNegative(args, 3, "lr");
  a.momentum = nonNegative(args, 4, "momentum");
  a.dampening = finite(args, 5, "dampening");
  a.weightDecay = nonNegative(args, 6, "weightDecay");
  a.nesterov = args.boolean(7, "nesterov");
}

void checkMomentum(Args& args, const SgdArgs& a) {
  if (a.hasBuffer != (a.momentum != 0))
    args.fail(a.hasBuffer ? "argument 'momentumBuffer' must be null when momentum is 0"
                          : "argument 'momentumBuffer' is required when momentum is non-zero");
  if (a.nesterov && (a.momentum <= 0 || a.dampening != 0))
    args.fail("nesterov momentum needs momentum > 0 and dampening 0");
}

}  // namespace

SgdArgs parseSgdArgs(Args& args) {
  SgdArgs a;
  parseMomentum(args, a);
  a.maximize = args.boolean(8, "maximize");
  a.firstStep = args.boolean(9, "firstStep");
  checkMomentum(args, a);
  return a;
}

LarsArgs parseLarsArgs(Args& args) {
  LarsArgs a;
  parseMomentum(args, a);
  a.trustCoefficient = nonNegative(args, 8, "trustCoefficient");
  a.eps = nonNegative(args, 9, "eps");
  a.trustClip = args.boolean(10, "trustClip");
  a.adapt = args.boolean(11, "adapt");
  a.firstStep = args.boolean(12, "firstStep");
  checkMomentum(args, a);
  if (a.trustClip && a.adapt && a.lr <= 0) args.fail("trustClip divides the trust ratio by lr, which must be > 0");
  return a;
}

AdamArgs parseAdamArgs(Args& args) {
  AdamArgs a;
  a.param = floatTensor(args, 0, "param");
  a.grad = matching(args, 1, "grad", a.param, "param");
  a.expAvg = matching(args, 2, "expAvg", a.param, "param");
  a.expAvgSq = matching(args, 3, "expAvgSq", a.param, "param");
  a.amsgrad = !args.isNullish(4);
  if (a.amsgrad) a.maxExpAvgSq = matching(args, 4, "maxExpAvgSq", a.param, "param");
  a.lr = nonNegative(args, 5, "lr");
  a.beta1 = unitInterval(args, 6, "beta1");
  a.beta2 = unitInterval(args, 7, "beta2");
  a.eps = nonNegative(args, 8, "eps");
  a.weightDecay = nonNegative(args, 9, "weightDecay");
  a.step = args.integer(10, "step");
  a.maximize = args.boolean(11, "maximize");
  if (a.step < 1)
    args.fail("argument 'step' must be >= 1 (the step count after this update), got " + std::to_string(a.step));
  return a;
}

EmaArgs parseEmaArgs(Args& args) {
  EmaArgs a;
  a.ema = floatTensor(args, 0, "ema");
  a.src = matching(args, 1, "src", a.ema, "ema");
  a.decay = finite(args, 2, "decay");
  if (a.decay < 0 || a.decay > 1) args.fail("argument 'decay' must be in [0, 1], got " + std::to_string(a.decay));
  return a;
}

NormPowArgs parseNormPowArgs(Args& args) {
  NormPowArgs a;
  a.x = floatTensor(args, 0, "x");
  a.p = args.number(1, "p");
  if (!(a.p > 0)) args.fail("argument 'p' must be > 0 or Infinity, got " + std::to_string(a.p));
  return a;
}

ScaleArgs parseScaleArgs(Args& args) {
  ScaleArgs a;
  a.x = floatTensor(args, 0, "x");
  a.c = finite(args, 1, "c");
  return a;
}

}  // namespace iv
