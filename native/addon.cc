// The blasnet addon: registers the per-kernel entry points (kernel_binding.cc), the kind table
// (kinds_binding.cc) and the fused training plan (plan_binding.cc) on one exports object. N-API
// version 8; C++ exceptions enabled, so a thrown Napi::Error becomes a JavaScript exception.
#include <napi.h>

#include "plan.h"

namespace blasnet {
void RegisterKernels(Napi::Env env, Napi::Object exports);  // kernel_binding.cc
void RegisterKinds(Napi::Env env, Napi::Object exports);    // kinds_binding.cc
}

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  blasnet::RegisterKernels(env, exports);
  blasnet::RegisterKinds(env, exports);
  blasnet::RegisterPlan(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(blasnet, Init)
