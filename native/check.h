// Argument checking for N-API entry points: every native function checks the count and type of its
// arguments, dimensions, buffer lengths against shapes and scalar ranges before touching memory.
//
// Errors are C++ throws of Napi::TypeError (wrong type or argument count) or Napi::RangeError (bad
// value or length) that become JavaScript exceptions (NODE_ADDON_API_CPP_EXCEPTIONS). Every message
// names the function and the argument, what was expected and what arrived:
//   "Expected a Float32Array for argument 'a' of gemm but received a Float64Array of length 6"
//   "Argument 'c' of gemm has 10 values but m*n = 12"
// The passing path makes no allocation: typed arrays are read with one napi_get_typedarray_info
// call, strings are built only when throwing.
//
// Also here: the range predicates the checks take (Positive, NonNegative, ...), the overlap check
// of an output and an input buffer, and Register, which puts a table of entry points on the
// addon's exports (each binding file declares its table once, name beside function).
#pragma once
#include <napi.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <string>

#include "ops/kinds.h"

namespace blasnet {
namespace check {

// Largest element count (and dimension) accepted: BLAS takes 32-bit ints.
constexpr int64_t kMaxElements = 2147483647;

// A typed array argument: its data (honouring byteOffset) and element count.
template <typename T>
struct View {
  T* data;
  size_t length;
  const char* name;
};

// Byte ranges of the first `na` values of a and the first `nb` values of b overlap.
template <typename T, typename U>
bool Overlap(const View<T>& a, int64_t na, const View<U>& b, int64_t nb) {
  if (na == 0 || nb == 0) return false;
  const char* a0 = reinterpret_cast<const char*>(a.data);
  const char* b0 = reinterpret_cast<const char*>(b.data);
  return a0 < b0 + nb * int64_t(sizeof(U)) && b0 < a0 + na * int64_t(sizeof(T));
}

// A JavaScript rendering of a value for error messages: "a string (\"x\")", "a Float64Array of
// length 3", "an Array of length 2", "undefined", "a number (NaN)" ...
inline std::string Describe(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return "an unknown value";
  auto js_string = [&](napi_value x) -> std::string {
    napi_value s;
    size_t len = 0;
    if (napi_coerce_to_string(env, x, &s) != napi_ok) return "?";
    if (napi_get_value_string_utf8(env, s, nullptr, 0, &len) != napi_ok) return "?";
    std::string out(len, '\0');
    napi_get_value_string_utf8(env, s, &out[0], len + 1, &len);
    if (out.size() > 40) out = out.substr(0, 40) + "...";
    return out;
  };
  switch (t) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "a boolean (" + js_string(v) + ")";
    case napi_number: return "a number (" + js_string(v) + ")";
    case napi_string: return "a string (\"" + js_string(v) + "\")";
    case napi_symbol: return "a symbol";
    case napi_function: return "a function";
    case napi_external: return "an external";
    case napi_bigint: return "a bigint (" + js_string(v) + "n)";
    case napi_object: break;
  }
  bool is = false;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t length = 0;
    napi_get_typedarray_info(env, v, &type, &length, nullptr, nullptr, nullptr);
    const char* names[] = {"Int8Array",    "Uint8Array",   "Uint8ClampedArray", "Int16Array",
                           "Uint16Array",  "Int32Array",   "Uint32Array",       "Float32Array",
                           "Float64Array", "BigInt64Array", "BigUint64Array"};
    const char* name = unsigned(type) < sizeof names / sizeof names[0] ? names[type] : "typed array";
    return std::string("a ") + name + " of length " + std::to_string(length);
  }
  if (napi_is_array(env, v, &is) == napi_ok && is) {
    uint32_t length = 0;
    napi_get_array_length(env, v, &length);
    return "an Array of length " + std::to_string(length);
  }
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) return "an ArrayBuffer";
  if (napi_is_dataview(env, v, &is) == napi_ok && is) return "a DataView";
  return "an object";
}

// A number for messages, in JavaScript's own formatting (1.5, NaN, -Infinity, 1e+21).
inline std::string FormatNumber(napi_env env, double x) {
  napi_value v;
  if (napi_create_double(env, x, &v) != napi_ok) return std::to_string(x);
  napi_value s;
  size_t len = 0;
  if (napi_coerce_to_string(env, v, &s) != napi_ok) return std::to_string(x);
  napi_get_value_string_utf8(env, s, nullptr, 0, &len);
  std::string out(len, '\0');
  napi_get_value_string_utf8(env, s, &out[0], len + 1, &len);
  return out;
}

// Ranges for FiniteIn / ScalarIn.
inline bool Positive(double x) { return x > 0; }
inline bool NonNegative(double x) { return x >= 0; }
inline bool ZeroOrOne(double x) { return x == 0 || x == 1; }

// The arguments of one call of native function `fn`, with the checks that read them.
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* fn, size_t count) : info_(info), env_(info.Env()), fn_(fn) {
    if (info.Length() != count) {
      TypeError(std::string(fn) + " expects " + std::to_string(count) + " arguments but received " +
                std::to_string(info.Length()));
    }
  }

  [[noreturn]] void TypeError(const std::string& message) const { throw Napi::TypeError::New(env_, message); }
  [[noreturn]] void RangeError(const std::string& message) const { throw Napi::RangeError::New(env_, message); }

  // "argument 'a' of gemm"
  std::string Arg(const char* name) const { return std::string("argument '") + name + "' of " + fn_; }
  std::string ArgCap(const char* name) const { return std::string("Argument '") + name + "' of " + fn_; }

  [[noreturn]] void ExpectedType(size_t i, const char* name, const char* expected) const {
    TypeError(std::string("Expected ") + expected + " for " + Arg(name) + " but received " +
              Describe(env_, info_[i]));
  }

  template <typename T>
  View<T> Typed(size_t i, const char* name, napi_typedarray_type want, const char* expected) const {
    napi_value v = info_[i];
    bool is = false;
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    if (napi_is_typedarray(env_, v, &is) != napi_ok || !is ||
        napi_get_typedarray_info(env_, v, &type, &length, &data, nullptr, nullptr) != napi_ok || type != want) {
      ExpectedType(i, name, expected);
    }
    return View<T>{static_cast<T*>(data), length, name};
  }

  View<float> F32(size_t i, const char* name) const {
    return Typed<float>(i, name, napi_float32_array, "a Float32Array");
  }

  // A Float32Array or null (then data is nullptr). A detached array (its buffer transferred) reads
  // as no memory, which would pass for null and silently drop an optional output or the weights:
  // it is a RangeError instead.
  View<float> F32OrNull(size_t i, const char* name) const {
    napi_valuetype t;
    if (napi_typeof(env_, info_[i], &t) == napi_ok && t == napi_null) return View<float>{nullptr, 0, name};
    const View<float> v = Typed<float>(i, name, napi_float32_array, "a Float32Array or null");
    if (Detached(i)) RangeError(ArgCap(name) + " was detached (transferred); pass a live Float32Array or null");
    return v;
  }

  // Whether the typed array at argument i has had its buffer detached (transferred).
  bool Detached(size_t i) const {
    napi_value buffer = nullptr;
    bool detached = false;
    if (napi_get_typedarray_info(env_, info_[i], nullptr, nullptr, nullptr, &buffer, nullptr) != napi_ok || buffer == nullptr) return false;
    return napi_is_detached_arraybuffer(env_, buffer, &detached) == napi_ok && detached;
  }

  View<double> F64(size_t i, const char* name) const {
    return Typed<double>(i, name, napi_float64_array, "a Float64Array");
  }

  View<int32_t> I32(size_t i, const char* name) const {
    return Typed<int32_t>(i, name, napi_int32_array, "an Int32Array");
  }

  View<uint32_t> U32(size_t i, const char* name) const {
    return Typed<uint32_t>(i, name, napi_uint32_array, "a Uint32Array");
  }

  bool Bool(size_t i, const char* name) const {
    bool b = false;
    if (napi_get_value_bool(env_, info_[i], &b) != napi_ok) ExpectedType(i, name, "a boolean");
    return b;
  }

  double Number(size_t i, const char* name) const {
    double x = 0;
    if (napi_get_value_double(env_, info_[i], &x) != napi_ok) ExpectedType(i, name, "a number");
    return x;
  }

  // A finite number.
  double Finite(size_t i, const char* name) const {
    const double x = Number(i, name);
    if (!std::isfinite(x)) RangeError(ArgCap(name) + " must be a finite number but received " + Fmt(x));
    return x;
  }

  // A finite number in a range; `range` describes it for the message ("[0, 1)", ">= 0", "> 0").
  double FiniteIn(size_t i, const char* name, bool ok_fn(double), const char* range) const {
    const double x = Finite(i, name);
    if (!ok_fn(x)) RangeError(ArgCap(name) + " must be " + range + " but received " + Fmt(x));
    return x;
  }

  // A scalar: finite, and finite once rounded to float32. Returned as the double it is; kernels
  // that work in float round it themselves.
  double Scalar(size_t i, const char* name) const {
    const double x = Finite(i, name);
    if (std::fabs(x) > double(FLT_MAX)) RangeError(ArgCap(name) + " is " + Fmt(x) + ", outside the float32 range");
    return x;
  }

  // A scalar (as Scalar) in a range; `range` describes it for the message.
  double ScalarIn(size_t i, const char* name, bool ok_fn(double), const char* range) const {
    const double x = Scalar(i, name);
    if (!ok_fn(x)) RangeError(ArgCap(name) + " must be " + range + " but received " + Fmt(x));
    return x;
  }

  // A dimension: an integer in [0, 2^31-1].
  int64_t Dim(size_t i, const char* name) const {
    const double x = Number(i, name);
    if (!std::isfinite(x) || std::trunc(x) != x || x < 0) {
      RangeError(ArgCap(name) + " must be a non-negative integer but received " + Fmt(x));
    }
    if (x > double(kMaxElements)) {
      RangeError(ArgCap(name) + " is " + Fmt(x) + "; sizes above 2147483647 (2^31-1) are not supported");
    }
    return int64_t(x);
  }

  // An integer code from a kind list of ops/kinds.h; `what` names the kind ("activation code").
  // An unknown code is a RangeError listing the valid codes by name.
  template <size_t N>
  int Code(size_t i, const char* name, const KindEntry (&table)[N], const char* what) const {
    const double x = Number(i, name);
    if (!(std::trunc(x) == x && std::fabs(x) < 2147483648.0 && FindKind(table, int(x)) != nullptr)) {
      RangeError(std::string("Unknown ") + what + " " + Fmt(x) + " for " + Arg(name) + "; expected one of " +
                 CodeChoices(table));
    }
    return int(x);
  }

  // a*b as an element count, rejected above 2^31-1. Dimensions are already <= 2^31-1, so the
  // int64 product cannot overflow.
  int64_t Product(int64_t a, int64_t b, const char* expr) const {
    const int64_t p = a * b;
    if (p > kMaxElements) {
      RangeError(std::string(expr) + " = " + std::to_string(p) + " in " + fn_ +
                 " exceeds the limit of 2147483647 (2^31-1) elements");
    }
    return p;
  }

  // The buffer must hold at least `need` values (`expr` says where the need comes from: "m*n").
  template <typename T>
  void Length(const View<T>& v, int64_t need, const char* expr) const {
    if (int64_t(v.length) < need) {
      RangeError(ArgCap(v.name) + " has " + std::to_string(v.length) + " values but " + expr + " = " +
                 std::to_string(need));
    }
  }

  // Length for each of `views` in turn: all must hold at least `need` values (`expr`).
  template <typename... V>
  void Lengths(int64_t need, const char* expr, const V&... views) const {
    (Length(views, need, expr), ...);
  }

  // A position in buffer `v`: an integer in [lo, v.length] (`lo_expr` names lo in the message: "0",
  // "start"). Not capped at 2^31-1 as a dimension is: positions index whole datasets.
  template <typename T>
  int64_t Position(size_t i, const char* name, int64_t lo, const char* lo_expr, const View<T>& v) const {
    const double x = Number(i, name);
    if (!(std::isfinite(x) && std::trunc(x) == x && x >= double(lo))) {
      std::string bound = lo_expr;
      if (bound != std::to_string(lo)) bound += " (" + std::to_string(lo) + ")";
      RangeError(ArgCap(name) + " must be an integer >= " + bound + " but received " + Fmt(x));
    }
    if (x > double(v.length)) {
      RangeError(ArgCap(name) + " is " + Fmt(x) + ", past the end of argument '" + v.name + "' (" +
                 std::to_string(v.length) + " values)");
    }
    return int64_t(x);
  }

  // The first `n_out` values of `out` must not share memory with the first `n_in` of `in`.
  template <typename T, typename U>
  void NoOverlap(const View<T>& out, int64_t n_out, const View<U>& in, int64_t n_in) const {
    if (Overlap(out, n_out, in, n_in)) {
      RangeError(ArgCap(out.name) + " shares memory with argument '" + in.name + "'; expected separate buffers");
    }
  }

  std::string Fmt(double x) const { return FormatNumber(env_, x); }

 private:
  const Napi::CallbackInfo& info_;
  Napi::Env env_;
  const char* fn_;
};

// One entry point: the name it has on the addon's exports, and its function.
struct Entry {
  const char* name;
  Napi::Value (*fn)(const Napi::CallbackInfo&);
};

// Put every entry of `entries` on `exports` under its name.
template <size_t N>
void Register(Napi::Env env, Napi::Object exports, const Entry (&entries)[N]) {
  for (const Entry& e : entries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
}

}  // namespace check
}  // namespace blasnet
