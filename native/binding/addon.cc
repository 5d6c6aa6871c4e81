#include <cstring>
#include <exception>
#include <string>
#include "registry.h"

namespace iv {

std::vector<ExportEntry>& exportRegistry() {
  static std::vector<ExportEntry> entries;
  return entries;
}

std::vector<const char*>& bfloat16Registry() {
  static std::vector<const char*> names;
  return names;
}

bool acceptsBfloat16(const char* name) {
  for (const char* n : bfloat16Registry())
    if (std::strcmp(n, name) == 0) return true;
  return false;
}

Napi::Object initAddon(Napi::Env env, Napi::Object exports) {
  for (const ExportEntry& e : exportRegistry()) {
    ExportFn fn = e.fn;
    const char* name = e.name;
    // Any C++ exception (std::bad_alloc, std::length_error...) becomes a JS Error naming
    // the entry point instead of terminating the process.
    auto wrapped = [fn, name](const Napi::CallbackInfo& info) -> Napi::Value {
      try {
        return fn(info);
      } catch (const Napi::Error&) {
        throw;
      } catch (const std::exception& ex) {
        throw Napi::Error::New(info.Env(), std::string(name) + ": " + ex.what());
      }
    };
    exports.Set(name, Napi::Function::New(env, wrapped, name));
  }
  Napi::Array bf16 = Napi::Array::New(env, bfloat16Registry().size());
  for (uint32_t i = 0; i < bfloat16Registry().size(); i++) bf16.Set(i, bfloat16Registry()[i]);
  exports.Set("bfloat16Kernels", bf16);
  return exports;
}

}  // namespace iv

static Napi::Object InitInternVision(Napi::Env env, Napi::Object exports) { return iv::initAddon(env, exports); }

NODE_API_MODULE(intern_vision, InitInternVision)
