{
  "target_defaults": {
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++14"],
    # -fno-trapping-math: no kernel reads floating-point exception flags, and without it GCC
    # keeps conditional float expressions (hardswish's gradient, ...) as branches, not vector selects
    "cflags": ["-O3", "-fno-math-errno", "-fno-trapping-math", "-fPIC"],
    "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fno-math-errno", "-fno-trapping-math", "-fPIC"],
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"]
  },
  "targets": [
    {
      "target_name": "kernels_avx2",
      "type": "static_library",
      "sources": ["<!@(node native/sources.js avx2)"],
      "cflags_cc": ["-mavx2", "-mfma", "-mf16c"]
    },
    {
      "target_name": "kernels_avx512",
      "type": "static_library",
      "sources": ["<!@(node native/sources.js avx512)"],
      "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx2", "-mfma", "-mf16c"]
    },
    {
      "target_name": "kernels_avx512bf16",
      "type": "static_library",
      "sources": ["<!@(node native/sources.js avx512bf16)"],
      "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx512bf16", "-mavx2", "-mfma", "-mf16c"]
    },
    {
      "target_name": "kernels_fastmath",
      "type": "static_library",
      "sources": ["<!@(node native/sources.js fastmath)"],
      "cflags_cc": ["-ffast-math"]
    },
    {
      "target_name": "intern_vision",
      "dependencies": ["kernels_avx2", "kernels_avx512", "kernels_avx512bf16", "kernels_fastmath"],
      "sources": ["<!@(node native/sources.js base)"],
      "libraries": ["-pthread", "-lmvec"],
      "ldflags": ["-pthread"]
    }
  ]
}
