// Argument checking for native entry points. Every accessor throws a JS Error that names
// the op and the argument, so a bad call from JavaScript never reaches a kernel.
#pragma once
#include <napi.h>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include "../cpu/ops/activation.h"
#include "dims.h"

namespace iv {

enum class DType : int32_t { float32 = 0, float64 = 1, int32 = 2, uint8 = 3, boolean = 4, bfloat16 = 5 };

size_t dtypeSize(DType d);

// Storage buffers carry this much slack so their data can start on a 64-byte boundary.
constexpr size_t kStorageAlignment = 64;
inline size_t alignmentPad(const void* p) {
  return (kStorageAlignment - reinterpret_cast<uintptr_t>(p) % kStorageAlignment) % kStorageAlignment;
}
const char* dtypeName(DType d);

// A view of a tensor as the kernels see it: base pointer already offset, shape, strides in
// elements. Built from the JS tuple [buffer, offset, shape, strides, dtype].
struct TensorArg {
  void* data = nullptr;
  DType dtype = DType::float32;
  Dims shape;
  Dims strides;
  int64_t numel() const;
  bool contiguous() const;
  std::string shapeString() const;
  template <class T> T* ptr() const { return static_cast<T*>(data); }
};

class Args;
// Reads argument i as a tensor descriptor of one addon's storage: host ArrayBuffers
// (hostTensor) in the CPU addon, device handles in the CUDA one, so that an argument
// parser written once serves both.
using TensorReader = TensorArg (*)(const Args& args, size_t i, const char* name);
TensorArg hostTensor(const Args& args, size_t i, const char* name);

// The arguments of one native call. A tensor comes either as one descriptor value or, from the
// CPU backend, flat as two arguments: its storage ArrayBuffer and its packed layout (a
// Float64Array [offset, dtype, ndim, shape..., strides...]). Flat pairs are folded into one
// argument index here, so parsers count arguments as JavaScript sees them in the op; the flat
// form saves reading two elements out of an array per tensor (napi_get_element), which
// bench/transfer.ts's parts table shows against the classic descriptor.
class Args {
 public:
  // count: the arguments after folding, or kAnyCount for a parser that checks its own.
  static constexpr size_t kAnyCount = SIZE_MAX;
  Args(const Napi::CallbackInfo& info, const char* op, size_t count, TensorReader reader = hostTensor);
  Napi::Env env() const { return info_.Env(); }
  Args(const Args&) = delete;
  Args& operator=(const Args&) = delete;
  Napi::Value at(size_t i) const { return Napi::Value(info_.Env(), values_[i]); }
  size_t count() const { return count_; }
  // A tensor that came flat, its storage and packed layout read while folding (two N-API
  // calls per tensor, not five).
  struct Flat {
    void* bytes;
    size_t byteLength;
    const void* layout;
    size_t layoutLength;
    napi_typedarray_type layoutType;
  };
  // Argument i's storage and layout when it came flat, else nullptr.
  const Flat* flat(size_t i) const { return isFlat_[i] ? &flat_[i] : nullptr; }
  [[noreturn]] void fail(const std::string& message) const;
  double number(size_t i, const char* name) const;
  int64_t integer(size_t i, const char* name) const;
  bool boolean(size_t i, const char* name) const;
  std::string string(size_t i, const char* name) const;
  // A fused activation's name: 'none', 'relu', 'gelu' or 'silu'.
  Act activation(size_t i) const;
  std::vector<int64_t> ints(size_t i, const char* name) const;
  TensorArg tensor(size_t i, const char* name) const { return reader_(*this, i, name); }
  bool isNullish(size_t i) const;
  const char* op() const { return op_; }

 private:
  // Up to kInlineArgs values live here; a longer call (cat of many tensors) spills to the heap.
  static constexpr size_t kInlineArgs = 24;
  const Napi::CallbackInfo& info_;
  const char* op_;
  TensorReader reader_;
  size_t count_ = 0;
  napi_value inlineValues_[kInlineArgs];
  Flat inlineFlat_[kInlineArgs];
  bool inlineIsFlat_[kInlineArgs];
  std::vector<napi_value> spillValues_;
  std::vector<Flat> spillFlat_;
  std::unique_ptr<bool[]> spillIsFlat_;
  napi_value* values_ = inlineValues_;
  Flat* flat_ = inlineFlat_;
  bool* isFlat_ = inlineIsFlat_;
};

// For the argument parsers (<family>_args.cc) and the tensor readers; the checks fail with
// the op's name and the argument's.
bool isFloat(DType d);
std::string shapeString(const std::vector<int64_t>& shape);
// A contiguous tensor of exactly this shape and dtype.
void requireContiguous(const Args& args, const TensorArg& t, const char* name, const std::vector<int64_t>& shape,
                       DType dtype);
// Argument i: null (present = false) or a 1-d tensor of n elements and this dtype.
TensorArg optionalVector(const Args& args, size_t i, const char* name, int64_t n, DType dtype, bool& present);
// Reads the integer arrays of a descriptor; false when a value is not an integer.
bool readInts(const Napi::Value& v, std::vector<int64_t>& out);
// The same for a view's sizes or strides: false also beyond kMaxViewDims values.
bool readInts(const Napi::Value& v, Dims& out);
// Checks a view's shape and strides against the storage (capacity in elements) and sets
// t.data from base; messages name the argument.
void placeView(const Args& args, TensorArg& t, const char* name, int64_t offset, char* base, int64_t capacity);

}  // namespace iv
