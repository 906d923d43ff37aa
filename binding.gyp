# node-gyp build of the same addon as CMakeLists.txt (build/Release/blasnet.node).
# `scripts/check-gyp-build.sh` builds it in a scratch copy and checks it; `npm run build:native:gyp`
# builds it in place (replacing the cmake-js build). Keep the source list in step with native/*.cc.
{
  "targets": [
    {
      "target_name": "blasnet",
      "sources": [
        "native/addon.cc",
        "native/conv_binding.cc",
        "native/kernel_binding.cc",
        "native/kernels.cc",
        "native/kinds_binding.cc",
        "native/plan_binding.cc",
        "native/plan_compile.cc",
        "native/plan_regions.cc",
        "native/plan_spec.cc",
        "native/plan_steps.cc",
        "native/plan_threads.cc",
        "native/plan_validate.cc",
        "native/runtime_binding.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(pkg-config --cflags-only-I openblas | sed -e 's/-I//g')"
      ],
      "libraries": [
        "<!@(pkg-config --libs openblas)"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      # Same flags as CMakeLists.txt: C++17, -O3, no -march (per-ISA clones inside), C++ exceptions on.
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": [
        "-std=c++17",
        "-fexceptions",
        "-O3",
        "-fopenmp-simd",
        "-fno-math-errno",
        "-fno-trapping-math",
        "-fvisibility=hidden",
        "-Werror=switch"
      ],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CPLUSPLUSFLAGS": ["-O3", "-fno-math-errno", "-fno-trapping-math"]
      }
    }
  ]
}
