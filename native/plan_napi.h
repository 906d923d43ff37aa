// Shared by the fused plan's N-API files (plan_binding.cc, plan_spec.cc): throwing helpers,
// property readers whose errors name the field ("Expected a number for spec.batchSize but received
// ..."), and the plan's view of a JavaScript typed array (ViewState, PlanBuffer: see
// plan_binding.cc for why the worker touches only memory JavaScript cannot free or move).
#pragma once
#include <napi.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "check.h"
#include "ops/kinds.h"
#include "plan.h"

namespace blasnet {
namespace planbind {

using plan::PlanError;

[[noreturn]] inline void ThrowType(Napi::Env env, const std::string& m) { throw Napi::TypeError::New(env, m); }
[[noreturn]] inline void ThrowRange(Napi::Env env, const std::string& m) { throw Napi::RangeError::New(env, m); }
[[noreturn]] inline void Throw(Napi::Env env, const PlanError& e) {
  if (e.range) ThrowRange(env, e.message);
  ThrowType(env, e.message);
}

inline std::string Describe(Napi::Value v) { return check::Describe(v.Env(), v); }

inline Napi::Object GetObject(Napi::Value v, const std::string& name) {
  if (!v.IsObject() || v.IsArray() || v.IsTypedArray()) ThrowType(v.Env(), "Expected an object for " + name + " but received " + Describe(v));
  return v.As<Napi::Object>();
}

inline double GetNumber(Napi::Object o, const char* key, const std::string& name) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) ThrowType(o.Env(), "Expected a number for " + name + " but received " + Describe(v));
  return v.As<Napi::Number>().DoubleValue();
}

inline int64_t GetInt(Napi::Object o, const char* key, const std::string& name) {
  const double d = GetNumber(o, key, name);
  if (!std::isfinite(d) || d != std::trunc(d) || std::fabs(d) > 9007199254740991.0) {
    ThrowRange(o.Env(), "Expected an integer for " + name + " but received " + Describe(o.Get(key)));
  }
  return int64_t(d);
}

inline bool GetBool(Napi::Object o, const char* key, const std::string& name) {
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) ThrowType(o.Env(), "Expected a boolean for " + name + " but received " + Describe(v));
  return v.As<Napi::Boolean>().Value();
}

inline std::string GetString(Napi::Object o, const char* key, const std::string& name) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) ThrowType(o.Env(), "Expected a string for " + name + " but received " + Describe(v));
  return v.As<Napi::String>().Utf8Value();
}

inline bool IsTyped(Napi::Value v, napi_typedarray_type type) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == type;
}

template <typename T>
inline Napi::TypedArrayOf<T> GetTyped(Napi::Value v, napi_typedarray_type type, const char* typeName, const std::string& name) {
  if (!IsTyped(v, type)) ThrowType(v.Env(), std::string("Expected a ") + typeName + " for " + name + " but received " + Describe(v));
  return v.As<Napi::TypedArrayOf<T>>();
}

inline Napi::Float32Array GetF32(Napi::Value v, const std::string& name) {
  return GetTyped<float>(v, napi_float32_array, "Float32Array", name);
}

// The code of the kind named `value` in a kind list of ops/kinds.h; a TypeError listing the names otherwise.
template <size_t N>
inline int KindByName(Napi::Env env, const std::string& value, const KindEntry (&table)[N], const std::string& name) {
  const KindEntry* e = FindKind(table, value);
  if (!e) ThrowType(env, "Expected one of " + NameChoices(table) + " for " + name + " but received \"" + value + "\"");
  return e->code;
}

// A typed array's memory and element count now (nullptr and 0 once its buffer was detached).
// Read fresh wherever JavaScript may have run since: Napi::TypedArray caches both.
struct ViewState {
  void* data = nullptr;
  size_t length = 0;
};

inline ViewState StateOf(Napi::Env env, Napi::Value view) {
  ViewState s;
  napi_get_typedarray_info(env, view, nullptr, &s.length, &s.data, nullptr, nullptr);
  return s;
}

// Whether a typed array's buffer is a SharedArrayBuffer. napi_is_arraybuffer asks the engine (it
// is false for a SharedArrayBuffer), so no prototype change can pass a plain buffer off as shared.
inline bool IsSharedView(Napi::Env env, Napi::Value view) {
  napi_value buffer = nullptr;
  bool plain = true;
  if (napi_get_typedarray_info(env, view, nullptr, nullptr, nullptr, &buffer, nullptr) != napi_ok || buffer == nullptr) return false;
  if (napi_is_arraybuffer(env, buffer, &plain) != napi_ok) return false;
  return !plain;
}

// One of the plan's four buffers: its JavaScript view, what the view was when the plan was made,
// and where the engine works: in the view's memory when it is shared, else in a mirror the plan
// owns (see the file comment).
struct PlanBuffer {
  const char* name = "";
  Napi::ObjectReference ref;
  ViewState made;
  size_t bytes = 0;
  bool shared = false;
  std::unique_ptr<char[]> mirror;

  void Init(Napi::Env env, const char* n, Napi::Value view, size_t elementBytes) {
    name = n;
    made = StateOf(env, view);
    bytes = made.length * elementBytes;
    shared = IsSharedView(env, view);
    if (!shared && bytes > 0) {
      mirror.reset(new char[bytes]);
      std::memcpy(mirror.get(), made.data, bytes);
    }
    ref = Napi::Persistent(view.As<Napi::Object>());
  }
  void* engine() const { return shared ? made.data : mirror.get(); }
  // Still the array the plan was made with (not detached, resized or moved).
  bool Intact(Napi::Env env) const {
    const ViewState now = StateOf(env, ref.Value());
    return now.data == made.data && now.length == made.length;
  }
  // Mirror <- view and view <- mirror; only while Intact.
  void CopyIn() const {
    if (!shared && bytes > 0) std::memcpy(mirror.get(), made.data, bytes);
  }
  void CopyOut() const {
    if (!shared && bytes > 0) std::memcpy(made.data, mirror.get(), bytes);
  }
  void Reset() {
    ref.Reset();
    mirror.reset();
  }
};

/// The spec object of `new FusedPlan(spec, buffers)`, read into a SpecDesc (plan_spec.cc). Types and
/// kind names are checked here; values and sizes by plan::ValidateSpec.
plan::SpecDesc ParseSpec(Napi::Value specValue);

}  // namespace planbind
}  // namespace blasnet
