// The fused plan's spec, from JavaScript (lib/backend/plan.ts's PlanSpec) into a SpecDesc: every
// property read with its type checked and named in the error (each step's by its step file's Parse,
// steps/<kind>.h, through LayerReader); values, geometry and sizes are
// plan::ValidateSpec's to check (plan_validate.cc).
#include <napi.h>

#include <string>

#include "ops/kinds.h"
#include "plan.h"
#include "plan_napi.h"

namespace blasnet {
namespace planbind {

using plan::LayerDesc;
using plan::SpecDesc;

// A step's `window` (lib/ops/window.ts's Window2d): every field an integer.
plan::Window2d GetWindow(Napi::Object layer, const std::string& at) {
  Napi::Object w = GetObject(layer.Get("window"), at + ".window");
  const std::string p = at + ".window.";
  plan::Window2d g;
  g.channels = GetInt(w, "channels", p + "channels");
  g.height = GetInt(w, "height", p + "height");
  g.width = GetInt(w, "width", p + "width");
  g.kernelH = GetInt(w, "kernelH", p + "kernelH");
  g.kernelW = GetInt(w, "kernelW", p + "kernelW");
  g.strideH = GetInt(w, "strideH", p + "strideH");
  g.strideW = GetInt(w, "strideW", p + "strideW");
  g.padTop = GetInt(w, "padTop", p + "padTop");
  g.padLeft = GetInt(w, "padLeft", p + "padLeft");
  g.dilationH = GetInt(w, "dilationH", p + "dilationH");
  g.dilationW = GetInt(w, "dilationW", p + "dilationW");
  g.outH = GetInt(w, "outH", p + "outH");
  g.outW = GetInt(w, "outW", p + "outW");
  return g;
}

// What a step file's Parse reads its fields with (steps/step.h): each property of the step's
// object, its type checked and named in the error.
struct LayerReader {
  Napi::Env env;
  Napi::Object layer;
  std::string at;  // "spec.layers[i]"
  int64_t Int(const char* name) { return GetInt(layer, name, at + "." + name); }
  double Number(const char* name) { return GetNumber(layer, name, at + "." + name); }
  plan::Window2d Window() { return GetWindow(layer, at); }
  Activation ActivationKind(const char* name) {
    const std::string act = GetString(layer, name, at + "." + name);
    return Activation(KindByName(env, act, kActivationKinds, at + "." + name));
  }
};

SpecDesc ParseSpec(Napi::Value specValue) {
  Napi::Env env = specValue.Env();
  Napi::Object spec = GetObject(specValue, "spec");
  SpecDesc s;
  s.inFeatures = GetInt(spec, "inFeatures", "spec.inFeatures");
  s.outFeatures = GetInt(spec, "outFeatures", "spec.outFeatures");
  s.batchSize = GetInt(spec, "batchSize", "spec.batchSize");
  s.paramCount = GetInt(spec, "paramCount", "spec.paramCount");
  s.clipNorm = GetNumber(spec, "clipNorm", "spec.clipNorm");
  s.clipValue = GetNumber(spec, "clipValue", "spec.clipValue");
  Napi::Value layersValue = spec.Get("layers");
  if (!layersValue.IsArray()) ThrowType(env, "Expected an Array for spec.layers but received " + Describe(layersValue));
  Napi::Array layers = layersValue.As<Napi::Array>();
  const uint32_t count = layers.Length();
  if (count > 100000) ThrowRange(env, "Invalid spec.layers: " + std::to_string(count) + " layers; expected at most 100000");
  for (uint32_t i = 0; i < count; i++) {
    const std::string at = "spec.layers[" + std::to_string(i) + "]";
    Napi::Object l = GetObject(layers.Get(i), at);
    LayerDesc d;
    const std::string kind = GetString(l, "kind", at + ".kind");
    d.kind = LayerKind(KindByName(env, kind, kLayerKinds, at + ".kind"));
    LayerReader r{env, l, at};
    switch (d.kind) {
#define BN_PARSE_CASE(name, code, Step) \
  case LayerKind::name:                 \
    plan::Step::Parse(d, r);            \
    break;
      BN_LAYERS(BN_PARSE_CASE)
#undef BN_PARSE_CASE
    }
    s.layers.push_back(d);
  }
  Napi::Object loss = GetObject(spec.Get("loss"), "spec.loss");
  const std::string lossKind = GetString(loss, "kind", "spec.loss.kind");
  s.loss = Loss(KindByName(env, lossKind, kLossKinds, "spec.loss.kind"));
  if (s.loss == Loss::huber) s.huberDelta = GetNumber(loss, "delta", "spec.loss.delta");
  // The optimizer, generically: { kind, code, hyper } with hyper in kinds.h's order for the code.
  Napi::Object opt = GetObject(spec.Get("optimizer"), "spec.optimizer");
  const std::string optKind = GetString(opt, "kind", "spec.optimizer.kind");
  const int64_t code = GetInt(opt, "code", "spec.optimizer.code");
  const KindEntry* entry = code >= 0 && code < 1024 ? FindKind(kOptimizerKinds, int(code)) : nullptr;
  if (!entry) {
    ThrowRange(env, "Unknown optimizer code " + std::to_string(code) + " for spec.optimizer.code; expected one of " +
                        CodeChoices(kOptimizerKinds));
  }
  if (optKind != entry->name) {
    ThrowType(env, "Expected spec.optimizer.kind to name code " + std::to_string(code) + " (\"" + entry->name +
                       "\") but received \"" + optKind + "\"; the addon and the TypeScript registry disagree: rebuild the addon");
  }
  s.optimizer = Optimizer(code);
  Napi::Value hyperValue = opt.Get("hyper");
  const char* const* hyperNames = OptimizerHyperNames(int(code));
  if (!hyperValue.IsArray() || hyperValue.As<Napi::Array>().Length() != uint32_t(kOptimizerHyperCount)) {
    ThrowType(env, std::string("Expected an Array of ") + std::to_string(kOptimizerHyperCount) + " numbers (" +
                       hyperNames[0] + ", " + hyperNames[1] + ", " + hyperNames[2] + ", " + hyperNames[3] +
                       ") for spec.optimizer.hyper but received " + Describe(hyperValue));
  }
  Napi::Array hyper = hyperValue.As<Napi::Array>();
  for (int h = 0; h < kOptimizerHyperCount; h++) {
    Napi::Value v = hyper.Get(uint32_t(h));
    const std::string at = "spec.optimizer.hyper[" + std::to_string(h) + "] (" + hyperNames[h] + ")";
    if (!v.IsNumber()) ThrowType(env, "Expected a number for " + at + " but received " + Describe(v));
    s.hyper[h] = v.As<Napi::Number>().DoubleValue();
  }
  // Frozen parameter ranges: [begin, end] pairs (absent: none).
  Napi::Value frozenValue = spec.Get("frozen");
  if (!frozenValue.IsUndefined()) {
    if (!frozenValue.IsArray()) ThrowType(env, "Expected an Array of [begin, end] pairs for spec.frozen but received " + Describe(frozenValue));
    Napi::Array frozen = frozenValue.As<Napi::Array>();
    const uint32_t n = frozen.Length();
    if (n > 1000000) ThrowRange(env, "Invalid spec.frozen: " + std::to_string(n) + " ranges; expected at most 1000000");
    for (uint32_t i = 0; i < n; i++) {
      const std::string at = "spec.frozen[" + std::to_string(i) + "]";
      Napi::Value pair = frozen.Get(i);
      if (!pair.IsArray() || pair.As<Napi::Array>().Length() != 2) ThrowType(env, "Expected a [begin, end] pair for " + at + " but received " + Describe(pair));
      Napi::Object o = pair.As<Napi::Object>();
      s.frozen.push_back({GetInt(o, "0", at + "[0]"), GetInt(o, "1", at + "[1]")});
    }
  }
  return s;
}

}  // namespace planbind
}  // namespace blasnet
