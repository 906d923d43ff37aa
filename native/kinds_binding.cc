// kinds(): the addon's kind lists and codes (ops/kinds.h) as a JavaScript object, for the loader to
// compare with the TypeScript registry (nativeKindTable() in lib/ops/kinds.ts) when it loads:
//   { activations: { linear: 0, ... }, losses: { mse: 0, ... },
//     optimizers: { sgd: { code: 0, hyper: ["momentum", ...] }, ... }, layers: { dense: 0, ... } }
#include <napi.h>

#include "ops/kinds.h"
#include "steps/steps.h"  // kLayerKinds

namespace blasnet {
namespace {

template <size_t N>
Napi::Object CodeTable(Napi::Env env, const KindEntry (&table)[N]) {
  Napi::Object o = Napi::Object::New(env);
  for (const KindEntry& e : table) o.Set(e.name, Napi::Number::New(env, e.code));
  return o;
}

Napi::Value Kinds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 0) {
    throw Napi::TypeError::New(env, "kinds expects 0 arguments but received " + std::to_string(info.Length()));
  }
  Napi::Object optimizers = Napi::Object::New(env);
  for (const KindEntry& e : kOptimizerKinds) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("code", Napi::Number::New(env, e.code));
    Napi::Array hyper = Napi::Array::New(env, kOptimizerHyperCount);
    const char* const* names = OptimizerHyperNames(e.code);
    for (int h = 0; h < kOptimizerHyperCount; h++) hyper.Set(uint32_t(h), Napi::String::New(env, names[h]));
    o.Set("hyper", hyper);
    optimizers.Set(e.name, o);
  }
  Napi::Object t = Napi::Object::New(env);
  t.Set("activations", CodeTable(env, kActivationKinds));
  t.Set("losses", CodeTable(env, kLossKinds));
  t.Set("optimizers", optimizers);
  t.Set("layers", CodeTable(env, kLayerKinds));
  return t;
}

}  // namespace

void RegisterKinds(Napi::Env env, Napi::Object exports) {
  exports.Set("kinds", Napi::Function::New(env, Kinds, "kinds"));
}

}  // namespace blasnet
