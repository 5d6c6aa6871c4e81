#include "loss_args.h"
#include <string>
#include <vector>

namespace iv {
namespace {

// logits and target already read.
void parseProblem(Args& args, CrossEntropyArgs& P, size_t weightArg, size_t ignoreArg, size_t smoothingArg) {
  const TensorArg &x = P.logits, &target = P.target;
  if (x.shape.size() != 3 || !x.contiguous() || !isFloat(x.dtype))
    args.fail("argument 'logits' must be a contiguous float [N, C, S] tensor, got " +
              std::string(dtypeName(x.dtype)) + " " + x.shapeString());
  P.N = x.shape[0];
  P.C = x.shape[1];
  P.S = x.shape[2];
  if (P.C == 0) args.fail("logits " + x.shapeString() + " have no classes");
  P.probs = target.dtype != DType::int32;
  if (P.probs) {
    if (target.shape != x.shape || target.dtype != x.dtype || !target.contiguous())
      args.fail("probability targets must be a contiguous " + std::string(dtypeName(x.dtype)) + " tensor of shape " +
                x.shapeString() + ", got " + dtypeName(target.dtype) + " " + target.shapeString());
  } else if (target.shape != std::vector<int64_t>{P.N, P.S} || !target.contiguous()) {
    args.fail("class-index targets must be a contiguous int32 [" + std::to_string(P.N) + ", " + std::to_string(P.S) +
              "] tensor, got " + target.shapeString());
  }
  if (!args.isNullish(weightArg)) {
    P.weight = args.tensor(weightArg, "weight");
    if (P.weight.shape != std::vector<int64_t>{P.C} || P.weight.dtype != x.dtype)
      args.fail("weight must be " + std::string(dtypeName(x.dtype)) + " [" + std::to_string(P.C) + "], got " +
                dtypeName(P.weight.dtype) + " " + P.weight.shapeString());
  }
  P.ignoreIndex = args.integer(ignoreArg, "ignoreIndex");
  P.labelSmoothing = args.number(smoothingArg, "labelSmoothing");
  if (!(P.labelSmoothing >= 0 && P.labelSmoothing <= 1))
    args.fail("labelSmoothing must be in [0, 1], got " + std::to_string(P.labelSmoothing));
}

// A contiguous [N, S] tensor in the logits' dtype (loss, lse).
void requirePositions(Args& args, const CrossEntropyArgs& P, const TensorArg& t, const char* name) {
  if (t.shape != std::vector<int64_t>{P.N, P.S} || t.dtype != P.logits.dtype || !t.contiguous())
    args.fail(std::string("argument '") + name + "' must be a contiguous " + dtypeName(P.logits.dtype) + " [" +
              std::to_string(P.N) + ", " + std::to_string(P.S) + "] tensor, got " + dtypeName(t.dtype) + " " +
              t.shapeString());
}

}  // namespace

CrossEntropyForwardArgs parseCrossEntropyForwardArgs(Args& args) {
  CrossEntropyForwardArgs a;
  a.loss = args.tensor(0, "loss"), a.lse = args.tensor(1, "lse");
  a.logits = args.tensor(2, "logits"), a.target = args.tensor(3, "target");
  parseProblem(args, a, 4, 5, 6);
  requirePositions(args, a, a.loss, "loss");
  requirePositions(args, a, a.lse, "lse");
  return a;
}

CrossEntropyBackwardArgs parseCrossEntropyBackwardArgs(Args& args) {
  CrossEntropyBackwardArgs a;
  a.gradLogits = args.tensor(0, "gradLogits"), a.logits = args.tensor(1, "logits"), a.target = args.tensor(2, "target");
  parseProblem(args, a, 3, 7, 8);
  a.lse = args.tensor(4, "lse"), a.gradLoss = args.tensor(5, "gradLoss");
  a.scale = args.number(6, "scale");
  requirePositions(args, a, a.lse, "lse");
  const TensorArg &x = a.logits, &gl = a.gradLoss, &gx = a.gradLogits;
  if (gl.shape != std::vector<int64_t>{a.N, a.S} || gl.dtype != x.dtype)
    args.fail("gradLoss must be a " + std::string(dtypeName(x.dtype)) + " [" + std::to_string(a.N) + ", " +
              std::to_string(a.S) + "] view, got " + dtypeName(gl.dtype) + " " + gl.shapeString());
  if (gx.shape != x.shape || gx.dtype != x.dtype || !gx.contiguous())
    args.fail("gradLogits must be a contiguous tensor like logits " + x.shapeString() + ", got " + gx.shapeString());
  return a;
}

}  // namespace iv
