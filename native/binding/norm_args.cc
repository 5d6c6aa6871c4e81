#include "norm_args.h"
#include <string>
#include <vector>

namespace iv {
namespace {

// x: [N, C, S] (rank 3) or [M, K] (rank 2).
TensorArg readX(Args& args, size_t i, size_t rank) {
  TensorArg x = args.tensor(i, "x");
  if (x.shape.size() != rank || !x.contiguous() || !isFloat(x.dtype))
    args.fail(std::string("argument 'x' must be a contiguous float ") + (rank == 3 ? "[N, C, S]" : "[M, K]") +
              " tensor, got " + dtypeName(x.dtype) + " " + x.shapeString());
  return x;
}

int64_t readGroups(Args& args, size_t i, const TensorArg& x) {
  const int64_t C = x.shape[1], G = args.integer(i, "numGroups");
  if (G <= 0 || C % G != 0)
    args.fail("numGroups " + std::to_string(G) + " must be positive and divide the " + std::to_string(C) +
              " channels of x " + x.shapeString());
  return G;
}

double readEps(Args& args, size_t i) {
  const double eps = args.number(i, "eps");
  if (!(eps >= 0)) args.fail("eps must be non-negative, got " + std::to_string(eps));
  return eps;
}

// out, then weight and bias of n elements from argument wArg on.
void readAffine(Args& args, NormForwardArgs& a, size_t wArg, int64_t n) {
  requireContiguous(args, a.out, "out", a.x.shape, a.x.dtype);
  a.weight = optionalVector(args, wArg, "weight", n, a.x.dtype, a.hasWeight);
  a.bias = optionalVector(args, wArg + 1, "bias", n, a.x.dtype, a.hasBias);
}

// saveMean and the saved inverse deviation at arguments i, i + 1, both of `shape`.
void readStats(Args& args, TensorArg& mean, TensorArg& stat, size_t i, const char* statName,
               const std::vector<int64_t>& shape, DType dtype) {
  mean = args.tensor(i, "saveMean"), stat = args.tensor(i + 1, statName);
  requireContiguous(args, mean, "saveMean", shape, dtype);
  requireContiguous(args, stat, statName, shape, dtype);
}

// grad, the wanted gradients (arguments 0-2), the weight of n elements at wArg and the
// stats after it; x is already read.
void readBackward(Args& args, NormBackwardArgs& a, int64_t n, size_t wArg, const char* statName,
                  const std::vector<int64_t>& statShape) {
  const TensorArg& x = a.x;
  requireContiguous(args, a.grad, "grad", x.shape, x.dtype);
  bool present;
  if (a.wantX) requireContiguous(args, a.gradX = args.tensor(0, "gradX"), "gradX", x.shape, x.dtype);
  if (a.wantWeight) a.gradWeight = optionalVector(args, 1, "gradWeight", n, x.dtype, present);
  if (a.wantBias) a.gradBias = optionalVector(args, 2, "gradBias", n, x.dtype, present);
  a.weight = optionalVector(args, wArg, "weight", n, x.dtype, a.hasWeight);
  readStats(args, a.saveMean, a.saveStat, wArg + 1, statName, statShape, x.dtype);
}

NormBackwardArgs backwardHead(Args& args, size_t rank) {
  NormBackwardArgs a;
  a.wantX = !args.isNullish(0), a.wantWeight = !args.isNullish(1), a.wantBias = !args.isNullish(2);
  a.grad = args.tensor(3, "grad");
  a.x = readX(args, 4, rank);
  return a;
}

void requireNonEmptyRows(Args& args, const TensorArg& x, int64_t rowLength) {
  if (rowLength == 0) args.fail("cannot normalise over zero elements (x " + x.shapeString() + ")");
}

}  // namespace

NormForwardArgs parseBatchNormForwardArgs(Args& args) {
  NormForwardArgs a;
  a.out = args.tensor(0, "out");
  a.x = readX(args, 1, 3);
  const int64_t C = a.x.shape[1];
  readAffine(args, a, 2, C);
  bool hasRv;
  a.runningMean = optionalVector(args, 4, "runningMean", C, a.x.dtype, a.hasRunning);
  a.runningVar = optionalVector(args, 5, "runningVar", C, a.x.dtype, hasRv);
  readStats(args, a.saveMean, a.saveStat, 6, "saveInvstd", {C}, a.x.dtype);
  a.training = args.boolean(8, "training");
  a.momentum = args.number(9, "momentum");
  const double eps = args.number(10, "eps");
  if (a.hasRunning != hasRv) args.fail("runningMean and runningVar must both be given or both be null");
  if (!a.training && !a.hasRunning) args.fail("evaluation mode needs runningMean and runningVar");
  if (!(eps >= 0)) args.fail("eps must be non-negative, got " + std::to_string(eps));
  a.eps = eps;
  if (a.training && a.x.shape[0] * a.x.shape[2] <= 1)
    args.fail("training needs more than one value per channel, got input " + a.x.shapeString());
  a.act = args.activation(11);
  return a;
}

NormBackwardArgs parseBatchNormBackwardArgs(Args& args) {
  NormBackwardArgs a = backwardHead(args, 3);
  const int64_t C = a.x.shape[1];
  readBackward(args, a, C, 5, "saveInvstd", {C});
  a.training = args.boolean(8, "training");
  a.bias = optionalVector(args, 9, "bias", C, a.x.dtype, a.hasBias);
  a.act = args.activation(10);
  return a;
}

NormForwardArgs parseLayerNormForwardArgs(Args& args) {
  NormForwardArgs a;
  a.out = args.tensor(0, "out");
  a.x = readX(args, 1, 2);
  const int64_t M = a.x.shape[0], K = a.x.shape[1];
  readAffine(args, a, 2, K);
  readStats(args, a.saveMean, a.saveStat, 4, "saveRstd", {M}, a.x.dtype);
  a.eps = readEps(args, 6);
  requireNonEmptyRows(args, a.x, K);
  return a;
}

NormBackwardArgs parseLayerNormBackwardArgs(Args& args) {
  NormBackwardArgs a = backwardHead(args, 2);
  const int64_t M = a.x.shape[0], K = a.x.shape[1];
  readBackward(args, a, K, 5, "saveRstd", {M});
  requireNonEmptyRows(args, a.x, K);
  return a;
}

NormForwardArgs parseGroupNormForwardArgs(Args& args) {
  NormForwardArgs a;
  a.out = args.tensor(0, "out");
  a.x = readX(args, 1, 3);
  const int64_t N = a.x.shape[0], C = a.x.shape[1];
  a.groups = readGroups(args, 2, a.x);
  readAffine(args, a, 3, C);
  readStats(args, a.saveMean, a.saveStat, 5, "saveRstd", {N, a.groups}, a.x.dtype);
  a.eps = readEps(args, 7);
  if (N > 0) requireNonEmptyRows(args, a.x, a.x.shape[2]);
  return a;
}

NormBackwardArgs parseGroupNormBackwardArgs(Args& args) {
  NormBackwardArgs a = backwardHead(args, 3);
  const int64_t N = a.x.shape[0], C = a.x.shape[1];
  a.groups = readGroups(args, 5, a.x);
  readBackward(args, a, C, 6, "saveRstd", {N, a.groups});
  return a;
}

}  // namespace iv
