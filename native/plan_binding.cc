// N-API surface of the fused training plan (engine: plan.cc; semantics: lib/backend/plan.ts).
//
//   new FusedPlan(spec, buffers)      validates the whole spec, keeps references to the four
//                                     buffers (zero-copy: the engine works in their memory) and
//                                     allocates every workspace once
//   plan.runSteps(run) -> Promise<n>  validates the run, then runs it on a libuv worker
//                                     (Napi::AsyncWorker); n = steps completed
//   plan.forward(out, x, rows)        inference forward pass on the calling thread
//   plan.dispose()                    frees the workspaces and drops the buffer references
//   planFastMath(fn, out, x)          fast exp / sigmoid / tanh over x, for test/fast-math.test.ts
//
// While a run is in flight the plan is busy: runSteps, forward and dispose throw an Error. The
// worker holds references to every array of the run and to the plan object until it settles.
// Errors are TypeError (wrong type) or RangeError (bad value or length) naming the field.
#include <napi.h>

#include <cmath>
#include <memory>
#include <new>
#include <string>

#include "check.h"
#include "plan.h"

namespace blasnet {
namespace {

using plan::LayerDesc;
using plan::PlanError;
using plan::SpecDesc;
using plan::StepArgs;

[[noreturn]] void ThrowType(Napi::Env env, const std::string& m) { throw Napi::TypeError::New(env, m); }
[[noreturn]] void ThrowRange(Napi::Env env, const std::string& m) { throw Napi::RangeError::New(env, m); }
[[noreturn]] void Throw(Napi::Env env, const PlanError& e) {
  if (e.range) ThrowRange(env, e.message);
  ThrowType(env, e.message);
}

std::string Describe(Napi::Value v) { return check::Describe(v.Env(), v); }

Napi::Object GetObject(Napi::Value v, const std::string& name) {
  if (!v.IsObject() || v.IsArray() || v.IsTypedArray()) ThrowType(v.Env(), "Expected an object for " + name + " but received " + Describe(v));
  return v.As<Napi::Object>();
}

double GetNumber(Napi::Object o, const char* key, const std::string& name) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) ThrowType(o.Env(), "Expected a number for " + name + " but received " + Describe(v));
  return v.As<Napi::Number>().DoubleValue();
}

int64_t GetInt(Napi::Object o, const char* key, const std::string& name) {
  const double d = GetNumber(o, key, name);
  if (!std::isfinite(d) || d != std::trunc(d) || std::fabs(d) > 9007199254740991.0) {
    ThrowRange(o.Env(), "Expected an integer for " + name + " but received " + Describe(o.Get(key)));
  }
  return int64_t(d);
}

bool GetBool(Napi::Object o, const char* key, const std::string& name) {
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) ThrowType(o.Env(), "Expected a boolean for " + name + " but received " + Describe(v));
  return v.As<Napi::Boolean>().Value();
}

std::string GetString(Napi::Object o, const char* key, const std::string& name) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) ThrowType(o.Env(), "Expected a string for " + name + " but received " + Describe(v));
  return v.As<Napi::String>().Utf8Value();
}

bool IsTyped(Napi::Value v, napi_typedarray_type type) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == type;
}

template <typename T>
Napi::TypedArrayOf<T> GetTyped(Napi::Value v, napi_typedarray_type type, const char* typeName, const std::string& name) {
  if (!IsTyped(v, type)) ThrowType(v.Env(), std::string("Expected a ") + typeName + " for " + name + " but received " + Describe(v));
  return v.As<Napi::TypedArrayOf<T>>();
}

Napi::Float32Array GetF32(Napi::Value v, const std::string& name) {
  return GetTyped<float>(v, napi_float32_array, "Float32Array", name);
}

int EnumIndex(Napi::Env env, const std::string& value, std::initializer_list<const char*> names, const std::string& name) {
  int i = 0;
  std::string list;
  for (const char* n : names) {
    if (value == n) return i;
    list += (i ? ", \"" : "\"") + std::string(n) + "\"";
    i++;
  }
  ThrowType(env, "Expected one of " + list + " for " + name + " but received \"" + value + "\"");
}

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
    d.kind = plan::LayerKind(EnumIndex(env, kind, {"dense", "activation", "softmax", "dropout"}, at + ".kind"));
    switch (d.kind) {
      case plan::kDense:
        d.inFeatures = GetInt(l, "inFeatures", at + ".inFeatures");
        d.outFeatures = GetInt(l, "outFeatures", at + ".outFeatures");
        d.weightOffset = GetInt(l, "weightOffset", at + ".weightOffset");
        d.biasOffset = GetInt(l, "biasOffset", at + ".biasOffset");
        break;
      case plan::kActivation: {
        const std::string act = GetString(l, "activation", at + ".activation");
        d.activation = plan::Activation(
            EnumIndex(env, act, {"linear", "sigmoid", "relu", "tanh", "leakyRelu", "gelu"}, at + ".activation"));
        d.alpha = GetNumber(l, "alpha", at + ".alpha");
        break;
      }
      case plan::kSoftmax:
        break;
      case plan::kDropout:
        d.rate = GetNumber(l, "rate", at + ".rate");
        break;
    }
    s.layers.push_back(d);
  }
  Napi::Object loss = GetObject(spec.Get("loss"), "spec.loss");
  const std::string lossKind = GetString(loss, "kind", "spec.loss.kind");
  s.loss = plan::LossKind(
      EnumIndex(env, lossKind, {"mse", "mae", "huber", "crossEntropy", "crossEntropyDense", "bce"}, "spec.loss.kind"));
  if (s.loss == plan::kHuber) s.huberDelta = GetNumber(loss, "delta", "spec.loss.delta");
  Napi::Object opt = GetObject(spec.Get("optimizer"), "spec.optimizer");
  const std::string optKind = GetString(opt, "kind", "spec.optimizer.kind");
  s.optimizer = plan::OptimizerKind(EnumIndex(env, optKind, {"sgd", "adam", "adamw", "rmsprop"}, "spec.optimizer.kind"));
  s.weightDecay = GetNumber(opt, "weightDecay", "spec.optimizer.weightDecay");
  switch (s.optimizer) {
    case plan::kSgd:
      s.momentum = GetNumber(opt, "momentum", "spec.optimizer.momentum");
      s.dampening = GetNumber(opt, "dampening", "spec.optimizer.dampening");
      s.nesterov = GetBool(opt, "nesterov", "spec.optimizer.nesterov");
      break;
    case plan::kAdam:
    case plan::kAdamW:
      s.beta1 = GetNumber(opt, "beta1", "spec.optimizer.beta1");
      s.beta2 = GetNumber(opt, "beta2", "spec.optimizer.beta2");
      s.eps = GetNumber(opt, "eps", "spec.optimizer.eps");
      break;
    case plan::kRmsprop:
      s.rmsAlpha = GetNumber(opt, "alpha", "spec.optimizer.alpha");
      s.eps = GetNumber(opt, "eps", "spec.optimizer.eps");
      s.momentum = GetNumber(opt, "momentum", "spec.optimizer.momentum");
      break;
  }
  return s;
}

class FusedPlan;

// The baton: plain pointers and sizes for the worker, references that keep the run's arrays and
// the plan object alive until the worker settles.
class RunWorker : public Napi::AsyncWorker {
 public:
  RunWorker(Napi::Env env, FusedPlan* owner, Napi::Object ownerObject, const StepArgs& args)
      : Napi::AsyncWorker(env, "blasnet.FusedPlan.runSteps"),
        deferred_(Napi::Promise::Deferred::New(env)),
        owner_(owner),
        args_(args) {
    ownerRef_ = Napi::Persistent(ownerObject);
  }

  void Keep(Napi::Value v) { keep_[kept_++] = Napi::Persistent(v.As<Napi::Object>()); }
  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& e) override;

 private:
  Napi::Promise::Deferred deferred_;
  FusedPlan* owner_;
  Napi::ObjectReference ownerRef_;
  Napi::ObjectReference keep_[5];
  int kept_ = 0;
  StepArgs args_;
  int64_t completed_ = 0;
};

class FusedPlan : public Napi::ObjectWrap<FusedPlan> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FusedPlan",
                       {InstanceMethod<&FusedPlan::RunSteps>("runSteps"), InstanceMethod<&FusedPlan::Forward>("forward"),
                        InstanceMethod<&FusedPlan::Dispose>("dispose"), InstanceAccessor<&FusedPlan::Busy>("busy")});
  }

  explicit FusedPlan(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FusedPlan>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2) ThrowType(env, "FusedPlan expects (spec, buffers)");
    SpecDesc spec = ParseSpec(info[0]);
    Napi::Object buffers = GetObject(info[1], "buffers");
    Napi::Float32Array params = GetF32(buffers.Get("params"), "buffers.params");
    Napi::Float32Array grads = GetF32(buffers.Get("grads"), "buffers.grads");
    Napi::Float32Array state = GetF32(buffers.Get("state"), "buffers.state");
    Napi::Uint32Array rng = GetTyped<uint32_t>(buffers.Get("rngState"), napi_uint32_array, "Uint32Array", "buffers.rngState");
    const PlanError e = plan::ValidateSpec(spec, int64_t(params.ElementLength()), int64_t(grads.ElementLength()),
                                           int64_t(state.ElementLength()), int64_t(rng.ElementLength()));
    if (!e.ok()) Throw(env, e);
    bool hasDropout = false;
    for (const LayerDesc& l : spec.layers) hasDropout = hasDropout || l.kind == plan::kDropout;
    if (hasDropout && rng[0] == 0 && rng[1] == 0 && rng[2] == 0 && rng[3] == 0) {
      ThrowRange(env, "Invalid buffers.rngState: all four words are zero (xoshiro128** needs a non-zero state)");
    }
    // The engine works in the arrays' memory; the references keep them alive as long as the plan.
    float* p = params.Data();
    float* g = grads.Data();
    float* st = state.Data();
    uint32_t* r = rng.Data();
    try {
      engine_ = std::make_unique<plan::Plan>(spec, p, g, st, r);
    } catch (const std::bad_alloc&) {
      ThrowRange(env, "Cannot allocate the plan's workspaces for spec.batchSize = " + std::to_string(spec.batchSize));
    }
    views_[0] = {p, params.ElementLength()};
    views_[1] = {g, grads.ElementLength()};
    views_[2] = {st, state.ElementLength()};
    views_[3] = {r, rng.ElementLength()};
    refs_[0] = Napi::Persistent(params.As<Napi::Object>());
    refs_[1] = Napi::Persistent(grads.As<Napi::Object>());
    refs_[2] = Napi::Persistent(state.As<Napi::Object>());
    refs_[3] = Napi::Persistent(rng.As<Napi::Object>());
  }

  void Finish() { busy_ = false; }
  plan::Plan* engine() { return engine_.get(); }

 private:
  void CheckUsable(Napi::Env env, const char* what) {
    if (!engine_) throw Napi::Error::New(env, std::string("Cannot call ") + what + ": this training plan was disposed");
    if (busy_) {
      throw Napi::Error::New(env, std::string("Cannot call ") + what +
                                      " while runSteps is in flight on this training plan; await it first");
    }
    // The engine holds raw pointers into the four buffers: refuse to run if one was detached
    // (transferred) or its memory moved since the plan was made.
    static const char* const names[] = {"buffers.params", "buffers.grads", "buffers.state", "buffers.rngState"};
    for (int i = 0; i < 4; i++) {
      Napi::TypedArray t = refs_[i].Value().As<Napi::TypedArray>();
      void* data = nullptr;
      size_t length = 0;
      napi_get_typedarray_info(env, t, nullptr, &length, &data, nullptr, nullptr);
      if (data != views_[i].data || length != views_[i].length) {
        throw Napi::Error::New(env, std::string("Cannot call ") + what + ": " + names[i] +
                                        " was detached or resized after the plan was created; create a new plan");
      }
    }
  }

  Napi::Value RunSteps(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckUsable(env, "runSteps");
    if (info.Length() < 1) ThrowType(env, "runSteps expects (run)");
    Napi::Object run = GetObject(info[0], "run");
    const SpecDesc& spec = engine_->spec();
    StepArgs a;
    Napi::Float32Array x = GetF32(run.Get("x"), "run.x");
    Napi::Value yv = run.Get("y");
    const bool yLabels = IsTyped(yv, napi_int32_array);
    if (!yLabels && !IsTyped(yv, napi_float32_array)) {
      ThrowType(env, "Expected a Float32Array or Int32Array for run.y but received " + Describe(yv));
    }
    Napi::Int32Array order = GetTyped<int32_t>(run.Get("order"), napi_int32_array, "Int32Array", "run.order");
    Napi::Float32Array lr = GetF32(run.Get("lr"), "run.lr");
    Napi::Float32Array losses = GetF32(run.Get("losses"), "run.losses");
    a.rows = GetInt(run, "rows", "run.rows");
    a.start = GetInt(run, "start", "run.start");
    a.steps = GetInt(run, "steps", "run.steps");
    a.batchSize = GetInt(run, "batchSize", "run.batchSize");
    a.firstStep = GetInt(run, "firstStep", "run.firstStep");
    a.training = GetBool(run, "training", "run.training");
    a.x = x.Data();
    int64_t yLength;
    if (yLabels) {
      Napi::Int32Array y = yv.As<Napi::Int32Array>();
      a.yLabels = y.Data();
      yLength = int64_t(y.ElementLength());
    } else {
      Napi::Float32Array y = yv.As<Napi::Float32Array>();
      a.yFloat = y.Data();
      yLength = int64_t(y.ElementLength());
    }
    a.order = order.Data();
    a.orderLength = int64_t(order.ElementLength());
    a.lr = lr.Data();
    a.losses = losses.Data();
    const PlanError e = plan::ValidateRun(spec, a, int64_t(x.ElementLength()), yLength, yLabels,
                                          int64_t(lr.ElementLength()), int64_t(losses.ElementLength()));
    if (!e.ok()) Throw(env, e);
    auto* worker = new RunWorker(env, this, Value(), a);
    worker->Keep(x);
    worker->Keep(yv);
    worker->Keep(order);
    worker->Keep(lr);
    worker->Keep(losses);
    Napi::Promise promise = worker->Promise();
    busy_ = true;
    worker->Queue();
    return promise;
  }

  Napi::Value Forward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckUsable(env, "forward");
    if (info.Length() < 3) ThrowType(env, "forward expects (out, x, rows)");
    Napi::Float32Array out = GetF32(info[0], "out");
    Napi::Float32Array x = GetF32(info[1], "x");
    if (!info[2].IsNumber()) ThrowType(env, "Expected a number for rows but received " + Describe(info[2]));
    const double r = info[2].As<Napi::Number>().DoubleValue();
    const SpecDesc& spec = engine_->spec();
    if (!(r >= 0 && r <= double(spec.batchSize) && r == std::trunc(r))) {
      ThrowRange(env, "Expected an integer in [0, " + std::to_string(spec.batchSize) + "] (the plan's batch size) for rows but received " +
                          Describe(info[2]));
    }
    const int64_t rows = int64_t(r);
    if (int64_t(x.ElementLength()) < rows * spec.inFeatures) {
      ThrowRange(env, "Invalid x: expected at least " + std::to_string(rows * spec.inFeatures) + " values (rows x inFeatures) but received " +
                          std::to_string(x.ElementLength()));
    }
    if (int64_t(out.ElementLength()) < rows * spec.outFeatures) {
      ThrowRange(env, "Invalid out: expected at least " + std::to_string(rows * spec.outFeatures) + " values (rows x outFeatures) but received " +
                          std::to_string(out.ElementLength()));
    }
    engine_->Forward(out.Data(), x.Data(), rows);
    return env.Undefined();
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (busy_) throw Napi::Error::New(env, "Cannot dispose this training plan while runSteps is in flight; await it first");
    engine_.reset();
    for (auto& r : refs_) r.Reset();
    return env.Undefined();
  }

  Napi::Value Busy(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), busy_); }

  struct BufferView {
    void* data = nullptr;
    size_t length = 0;
  };
  std::unique_ptr<plan::Plan> engine_;
  Napi::ObjectReference refs_[4];
  BufferView views_[4];
  bool busy_ = false;
};

void RunWorker::Execute() { completed_ = owner_->engine()->RunSteps(args_); }

void RunWorker::OnOK() {
  owner_->Finish();
  deferred_.Resolve(Napi::Number::New(Env(), double(completed_)));
}

void RunWorker::OnError(const Napi::Error& e) {
  owner_->Finish();
  deferred_.Reject(e.Value());
}

Napi::Value PlanFastMath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3) ThrowType(env, "planFastMath expects (fn, out, x)");
  if (!info[0].IsNumber()) ThrowType(env, "Expected a number for fn but received " + Describe(info[0]));
  const double fn = info[0].As<Napi::Number>().DoubleValue();
  if (!(fn == 0 || fn == 1 || fn == 2)) ThrowRange(env, "Expected 0 (exp), 1 (sigmoid) or 2 (tanh) for fn but received " + Describe(info[0]));
  Napi::Float32Array out = GetF32(info[1], "out");
  Napi::Float32Array x = GetF32(info[2], "x");
  if (out.ElementLength() < x.ElementLength()) {
    ThrowRange(env, "Invalid out: expected at least " + std::to_string(x.ElementLength()) + " values (x's length) but received " +
                        std::to_string(out.ElementLength()));
  }
  plan::FastMathApply(int(fn), out.Data(), x.Data(), int64_t(x.ElementLength()));
  return env.Undefined();
}

}  // namespace

void RegisterPlan(Napi::Env env, Napi::Object exports) {
  exports.Set("FusedPlan", FusedPlan::Define(env));
  exports.Set("planFastMath", Napi::Function::New<PlanFastMath>(env, "planFastMath"));
}

}  // namespace blasnet
