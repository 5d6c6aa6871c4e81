// cat in one pass: every input's contiguous blocks copied into the output with memcpy, the
// copies spread across threads. Seen along dim, a contiguous [outer, size_i, inner] input is
// `outer` blocks of size_i * inner elements, block o landing in output row o after the
// earlier inputs' blocks. The op layer calls it when every input is contiguous in the
// output's dtype (anything else goes through copy). CPU only: its arguments are parsed here.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>
#include "../../binding/args.h"
#include "../../binding/registry.h"
#include "../parallel.h"

namespace iv {
namespace {

// Bytes one thread's share should at least hold, and the longest single memcpy of a task (a
// few large blocks are split so that both threads get work).
constexpr int64_t kGrainBytes = 64 * 1024;
constexpr int64_t kPieceBytes = 256 * 1024;

struct CatArgs {
  TensorArg out;
  int64_t dim = 0;
  std::vector<TensorArg> inputs;
};

// cat(out, dim, x0, x1, ...): out and every input contiguous, of out's dtype, with out's
// shape outside dim, their sizes along dim adding up to out's.
CatArgs parseCatArgs(const Napi::CallbackInfo& info) {
  Args args(info, "cat", Args::kAnyCount);
  if (args.count() < 3) args.fail("expected at least 3 arguments, got " + std::to_string(args.count()));
  CatArgs a;
  a.out = args.tensor(0, "out");
  a.dim = args.integer(1, "dim");
  const int64_t nd = static_cast<int64_t>(a.out.shape.size());
  if (!a.out.contiguous()) args.fail("argument 'out' must be contiguous, got a strided " + a.out.shapeString());
  if (a.dim < 0 || a.dim >= nd)
    args.fail("dim " + std::to_string(a.dim) + " is out of range for out of shape " + a.out.shapeString());
  int64_t along = 0;
  for (size_t i = 2; i < args.count(); i++) {
    const std::string name = "tensors[" + std::to_string(i - 2) + "]";
    TensorArg t = args.tensor(i, name.c_str());
    bool fits = t.shape.size() == a.out.shape.size();
    for (int64_t d = 0; fits && d < nd; d++) fits = d == a.dim || t.shape[d] == a.out.shape[d];
    if (!fits)
      args.fail("argument '" + name + "' has shape " + t.shapeString() + ", which does not match out's " +
                a.out.shapeString() + " outside dim " + std::to_string(a.dim));
    if (t.dtype != a.out.dtype || !t.contiguous())
      args.fail("argument '" + name + "' must be a contiguous " + dtypeName(a.out.dtype) + " tensor, got " +
                (t.contiguous() ? "" : "a strided ") + dtypeName(t.dtype) + " " + t.shapeString());
    along += t.shape[a.dim];
    a.inputs.push_back(std::move(t));
  }
  if (along != a.out.shape[a.dim])
    args.fail("the inputs' sizes along dim " + std::to_string(a.dim) + " add up to " + std::to_string(along) +
              ", out has " + std::to_string(a.out.shape[a.dim]));
  return a;
}

Napi::Value cat(const Napi::CallbackInfo& info) {
  const CatArgs a = parseCatArgs(info);
  const int64_t item = static_cast<int64_t>(dtypeSize(a.out.dtype));
  int64_t outer = 1, inner = item;  // inner in bytes
  for (int64_t d = 0; d < a.dim; d++) outer *= a.out.shape[d];
  for (size_t d = a.dim + 1; d < a.out.shape.size(); d++) inner *= a.out.shape[d];
  const int64_t rowBytes = a.out.shape[a.dim] * inner;
  if (outer == 0 || rowBytes == 0) return info.Env().Undefined();
  // Input i's block bytes, where it starts in an output row, and how many pieces each copy takes.
  const int64_t n = static_cast<int64_t>(a.inputs.size());
  std::vector<int64_t> block(n), at(n);
  int64_t pieces = 1, start = 0;
  for (int64_t i = 0; i < n; i++) {
    block[i] = a.inputs[i].shape[a.dim] * inner;
    at[i] = start;
    start += block[i];
    pieces = std::max(pieces, (block[i] + kPieceBytes - 1) / kPieceBytes);
  }
  const int64_t tasks = outer * n * pieces;
  const int64_t taskBytes = std::max<int64_t>(1, outer * rowBytes / tasks);
  char* out = a.out.ptr<char>();
  parallelFor(tasks, std::max<int64_t>(1, kGrainBytes / taskBytes), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; t++) {
      const int64_t p = t % pieces, i = (t / pieces) % n, o = t / pieces / n;
      const int64_t from = block[i] * p / pieces, to = block[i] * (p + 1) / pieces;
      if (to > from)
        std::memcpy(out + o * rowBytes + at[i] + from, a.inputs[i].ptr<char>() + o * block[i] + from, to - from);
    }
  });
  return info.Env().Undefined();
}

}  // namespace

IV_EXPORT("cat", cat);
IV_BFLOAT16("cat");

}  // namespace iv
