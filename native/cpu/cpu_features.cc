#include "cpu_features.h"
#include <cstdlib>
#include <cstring>
#include "../binding/registry.h"
#include "parallel.h"

namespace iv {

Isa detectIsa() {
#if defined(__x86_64__) || defined(_M_X64)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl"))
    return Isa::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::avx2;
#endif
  return Isa::generic;
}

static Isa requestedIsa() {
  Isa best = detectIsa();
  const char* env = std::getenv("INTERN_VISION_ISA");
  if (!env) return best;
  Isa want = best;
  if (!std::strcmp(env, "generic")) want = Isa::generic;
  else if (!std::strcmp(env, "avx2")) want = Isa::avx2;
  else if (!std::strcmp(env, "avx512")) want = Isa::avx512;
  return static_cast<int>(want) < static_cast<int>(best) ? want : best;
}

Isa activeIsa() {
  static Isa isa = requestedIsa();
  return isa;
}

const char* isaName(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "generic";
  }
}

namespace {

Napi::Value cpuInfo(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("isa", isaName(activeIsa()));
  o.Set("detectedIsa", isaName(detectIsa()));
  o.Set("threads", numThreads());
  return o;
}

Napi::Value setThreads(const Napi::CallbackInfo& info) {
  if (info.Length() != 1 || !info[0].IsNumber() || info[0].As<Napi::Number>().Int32Value() < 1 ||
      info[0].As<Napi::Number>().Int32Value() > 1024)
    throw Napi::Error::New(info.Env(), "setNumThreads: argument 'n' must be an integer from 1 to 1024");
  setNumThreads(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

}  // namespace

IV_EXPORT("cpuInfo", cpuInfo);
IV_EXPORT("setNumThreads", setThreads);

}  // namespace iv
