#include "cpu_features.h"
#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif
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
  else if (!std::strcmp(env, "avx512") || !std::strcmp(env, "avx512bf16")) want = Isa::avx512;
  return static_cast<int>(want) < static_cast<int>(best) ? want : best;
}

Isa activeIsa() {
  static Isa isa = requestedIsa();
  return isa;
}

bool detectAvx512Bf16() {
#if defined(__x86_64__) || defined(_M_X64)
  // detectIsa() has checked that the OS saves the AVX-512 state; the feature bit is CPUID
  // leaf 7, subleaf 1, EAX bit 5.
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return detectIsa() == Isa::avx512 && __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) && (eax >> 5 & 1u);
#else
  return false;
#endif
}

bool avx512Bf16Active() {
  static const bool active = [] {
    const char* env = std::getenv("INTERN_VISION_ISA");
    return activeIsa() == Isa::avx512 && detectAvx512Bf16() && !(env && !std::strcmp(env, "avx512"));
  }();
  return active;
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
  o.Set("bf16", avx512Bf16Active());
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
