#include "attention_args.h"
#include <cmath>
#include <string>

namespace iv {
namespace {

// q, k and v already read; the rest from argument maskArg on.
void parseProblem(Args& args, AttentionArgs& P, size_t maskArg) {
  const TensorArg &q = P.q, &k = P.k, &v = P.v;
  if (q.shape.size() != 3 || k.shape.size() != 3 || v.shape.size() != 3)
    args.fail("q, k and v must be 3-d [batch, seq, dim], got " + q.shapeString() + ", " + k.shapeString() + ", " +
              v.shapeString());
  if (q.dtype != k.dtype || q.dtype != v.dtype || !isFloat(q.dtype))
    args.fail(std::string("q, k and v must share a float dtype, got ") + dtypeName(q.dtype) + ", " +
              dtypeName(k.dtype) + ", " + dtypeName(v.dtype));
  P.B = q.shape[0];
  P.L = q.shape[1];
  P.E = q.shape[2];
  P.S = k.shape[1];
  P.Ev = v.shape[2];
  if (k.shape[0] != P.B || v.shape[0] != P.B || k.shape[2] != P.E || v.shape[1] != P.S)
    args.fail("shapes do not fit: q " + q.shapeString() + ", k " + k.shapeString() + ", v " + v.shapeString() +
              " (expected k [B, S, E] and v [B, S, Ev] for q [B, L, E])");
  requireContiguous(args, q, "q", q.shape, q.dtype);
  requireContiguous(args, k, "k", k.shape, q.dtype);
  requireContiguous(args, v, "v", v.shape, q.dtype);
  P.causal = args.boolean(maskArg + 1, "isCausal");
  P.scale = args.number(maskArg + 2, "scale");
  if (!std::isfinite(P.scale)) args.fail("scale must be finite");
  P.dropoutP = args.number(maskArg + 3, "dropoutP");
  if (!(P.dropoutP >= 0 && P.dropoutP < 1)) args.fail("dropoutP must be in [0, 1), got " + std::to_string(P.dropoutP));
  const int64_t lo = args.integer(maskArg + 4, "seedLo"), hi = args.integer(maskArg + 5, "seedHi");
  if (lo < 0 || lo > 0xffffffffLL || hi < 0 || hi > 0xffffffffLL)
    args.fail("seedLo and seedHi must be unsigned 32-bit integers");
  P.seed = (static_cast<uint64_t>(hi) << 32) | static_cast<uint64_t>(lo);
  P.hasMask = !args.isNullish(maskArg);
  if (!P.hasMask) return;
  const TensorArg& m = P.mask = args.tensor(maskArg, "mask");
  const size_t nd = m.shape.size();
  if (m.dtype != DType::boolean && m.dtype != q.dtype)
    args.fail(std::string("mask must be bool or ") + dtypeName(q.dtype) + ", got " + dtypeName(m.dtype));
  if (nd < 2 || m.shape[nd - 2] != P.L || m.shape[nd - 1] != P.S)
    args.fail("mask must be a [..., " + std::to_string(P.L) + ", " + std::to_string(P.S) + "] view, got " +
              m.shapeString());
  int64_t batch = 1;
  for (size_t d = 0; d + 2 < nd; d++) batch *= m.shape[d];
  if (batch != P.B)
    args.fail("mask " + m.shapeString() + " has " + std::to_string(batch) + " batch entries, q has " +
              std::to_string(P.B));
  if (P.causal) args.fail("give either a mask or isCausal, not both");
}

}  // namespace

AttentionForwardArgs parseAttentionForwardArgs(Args& args) {
  AttentionForwardArgs a;
  a.out = args.tensor(0, "out"), a.lse = args.tensor(1, "lse");
  a.q = args.tensor(2, "q"), a.k = args.tensor(3, "k"), a.v = args.tensor(4, "v");
  parseProblem(args, a, 5);
  requireContiguous(args, a.out, "out", {a.B, a.L, a.Ev}, a.q.dtype);
  requireContiguous(args, a.lse, "lse", {a.B, a.L}, a.q.dtype);
  return a;
}

AttentionBackwardArgs parseAttentionBackwardArgs(Args& args) {
  AttentionBackwardArgs a;
  a.gradQ = args.tensor(0, "gradQ"), a.gradK = args.tensor(1, "gradK"), a.gradV = args.tensor(2, "gradV");
  a.gradOut = args.tensor(4, "gradOut");
  a.q = args.tensor(5, "q"), a.k = args.tensor(6, "k"), a.v = args.tensor(7, "v");
  a.out = args.tensor(8, "out"), a.lse = args.tensor(9, "lse");
  parseProblem(args, a, 10);
  const DType dt = a.q.dtype;
  requireContiguous(args, a.gradQ, "gradQ", a.q.shape, dt);
  requireContiguous(args, a.gradK, "gradK", a.k.shape, dt);
  requireContiguous(args, a.gradV, "gradV", a.v.shape, dt);
  requireContiguous(args, a.gradOut, "gradOut", {a.B, a.L, a.Ev}, dt);
  requireContiguous(args, a.out, "out", {a.B, a.L, a.Ev}, dt);
  requireContiguous(args, a.lse, "lse", {a.B, a.L}, dt);
  a.wantMaskGrad = !args.isNullish(3);
  if (a.wantMaskGrad) {
    a.gradMask = args.tensor(3, "gradMask");
    requireContiguous(args, a.gradMask, "gradMask", {a.B, a.L, a.S}, dt);
    if (!a.hasMask || a.mask.dtype == DType::boolean) args.fail("gradMask needs an additive float mask");
  }
  return a;
}

}  // namespace iv
