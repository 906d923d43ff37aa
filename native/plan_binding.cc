// N-API surface of the fused training plan (filled in by the fused-plan work; see plan.h).
#include "plan.h"

namespace blasnet {
void RegisterPlan(Napi::Env, Napi::Object) {}
}
