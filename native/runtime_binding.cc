// N-API entry points that are not kernels: the thread count (OpenBLAS's and the fused plan's, plan_threads.h), what the addon was built with
// (OpenBLAS configuration, SIMD level), and the C++ twin of lib/core/rng.ts (the generator the fused
// plan draws dropout masks from), which tests compare against the TypeScript one. Arguments are
// checked as in kernel_binding.cc (check.h).
#include <cblas.h>

#include <string>

#include "check.h"
#include "kernels.h"
#include "plan_threads.h"
#include "rng.h"

namespace blasnet {
namespace {

using check::Args;
using check::View;

// --- Threads and build information ---------------------------------------------------------------

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Args args(info, "setThreads", 1);
  const double n = args.Number(0, "n");
  if (!(std::trunc(n) == n && n >= 1 && n <= 1024)) {
    args.RangeError("Argument 'n' of setThreads must be an integer in [1, 1024] but received " + args.Fmt(n));
  }
  threads::SetCount(int(n));  // OpenBLAS's, and the fused plan's conv and pooling steps'
  return info.Env().Undefined();
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) {
  Args args(info, "getThreads", 0);
  return Napi::Number::New(info.Env(), threads::Count());
}

// "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64 (core: SkylakeX)"
Napi::Value BlasConfig(const Napi::CallbackInfo& info) {
  Args args(info, "blasConfig", 0);
  std::string s = openblas_get_config();
  // The config string ends with a space in some builds.
  while (!s.empty() && s.back() == ' ') s.pop_back();
  const char* core = openblas_get_corename();
  if (core && *core) s += std::string(" (core: ") + core + ")";
  return Napi::String::New(info.Env(), s);
}

Napi::Value SimdLevelFn(const Napi::CallbackInfo& info) {
  Args args(info, "simdLevel", 0);
  return Napi::String::New(info.Env(), SimdLevel());
}

// --- RNG (the C++ twin of lib/core/rng.ts; used by the fused plan for dropout) ----------------

// rngFill(seed, out: Uint32Array): out[i] = the i-th nextUint32() of new Rng(seed).
Napi::Value RngFill(const Napi::CallbackInfo& info) {
  Args args(info, "rngFill", 2);
  const double seed = args.Finite(0, "seed");
  const View<uint32_t> out = args.U32(1, "out");
  Rng rng(Rng::SeedFromNumber(seed));
  for (size_t i = 0; i < out.length; i++) out.data[i] = rng.NextUint32();
  return info.Env().Undefined();
}

// rngUniform(state: Uint32Array(4), out: Float32Array): out[i] = uniform() drawn from `state`,
// which is advanced in place (Rng.getState()/setState() layout).
Napi::Value RngUniform(const Napi::CallbackInfo& info) {
  Args args(info, "rngUniform", 2);
  const View<uint32_t> state = args.U32(0, "state");
  const View<float> out = args.F32(1, "out");
  if (state.length != 4) {
    args.RangeError("Argument 'state' of rngUniform has " + std::to_string(state.length) +
                    " values but the generator state is 4 words");
  }
  if ((state.data[0] | state.data[1] | state.data[2] | state.data[3]) == 0) {
    args.RangeError("Argument 'state' of rngUniform is all zero, which is not a valid xoshiro128** state");
  }
  Rng rng;
  rng.SetState(state.data);
  for (size_t i = 0; i < out.length; i++) out.data[i] = rng.Uniform();
  rng.GetState(state.data);
  return info.Env().Undefined();
}

}  // namespace

// Registered by RegisterKernels (kernel_binding.cc) on the same exports object.
void RegisterRuntime(Napi::Env env, Napi::Object exports) {
  const check::Entry entries[] = {
      {"setThreads", SetThreads},
      {"getThreads", GetThreads},
      {"blasConfig", BlasConfig},
      {"simdLevel", SimdLevelFn},
      {"rngFill", RngFill},
      {"rngUniform", RngUniform},
  };
  check::Register(env, exports, entries);
}

}  // namespace blasnet
