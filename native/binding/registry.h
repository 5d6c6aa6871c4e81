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

struct Registrar {
  Registrar(const char* name, ExportFn fn) { exportRegistry().push_back({name, fn}); }
};

}  // namespace iv

#define IV_CONCAT_INNER(a, b) a##b
#define IV_CONCAT(a, b) IV_CONCAT_INNER(a, b)
#define IV_EXPORT(name, fn) static ::iv::Registrar IV_CONCAT(ivRegistrar_, __LINE__)(name, fn)
