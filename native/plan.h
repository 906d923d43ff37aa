// The fused training plan: forward, backward and optimizer update for runs of batches in C++.
// Registered into the addon's exports by addon.cc.
#pragma once
#include <napi.h>

namespace blasnet {
void RegisterPlan(Napi::Env env, Napi::Object exports);
}
