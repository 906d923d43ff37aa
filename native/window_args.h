// Reading the geometry argument `g` of the convolution and pooling entry points (conv_binding.cc):
// a Window2d object (lib/ops/window.ts) whose fields are checked one by one, then per axis against
// the input size (the output size must be PyTorch's for some end padding), and the element counts
// a call with that geometry touches, each checked against 2^31-1. Failures are TypeErrors or
// RangeErrors naming the function, `g` and the field (check.h).
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "check.h"
#include "kernels.h"

namespace blasnet {
namespace check {

// One integer field of the window object: an integer in [lo, 2^31-1].
inline int WindowField(const Args& args, const Napi::Object& o, const char* field, int lo) {
  const Napi::Value v = o.Get(field);
  if (!v.IsNumber()) {
    args.TypeError(std::string("Expected a number for g.") + field + " in " + args.Arg("g") + " but received " +
                   Describe(o.Env(), v));
  }
  const double x = v.As<Napi::Number>().DoubleValue();
  if (!(std::isfinite(x) && std::trunc(x) == x && x >= lo && x <= double(kMaxElements))) {
    args.RangeError(args.ArgCap("g") + " has " + field + " = " + args.Fmt(x) + "; expected an integer in [" +
                    std::to_string(lo) + ", 2147483647]");
  }
  return int(x);
}

// The fields of one axis in the Window2d object (also what the messages call them).
struct AxisNames {
  const char* size;  // "height" / "width"
  const char* kernel;
  const char* stride;
  const char* pad;  // "padTop" / "padLeft"
  const char* dilation;
  const char* out;
};
constexpr AxisNames kAxisH{"height", "kernelH", "strideH", "padTop", "dilationH", "outH"};
constexpr AxisNames kAxisW{"width", "kernelW", "strideW", "padLeft", "dilationW", "outW"};

// One axis of the window, read and checked: size, kernel, stride, dilation and out positive integers,
// pad a non-negative one; out must be PyTorch's output size for some end padding in
// [0, max(pad, reach)] (ops::OutputSizeRange), and the farthest position a window reaches,
// (out-1)*stride + reach, must fit in an int (so that no index computation can overflow).
inline void ReadAxis(const Args& args, const Napi::Object& o, const AxisNames& a, int& size, int& kernel, int& stride, int& pad,
                     int& dilation, int& out) {
  size = WindowField(args, o, a.size, 1);
  kernel = WindowField(args, o, a.kernel, 1);
  stride = WindowField(args, o, a.stride, 1);
  pad = WindowField(args, o, a.pad, 0);
  dilation = WindowField(args, o, a.dilation, 1);
  out = WindowField(args, o, a.out, 1);
  const int64_t reach = int64_t(dilation) * (kernel - 1);
  const int64_t extent = int64_t(out - 1) * stride + reach;
  if (extent > kMaxElements) {
    args.RangeError(args.ArgCap("g") + " reaches too far: (" + a.out + "-1)*" + a.stride + " + " + a.dilation + "*(" + a.kernel +
                    "-1) = " + std::to_string(extent) + " exceeds 2147483647");
  }
  int64_t lo = 0, hi = 0;
  ops::OutputSizeRange(size, kernel, stride, pad, dilation, &lo, &hi);
  if (out < lo || out > hi) {
    const std::string range = hi < 1 ? std::string("none (the window does not fit)")
                              : lo >= hi ? std::to_string(hi)
                                         : std::to_string(lo < 1 ? 1 : lo) + ".." + std::to_string(hi);
    args.RangeError(args.ArgCap("g") + " has " + a.out + " = " + std::to_string(out) + " but " + a.size + " " + std::to_string(size) +
                    ", kernel " + std::to_string(kernel) + ", stride " + std::to_string(stride) + ", padding " + std::to_string(pad) +
                    " and dilation " + std::to_string(dilation) + " give " + range + " (for end padding 0.." +
                    std::to_string(pad > reach ? pad : reach) + ")");
  }
}

// The Window2d object at argument i, checked: channels a positive integer, then each axis (ReadAxis).
inline ops::Window2d WindowFrom(const Args& args, const Napi::CallbackInfo& info, size_t i) {
  const Napi::Value v = info[i];
  if (!v.IsObject() || v.IsArray() || v.IsTypedArray() || v.IsFunction()) {
    args.TypeError("Expected a Window2d object for " + args.Arg("g") + " but received " +
                   Describe(info.Env(), v));
  }
  const Napi::Object o = v.As<Napi::Object>();
  ops::Window2d g;
  g.channels = WindowField(args, o, "channels", 1);
  ReadAxis(args, o, kAxisH, g.height, g.kernelH, g.strideH, g.padTop, g.dilationH, g.outH);
  ReadAxis(args, o, kAxisW, g.width, g.kernelW, g.strideW, g.padLeft, g.dilationW, g.outW);
  return g;
}

// Element counts of a windowed call, each checked against 2^31-1.
struct WindowCounts {
  int64_t in;    // rows*C*H*W
  int64_t out;   // rows*C*outH*outW
  int64_t cols;  // C*kH*kW * rows*outH*outW (im2col / col2im only)
};

inline WindowCounts Counts(const Args& args, int64_t rows, const ops::Window2d& g, bool with_cols) {
  WindowCounts n{};
  const int64_t rows_c = args.Product(rows, g.channels, "rows*g.channels");
  n.in = args.Product(rows_c, args.Product(g.height, g.width, "g.height*g.width"), "rows*C*H*W");
  const int64_t out_plane = args.Product(g.outH, g.outW, "g.outH*g.outW");
  n.out = args.Product(rows_c, out_plane, "rows*C*outH*outW");
  if (with_cols) {
    const int64_t k = args.Product(args.Product(g.channels, g.kernelH, "C*kH"), g.kernelW, "C*kH*kW");
    n.cols = args.Product(k, args.Product(rows, out_plane, "rows*outH*outW"), "C*kH*kW*rows*outH*outW");
  }
  return n;
}

}  // namespace check
}  // namespace blasnet
