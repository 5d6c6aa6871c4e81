// Argument checking for native entry points. Every accessor throws a JS Error that names
// the op and the argument, so a bad call from JavaScript never reaches a kernel.
#pragma once
#include <napi.h>
#include <cstdint>
#include <string>
#include <vector>

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
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
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

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* op, size_t count, TensorReader reader = hostTensor);
  Napi::Env env() const { return info_.Env(); }
  Napi::Value at(size_t i) const { return info_[i]; }
  [[noreturn]] void fail(const std::string& message) const;
  double number(size_t i, const char* name) const;
  int64_t integer(size_t i, const char* name) const;
  bool boolean(size_t i, const char* name) const;
  std::string string(size_t i, const char* name) const;
  std::vector<int64_t> ints(size_t i, const char* name) const;
  TensorArg tensor(size_t i, const char* name) const { return reader_(*this, i, name); }
  bool isNullish(size_t i) const;
  const char* op() const { return op_; }

 private:
  const Napi::CallbackInfo& info_;
  const char* op_;
  TensorReader reader_;
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
// Checks a view's shape and strides against the storage (capacity in elements) and sets
// t.data from base; messages name the argument.
void placeView(const Args& args, TensorArg& t, const char* name, int64_t offset, char* base, int64_t capacity);

}  // namespace iv
