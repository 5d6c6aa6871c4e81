// Index ops: indexSelect and its adjoint indexAdd (which embedding uses, skipping a padding
// row), gather and its adjoint scatterAdd. Indices are int32 and every one is checked
// against its dimension before anything is written, so a bad index is a JS error, never a
// stray write. Parallel splits keep each output element owned by one thread, so the adds
// need no atomics.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>
#include "../../binding/args.h"
#include "../../binding/registry.h"
#include "../parallel.h"

namespace iv {
namespace {

std::string outOfRange(int64_t idx, int64_t dim, int64_t size) {
  return "index " + std::to_string(idx) + " is out of range for dim " + std::to_string(dim) + " of size " +
         std::to_string(size);
}

void requireContiguous3(Args& args, const TensorArg& t, const char* name) {
  if (t.shape.size() != 3 || !t.contiguous())
    args.fail(std::string("argument '") + name + "' must be a contiguous [outer, dim, inner] view, got " +
              t.shapeString() + (t.contiguous() ? "" : " (strided)"));
}

std::vector<int32_t> readIndex1d(Args& args, const TensorArg& index, int64_t size, int64_t dim) {
  if (index.dtype != DType::int32 || index.shape.size() != 1)
    args.fail(std::string("argument 'index' must be a 1-d int32 tensor, got ") + dtypeName(index.dtype) + " " +
              index.shapeString());
  std::vector<int32_t> idx(index.shape[0]);
  for (int64_t k = 0; k < index.shape[0]; k++) {
    idx[k] = index.ptr<int32_t>()[k * index.strides[0]];
    if (idx[k] < 0 || idx[k] >= size) args.fail(outOfRange(idx[k], dim, size));
  }
  return idx;
}

// out[o, k, :] = x[o, index[k], :], any dtype (rows move as bytes).
Napi::Value indexSelect(const Napi::CallbackInfo& info) {
  Args args(info, "indexSelect", 4);
  TensorArg out = args.tensor(0, "out"), x = args.tensor(1, "x"), index = args.tensor(2, "index");
  const int64_t dim = args.integer(3, "dim");
  requireContiguous3(args, x, "x");
  requireContiguous3(args, out, "out");
  const int64_t outer = x.shape[0], D = x.shape[1], inner = x.shape[2];
  std::vector<int32_t> idx = readIndex1d(args, index, D, dim);
  const int64_t K = static_cast<int64_t>(idx.size());
  if (out.shape != std::vector<int64_t>{outer, K, inner} || out.dtype != x.dtype)
    args.fail("output must be " + std::string(dtypeName(x.dtype)) + " [" + std::to_string(outer) + ", " +
              std::to_string(K) + ", " + std::to_string(inner) + "], got " + dtypeName(out.dtype) + " " +
              out.shapeString());
  const size_t row = static_cast<size_t>(inner) * dtypeSize(x.dtype);
  const char* px = static_cast<const char*>(x.data);
  char* po = static_cast<char*>(out.data);
  parallelFor(outer * K, std::max<int64_t>(1, 16384 / std::max<int64_t>(inner, 1)), [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; q++) {
      const int64_t o = q / K, k = q % K;
      std::memcpy(po + q * row, px + (o * D + idx[k]) * row, row);
    }
  });
  return info.Env().Undefined();
}

template <class T>
void indexAddImpl(const TensorArg& gx, const TensorArg& g, const std::vector<int32_t>& idx, int64_t skip,
                  bool accumulate) {
  const int64_t outer = gx.shape[0], D = gx.shape[1], inner = gx.shape[2], K = static_cast<int64_t>(idx.size());
  // Threads own disjoint (outer, inner-block) slabs of gx, so repeated indices are safe. Where
  // there are too few slabs to keep every thread busy (an embedding's gradient is one), each
  // slab splits further into ranges of gx's rows, each adding the sources whose index lands
  // in its range (listed once per call, in order, so every row sums in the order of k as in
  // one pass). Overwriting, a part zeroes its rows first, in ranges small enough to stay in
  // L2 until the adds reach them, so gx goes to memory once.
  const int64_t block = 512, blocks = (inner + block - 1) / block, slabs = outer * blocks;
  if (slabs == 0) return;  // gx is empty
  const int64_t rowBytes = std::min(block, inner) * static_cast<int64_t>(sizeof(T)), l2Part = int64_t(256) << 10;
  int64_t parts = std::max<int64_t>(1, std::min(D, 4 * numThreads() / slabs));
  if (!accumulate) parts = std::max(parts, std::min(D, (D * rowBytes + l2Part - 1) / l2Part));
  // Sources by part: those of part p are order[first[p], first[p + 1]).
  std::vector<int64_t> first(parts + 1, 0), order(K);
  std::vector<int32_t> partOf(D);
  for (int64_t p = 0; p < parts; p++)
    for (int64_t r = p * D / parts; r < (p + 1) * D / parts; r++) partOf[r] = static_cast<int32_t>(p);
  for (int64_t k = 0; k < K; k++)
    if (idx[k] != skip) first[partOf[idx[k]] + 1]++;
  for (int64_t p = 0; p < parts; p++) first[p + 1] += first[p];
  std::vector<int64_t> next(first.begin(), first.end() - 1);
  for (int64_t k = 0; k < K; k++)
    if (idx[k] != skip) order[next[partOf[idx[k]]]++] = k;
  T* pd = gx.ptr<T>();
  const T* ps = g.ptr<T>();
  parallelFor(slabs * parts, 1, [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; q++) {
      const int64_t slab = q / parts, part = q % parts;
      const int64_t o = slab / blocks, i0 = (slab % blocks) * block, n = std::min(block, inner - i0);
      if (!accumulate)
        for (int64_t r = part * D / parts; r < (part + 1) * D / parts; r++)
          std::memset(pd + (o * D + r) * inner + i0, 0, n * sizeof(T));
      for (int64_t j = first[part]; j < first[part + 1]; j++) {
        const int64_t k = order[j];
        T* d = pd + (o * D + idx[k]) * inner + i0;
        const T* s = ps + (o * K + k) * inner + i0;
        for (int64_t i = 0; i < n; i++) d[i] += s[i];
      }
    }
  });
}

// indexAdd(out, index, src, dim, skipIndex, accumulate): out[o, index[k], :] += src[o, k, :],
// except rows whose index equals skipIndex; without accumulate, out is first set to zero.
Napi::Value indexAdd(const Napi::CallbackInfo& info) {
  Args args(info, "indexAdd", 6);
  TensorArg gx = args.tensor(0, "out"), index = args.tensor(1, "index"), g = args.tensor(2, "src");
  const int64_t dim = args.integer(3, "dim"), skip = args.integer(4, "skipIndex");
  const bool accumulate = args.boolean(5, "accumulate");
  requireContiguous3(args, gx, "out");
  requireContiguous3(args, g, "src");
  const int64_t outer = gx.shape[0], D = gx.shape[1], inner = gx.shape[2];
  std::vector<int32_t> idx = readIndex1d(args, index, D, dim);
  const int64_t K = static_cast<int64_t>(idx.size());
  if (g.shape != std::vector<int64_t>{outer, K, inner} || g.dtype != gx.dtype)
    args.fail("src must be " + std::string(dtypeName(gx.dtype)) + " [" + std::to_string(outer) + ", " +
              std::to_string(K) + ", " + std::to_string(inner) + "], got " + dtypeName(g.dtype) + " " +
              g.shapeString());
  switch (gx.dtype) {
    case DType::float32: indexAddImpl<float>(gx, g, idx, skip, accumulate); break;
    case DType::float64: indexAddImpl<double>(gx, g, idx, skip, accumulate); break;
    case DType::int32: indexAddImpl<int32_t>(gx, g, idx, skip, accumulate); break;
    default: args.fail(std::string("cannot add ") + dtypeName(gx.dtype) + " tensors");
  }
  return info.Env().Undefined();
}

// Both gather and scatterAdd walk the index tensor line by line: a line is every element
// with the same coordinates outside `dim`, so lines touch disjoint parts of the scattered-to
// tensor and split among threads without races.
struct Lines {
  std::vector<int64_t> shape;                      // index's shape without dim
  std::vector<int64_t> idxStrides, aStrides, bStrides;  // per kept dim: index, then two operands
  int64_t count = 1, length = 0;                   // lines, and elements per line (index.shape[dim])
  int64_t idxStep = 0, aStep = 0, bStep = 0;       // strides along dim
};

Lines makeLines(const TensorArg& index, const TensorArg& a, const TensorArg& b, int64_t dim) {
  Lines L;
  for (size_t d = 0; d < index.shape.size(); d++) {
    if (static_cast<int64_t>(d) == dim) continue;
    L.shape.push_back(index.shape[d]);
    L.idxStrides.push_back(index.strides[d]);
    L.aStrides.push_back(a.strides[d]);
    L.bStrides.push_back(b.strides[d]);
    L.count *= index.shape[d];
  }
  L.length = index.shape[dim];
  L.idxStep = index.strides[dim];
  L.aStep = a.strides[dim];
  L.bStep = b.strides[dim];
  return L;
}

// Offsets of line l's first element in index, a and b (b's dim coordinate is data-dependent
// for the scattered-to operand, which then uses only the kept-dim part).
inline void lineOffsets(const Lines& L, int64_t l, int64_t& io, int64_t& ao, int64_t& bo) {
  io = ao = bo = 0;
  for (size_t d = L.shape.size(); d-- > 0;) {
    const int64_t c = l % L.shape[d];
    l /= L.shape[d];
    io += c * L.idxStrides[d];
    ao += c * L.aStrides[d];
    bo += c * L.bStrides[d];
  }
}

void checkIndexN(Args& args, const TensorArg& index, const TensorArg& target, const char* targetName,
                 const TensorArg& other, const char* otherName, int64_t dim) {
  if (index.dtype != DType::int32)
    args.fail(std::string("argument 'index' must be int32, got ") + dtypeName(index.dtype));
  const size_t nd = target.shape.size();
  if (index.shape.size() != nd || other.shape.size() != nd)
    args.fail(std::string("index ") + index.shapeString() + ", " + targetName + " " + target.shapeString() + " and " +
              otherName + " " + other.shapeString() + " must have the same number of dims");
  if (dim < 0 || dim >= static_cast<int64_t>(nd))
    args.fail("dim " + std::to_string(dim) + " is out of range for " + std::to_string(nd) + " dims (0-d tensors go as 1-d)");
  for (size_t d = 0; d < nd; d++) {
    if (index.shape[d] > other.shape[d] || (static_cast<int64_t>(d) != dim && index.shape[d] > target.shape[d]))
      args.fail(std::string("index ") + index.shapeString() + " is larger than " + otherName + " " +
                other.shapeString() + " or than " + targetName + " " + target.shapeString() + " outside dim " +
                std::to_string(dim));
  }
}

// Validates every index along dim against `size` before any write.
void checkIndexValues(Args& args, const TensorArg& index, const Lines& L, int64_t dim, int64_t size) {
  const int32_t* pi = index.ptr<int32_t>();
  for (int64_t l = 0; l < L.count; l++) {
    int64_t io, ao, bo;
    lineOffsets(L, l, io, ao, bo);
    for (int64_t j = 0; j < L.length; j++) {
      const int32_t v = pi[io + j * L.idxStep];
      if (v < 0 || v >= size) args.fail(outOfRange(v, dim, size));
    }
  }
}

template <class T>
void gatherImpl(const TensorArg& out, const TensorArg& x, const TensorArg& index, const Lines& L) {
  const int32_t* pi = index.ptr<int32_t>();
  const T* px = x.ptr<T>();
  T* po = out.ptr<T>();
  parallelFor(L.count, std::max<int64_t>(1, 4096 / std::max<int64_t>(L.length, 1)), [&](int64_t l0, int64_t l1) {
    for (int64_t l = l0; l < l1; l++) {
      int64_t io, oo, xo;
      lineOffsets(L, l, io, oo, xo);
      for (int64_t j = 0; j < L.length; j++) po[oo + j * L.aStep] = px[xo + pi[io + j * L.idxStep] * L.bStep];
    }
  });
}

// out[i][j][k] = x[i][index[i][j][k]][k] (dim 1), out shaped like index.
Napi::Value gather(const Napi::CallbackInfo& info) {
  Args args(info, "gather", 4);
  TensorArg out = args.tensor(0, "out"), x = args.tensor(1, "x"), index = args.tensor(2, "index");
  const int64_t dim = args.integer(3, "dim");
  checkIndexN(args, index, x, "x", index, "index", dim);
  if (out.shape != index.shape || out.dtype != x.dtype)
    args.fail("output must be " + std::string(dtypeName(x.dtype)) + " " + index.shapeString() + ", got " +
              dtypeName(out.dtype) + " " + out.shapeString());
  if (index.numel() == 0) return info.Env().Undefined();
  Lines L = makeLines(index, out, x, dim);
  checkIndexValues(args, index, L, dim, x.shape[dim]);
  switch (dtypeSize(x.dtype)) {
    case 8: gatherImpl<uint64_t>(out, x, index, L); break;
    case 4: gatherImpl<uint32_t>(out, x, index, L); break;
    default: gatherImpl<uint8_t>(out, x, index, L);
  }
  return info.Env().Undefined();
}

template <class T>
void scatterAddImpl(const TensorArg& out, const TensorArg& index, const TensorArg& src, const Lines& L) {
  const int32_t* pi = index.ptr<int32_t>();
  const T* ps = src.ptr<T>();
  T* po = out.ptr<T>();
  parallelFor(L.count, std::max<int64_t>(1, 4096 / std::max<int64_t>(L.length, 1)), [&](int64_t l0, int64_t l1) {
    for (int64_t l = l0; l < l1; l++) {
      int64_t io, so, oo;
      lineOffsets(L, l, io, so, oo);
      for (int64_t j = 0; j < L.length; j++) po[oo + pi[io + j * L.idxStep] * L.bStep] += ps[so + j * L.aStep];
    }
  });
}

// out[i][index[i][j][k]][k] += src[i][j][k] (dim 1); out holds x already.
Napi::Value scatterAdd(const Napi::CallbackInfo& info) {
  Args args(info, "scatterAdd", 4);
  TensorArg out = args.tensor(0, "out"), index = args.tensor(1, "index"), src = args.tensor(2, "src");
  const int64_t dim = args.integer(3, "dim");
  checkIndexN(args, index, out, "out", src, "src", dim);
  if (src.dtype != out.dtype)
    args.fail(std::string("src is ") + dtypeName(src.dtype) + " but out is " + dtypeName(out.dtype));
  if (index.numel() == 0) return info.Env().Undefined();
  Lines L = makeLines(index, src, out, dim);
  checkIndexValues(args, index, L, dim, out.shape[dim]);
  switch (out.dtype) {
    case DType::float32: scatterAddImpl<float>(out, index, src, L); break;
    case DType::float64: scatterAddImpl<double>(out, index, src, L); break;
    case DType::int32: scatterAddImpl<int32_t>(out, index, src, L); break;
    default: args.fail(std::string("cannot add ") + dtypeName(out.dtype) + " tensors");
  }
  return info.Env().Undefined();
}

}  // namespace

IV_EXPORT("indexSelect", indexSelect);
IV_EXPORT("indexAdd", indexAdd);
IV_EXPORT("gather", gather);
IV_EXPORT("scatterAdd", scatterAdd);

}  // namespace iv
