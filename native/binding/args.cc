#include "args.h"
#include "registry.h"
#include <cmath>
#include <sstream>

namespace iv {

size_t dtypeSize(DType d) {
  switch (d) {
    case DType::float32: return 4;
    case DType::float64: return 8;
    case DType::int32: return 4;
    case DType::uint8: return 1;
    case DType::boolean: return 1;
    case DType::bfloat16: return 2;
  }
  return 0;
}

const char* dtypeName(DType d) {
  switch (d) {
    case DType::float32: return "float32";
    case DType::float64: return "float64";
    case DType::int32: return "int32";
    case DType::uint8: return "uint8";
    case DType::boolean: return "bool";
    case DType::bfloat16: return "bfloat16";
  }
  return "?";
}

int64_t TensorArg::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

bool TensorArg::contiguous() const {
  int64_t expected = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] != 1 && strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

std::string TensorArg::shapeString() const { return iv::shapeString(shape); }

Args::Args(const Napi::CallbackInfo& info, const char* op, size_t count, TensorReader reader)
    : info_(info), op_(op), reader_(reader) {
  const size_t raw = info.Length();
  // More values than arguments (or a variadic parser): some tensors may have come flat. A
  // kernel takes no other ArrayBuffer, so an ArrayBuffer followed by a typed array is one tensor.
  const bool folds = count == kAnyCount || raw > count;
  const napi_env env = info.Env();
  if (raw > kInlineArgs) {
    spillValues_.resize(raw);
    spillFlat_.resize(raw);
    spillIsFlat_.reset(new bool[raw]);
    values_ = spillValues_.data();
    flat_ = spillFlat_.data();
    isFlat_ = spillIsFlat_.get();
  }
  for (size_t j = 0; j < raw; count_++) {
    const napi_value v = info[j];
    // The info calls answer napi_invalid_arg, without throwing, for a value of another type.
    Flat& f = flat_[count_];
    isFlat_[count_] = folds && j + 1 < raw && napi_get_arraybuffer_info(env, v, &f.bytes, &f.byteLength) == napi_ok &&
                      napi_get_typedarray_info(env, info[j + 1], &f.layoutType, &f.layoutLength,
                                               const_cast<void**>(&f.layout), nullptr, nullptr) == napi_ok;
    j += isFlat_[count_] ? 2 : 1;
    values_[count_] = v;
  }
  if (count != kAnyCount && count_ != count) {
    std::ostringstream s;
    s << "expected " << count << " arguments, got " << count_;
    fail(s.str());
  }
}

void Args::fail(const std::string& message) const {
  throw Napi::Error::New(info_.Env(), std::string(op_) + ": " + message);
}

bool Args::isNullish(size_t i) const { return at(i).IsNull() || at(i).IsUndefined(); }

double Args::number(size_t i, const char* name) const {
  if (!at(i).IsNumber()) fail(std::string("argument '") + name + "' must be a number");
  return at(i).As<Napi::Number>().DoubleValue();
}

int64_t Args::integer(size_t i, const char* name) const {
  double v = number(i, name);
  if (!(std::fabs(v) <= 9007199254740992.0) || v != std::trunc(v))
    fail(std::string("argument '") + name + "' must be an integer, got " + std::to_string(v));
  return static_cast<int64_t>(v);
}

bool Args::boolean(size_t i, const char* name) const {
  if (!at(i).IsBoolean()) fail(std::string("argument '") + name + "' must be a boolean");
  return at(i).As<Napi::Boolean>().Value();
}

Act Args::activation(size_t i) const {
  const std::string s = string(i, "activation");
  if (s == "none") return Act::none;
  if (s == "relu") return Act::relu;
  if (s == "gelu") return Act::gelu;
  if (s == "silu") return Act::silu;
  fail("unknown activation '" + s + "' (expected none, relu, gelu or silu)");
}

std::string Args::string(size_t i, const char* name) const {
  if (!at(i).IsString()) fail(std::string("argument '") + name + "' must be a string");
  // Op names are short: one copy into a stack buffer, without Utf8Value's measuring pass.
  char buffer[64];
  size_t length = 0;
  if (napi_get_value_string_utf8(info_.Env(), at(i), buffer, sizeof buffer, &length) == napi_ok &&
      length + 1 < sizeof buffer)
    return std::string(buffer, length);
  return at(i).As<Napi::String>().Utf8Value();
}

bool readInts(const Napi::Value& v, std::vector<int64_t>& out) {
  if (!v.IsArray()) return false;
  Napi::Array a = v.As<Napi::Array>();
  out.resize(a.Length());
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value e = a.Get(k);
    if (!e.IsNumber()) return false;
    double d = e.As<Napi::Number>().DoubleValue();
    if (!(std::fabs(d) <= 9007199254740992.0) || d != std::trunc(d)) return false;
    out[k] = static_cast<int64_t>(d);
  }
  return true;
}

bool readInts(const Napi::Value& v, Dims& out) {
  std::vector<int64_t> values;
  if (!readInts(v, values) || values.size() > kMaxViewDims) return false;
  out = Dims(values);
  return true;
}

std::vector<int64_t> Args::ints(size_t i, const char* name) const {
  std::vector<int64_t> out;
  if (!readInts(at(i), out)) fail(std::string("argument '") + name + "' must be an array of integers");
  return out;
}

// Reads a packed layout, the Float64Array [offset, dtype, ndim, shape..., strides...] that
// comes after a flat tensor's buffer.
static bool readPackedLayout(const Args::Flat& f, double& offset, int32_t& code, TensorArg& t) {
  if (f.layoutType != napi_float64_array) return false;
  const double* m = static_cast<const double*>(f.layout);
  const size_t n = f.layoutLength;
  if (n < 3 || m[2] < 0 || m[2] > 16 || m[2] != std::trunc(m[2]) || n != 3 + 2 * static_cast<size_t>(m[2]))
    return false;
  const size_t ndim = static_cast<size_t>(m[2]);
  t.shape.setSize(ndim);
  t.strides.setSize(ndim);
  for (size_t k = 0; k < 2 * ndim; k++) {
    const double d = m[3 + k];
    if (!(std::fabs(d) <= 9007199254740992.0) || d != std::trunc(d)) return false;
    (k < ndim ? t.shape[k] : t.strides[k - ndim]) = static_cast<int64_t>(d);
  }
  offset = m[0];
  if (m[1] != std::trunc(m[1]) || !(std::fabs(m[1]) < 1e6)) return false;
  code = static_cast<int32_t>(m[1]);
  return true;
}

TensorArg hostTensor(const Args& args, size_t i, const char* name) {
  const auto fail = [&](const std::string& problem) {
    args.fail(std::string("argument '") + name + "'" + problem);
  };
  const Napi::Value v = args.at(i);
  const Args::Flat* flat = args.flat(i);
  if (!flat && (!v.IsArray() || v.As<Napi::Array>().Length() != 5))
    fail(" must be a tensor descriptor [buffer, offset, shape, strides, dtype], or a buffer and its packed layout");
  void* bytes = nullptr;
  size_t byteLength = 0;
  TensorArg t;
  double offD;
  int32_t code;
  if (flat) {
    bytes = flat->bytes;
    byteLength = flat->byteLength;
    if (!readPackedLayout(*flat, offD, code, t))
      fail(": the packed layout must be a Float64Array [offset, dtype, ndim, shape..., strides...]");
  } else {
    Napi::Array d = v.As<Napi::Array>();
    Napi::Value buf = d.Get(0u);
    if (!buf.IsArrayBuffer() || napi_get_arraybuffer_info(buf.Env(), buf, &bytes, &byteLength) != napi_ok)
      fail(": storage must be an ArrayBuffer");
    Napi::Value off = d.Get(1u), dt = d.Get(4u);
    if (!off.IsNumber() || !dt.IsNumber()) fail(": offset and dtype must be numbers");
    offD = off.As<Napi::Number>().DoubleValue();
    code = dt.As<Napi::Number>().Int32Value();
    if (!readInts(d.Get(2u), t.shape) || !readInts(d.Get(3u), t.strides) || t.shape.size() != t.strides.size())
      fail(": shape and strides must be integer arrays of the same length");
  }
  if (!(offD >= 0 && offD <= 1099511627776.0) || offD != std::trunc(offD))
    fail(": offset must be a non-negative integer");
  if (code < 0 || code > 5) fail(": unknown dtype code " + std::to_string(code));
  // Kernels that take bfloat16 say so (IV_BFLOAT16); the others would misread its 2-byte
  // elements, so the TypeScript layer widens for them and a direct call is refused here.
  if (code == 5 && !acceptsBfloat16(args.op()))
    fail(std::string(": ") + args.op() + " does not take bfloat16 tensors (widen them to float32 first)");
  t.dtype = static_cast<DType>(code);
  if (byteLength == 0 || bytes == nullptr) fail(": tensor storage was disposed");
  const size_t pad = alignmentPad(bytes);
  const int64_t capacity = byteLength <= pad ? 0 : static_cast<int64_t>((byteLength - pad) / dtypeSize(t.dtype));
  placeView(args, t, name, static_cast<int64_t>(offD), static_cast<char*>(bytes) + pad, capacity);
  return t;
}

void placeView(const Args& args, TensorArg& t, const char* name, int64_t offset, char* base, int64_t capacity) {
  // The message is built only on failure: this runs for every tensor of every call.
  const auto fail = [&](const std::string& problem) { args.fail(std::string("argument '") + name + "'" + problem); };
  // Bounds: the lowest and highest element the view can touch must lie in the storage.
  int64_t lo = offset, hi = offset;
  constexpr int64_t kLimit = int64_t(1) << 40;
  if (t.shape.size() > 16) fail(": more than 16 dimensions");
  for (size_t k = 0; k < t.shape.size(); k++) {
    if (t.shape[k] < 0) fail(": negative size in shape " + t.shapeString());
    if (t.shape[k] > kLimit || t.strides[k] > kLimit || t.strides[k] < -kLimit)
      fail(": size or stride out of range in shape " + t.shapeString());
    if (t.shape[k] == 0) { lo = offset; hi = offset - 1; break; }
    int64_t span;
    if (__builtin_mul_overflow(t.shape[k] - 1, t.strides[k], &span) ||
        __builtin_add_overflow(span < 0 ? lo : hi, span, span < 0 ? &lo : &hi))
      fail(": view " + t.shapeString() + " overflows its index range");
  }
  int64_t count = 1;
  for (int64_t sz : t.shape)
    if (__builtin_mul_overflow(count, sz, &count) || count > kLimit)
      fail(": shape " + t.shapeString() + " has too many elements");
  if (hi >= lo && (lo < 0 || hi >= capacity))
    fail(": view " + t.shapeString() + " at offset " + std::to_string(offset) + " exceeds its storage of " +
              std::to_string(capacity) + " elements");
  t.data = base + offset * static_cast<int64_t>(dtypeSize(t.dtype));
}

bool isFloat(DType d) { return d == DType::float32 || d == DType::float64; }

std::string shapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); i++) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

void requireContiguous(const Args& args, const TensorArg& t, const char* name, const std::vector<int64_t>& shape,
                       DType dtype) {
  if (t.shape != shape || !t.contiguous() || t.dtype != dtype)
    args.fail(std::string("argument '") + name + "' must be a contiguous " + dtypeName(dtype) + " tensor of shape " +
              shapeString(shape) + ", got " + dtypeName(t.dtype) + " " + t.shapeString() +
              (t.contiguous() ? "" : " (strided)"));
}

TensorArg optionalVector(const Args& args, size_t i, const char* name, int64_t n, DType dtype, bool& present) {
  present = !args.isNullish(i);
  TensorArg t;
  if (!present) return t;
  t = args.tensor(i, name);
  if (t.shape.size() != 1 || t.shape[0] != n)
    args.fail(std::string("argument '") + name + "' must have shape [" + std::to_string(n) + "], got " +
              t.shapeString());
  if (t.dtype != dtype)
    args.fail(std::string("argument '") + name + "' must be " + dtypeName(dtype) + ", got " + dtypeName(t.dtype));
  return t;
}

}  // namespace iv
