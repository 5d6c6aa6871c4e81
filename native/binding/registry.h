// Every native entry point registers itself here with IV_EXPORT, so adding an op means
// adding one .cc file: binding.gyp globs the sources and addon.cc exports the registry.
#pragma once
#include <napi.h>
#include <vector>

namespace iv {

using ExportFn = Napi::Value (*)(const Napi::CallbackInfo&);

struct ExportEntry {
  const char* name;
  ExportFn fn;
};

std::vector<ExportEntry>& exportRegistry();
// Entry points whose kernels read and write bfloat16 tensors themselves (exported to JS as
// `bfloat16Kernels`); every other entry point refuses them.
std::vector<const char*>& bfloat16Registry();
bool acceptsBfloat16(const char* name);

struct Registrar {
  Registrar(const char* name, ExportFn fn) { exportRegistry().push_back({name, fn}); }
  explicit Registrar(const char* name) { bfloat16Registry().push_back(name); }
};

}  // namespace iv

#define IV_CONCAT_INNER(a, b) a##b
#define IV_CONCAT(a, b) IV_CONCAT_INNER(a, b)
#define IV_EXPORT(name, fn) static ::iv::Registrar IV_CONCAT(ivRegistrar_, __LINE__)(name, fn)
#define IV_BFLOAT16(name) static ::iv::Registrar IV_CONCAT(ivBfloat16_, __LINE__)(name)
