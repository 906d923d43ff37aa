// N-API entry points of the convolution, pooling and normalization kernels: unpack, check, call.
//
// Same pattern as kernel_binding.cc (check.h's Args): every argument is checked before any memory
// is touched, and each failure is a TypeError or RangeError naming the function and the argument.
// The geometry argument `g` is a Window2d object (lib/ops/window.ts); it is read FIRST, because
// reading its properties can run JavaScript (getters, proxies) that could detach a buffer: the
// typed arrays are looked up only afterwards, so their data pointers stay valid for the call.
// Geometry rules: WindowFrom below; the math: ops/conv.h, ops/pool.h, ops/norm.h via kernels.cc.
#include <cmath>
#include <string>

#include "check.h"
#include "kernels.h"

namespace blasnet {
namespace {

using check::Args;
using check::View;
using check::kMaxElements;

// Byte ranges of the first na values of a and the first nb values of b overlap.
template <typename T, typename U>
bool Overlap(const View<T>& a, int64_t na, const View<U>& b, int64_t nb) {
  if (na == 0 || nb == 0) return false;
  const char* a0 = reinterpret_cast<const char*>(a.data);
  const char* b0 = reinterpret_cast<const char*>(b.data);
  return a0 < b0 + nb * int64_t(sizeof(U)) && b0 < a0 + na * int64_t(sizeof(T));
}

template <typename T, typename U>
void NoOverlap(const Args& args, const char* fn, const View<T>& out, int64_t n_out, const View<U>& in, int64_t n_in) {
  if (Overlap(out, n_out, in, n_in)) {
    args.RangeError(std::string("Argument '") + out.name + "' of " + fn + " shares memory with argument '" + in.name +
                    "'; expected separate buffers");
  }
}

// One integer field of the window object: an integer in [lo, 2^31-1].
int WindowField(const Args& args, const Napi::Object& o, const char* field, int lo) {
  const Napi::Value v = o.Get(field);
  if (!v.IsNumber()) {
    args.TypeError(std::string("Expected a number for g.") + field + " in " + args.Arg("g") + " but received " +
                   check::Describe(o.Env(), v));
  }
  const double x = v.As<Napi::Number>().DoubleValue();
  if (!(std::isfinite(x) && std::trunc(x) == x && x >= lo && x <= double(kMaxElements))) {
    args.RangeError(args.ArgCap("g") + " has " + field + " = " + args.Fmt(x) + "; expected an integer in [" +
                    std::to_string(lo) + ", 2147483647]");
  }
  return int(x);
}

// One axis of the window: out must be PyTorch's output size for some end padding in
// [0, max(pad, reach)] (ops::OutputSizeRange), and the farthest position a window reaches,
// (out-1)*stride + reach, must fit in an int (so that no index computation can overflow).
void CheckAxis(const Args& args, bool h, int64_t size, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation,
               int64_t out) {
  const std::string out_name = h ? "outH" : "outW";
  const int64_t reach = dilation * (kernel - 1);
  const int64_t extent = (out - 1) * stride + reach;
  if (extent > kMaxElements) {
    args.RangeError(args.ArgCap("g") + " reaches too far: (" + out_name + "-1)*" + (h ? "strideH" : "strideW") + " + " +
                    (h ? "dilationH*(kernelH-1)" : "dilationW*(kernelW-1)") + " = " + std::to_string(extent) +
                    " exceeds 2147483647");
  }
  int64_t lo = 0, hi = 0;
  ops::OutputSizeRange(size, kernel, stride, pad, dilation, &lo, &hi);
  if (out < lo || out > hi) {
    const std::string range = hi < 1 ? std::string("none (the window does not fit)")
                              : lo >= hi ? std::to_string(hi)
                                         : std::to_string(lo < 1 ? 1 : lo) + ".." + std::to_string(hi);
    args.RangeError(args.ArgCap("g") + " has " + out_name + " = " + std::to_string(out) + " but " +
                    (h ? "height " : "width ") + std::to_string(size) + ", kernel " + std::to_string(kernel) +
                    ", stride " + std::to_string(stride) + ", padding " + std::to_string(pad) + " and dilation " +
                    std::to_string(dilation) + " give " + range + " (for end padding 0.." +
                    std::to_string(pad > reach ? pad : reach) + ")");
  }
}

// The Window2d object at argument i, checked: channels, height, width, kernel, stride, dilation
// and output sizes positive integers, padding non-negative integers, output sizes consistent.
ops::Window2d WindowFrom(const Args& args, const Napi::CallbackInfo& info, size_t i) {
  const Napi::Value v = info[i];
  if (!v.IsObject() || v.IsArray() || v.IsTypedArray() || v.IsFunction()) {
    args.TypeError("Expected a Window2d object for " + args.Arg("g") + " but received " +
                   check::Describe(info.Env(), v));
  }
  const Napi::Object o = v.As<Napi::Object>();
  ops::Window2d g;
  g.channels = WindowField(args, o, "channels", 1);
  g.height = WindowField(args, o, "height", 1);
  g.width = WindowField(args, o, "width", 1);
  g.kernelH = WindowField(args, o, "kernelH", 1);
  g.kernelW = WindowField(args, o, "kernelW", 1);
  g.strideH = WindowField(args, o, "strideH", 1);
  g.strideW = WindowField(args, o, "strideW", 1);
  g.padTop = WindowField(args, o, "padTop", 0);
  g.padLeft = WindowField(args, o, "padLeft", 0);
  g.dilationH = WindowField(args, o, "dilationH", 1);
  g.dilationW = WindowField(args, o, "dilationW", 1);
  g.outH = WindowField(args, o, "outH", 1);
  g.outW = WindowField(args, o, "outW", 1);
  CheckAxis(args, true, g.height, g.kernelH, g.strideH, g.padTop, g.dilationH, g.outH);
  CheckAxis(args, false, g.width, g.kernelW, g.strideW, g.padLeft, g.dilationW, g.outW);
  return g;
}

// Element counts of a windowed call, each checked against 2^31-1.
struct WindowCounts {
  int64_t in;    // rows*C*H*W
  int64_t out;   // rows*C*outH*outW
  int64_t cols;  // C*kH*kW * rows*outH*outW (im2col / col2im only)
};

WindowCounts Counts(const Args& args, int64_t rows, const ops::Window2d& g, bool with_cols) {
  WindowCounts n{};
  const int64_t plane = args.Product(g.height, g.width, "g.height*g.width");
  n.in = args.Product(args.Product(rows, g.channels, "rows*g.channels"), plane, "rows*C*H*W");
  const int64_t out_plane = args.Product(g.outH, g.outW, "g.outH*g.outW");
  n.out = args.Product(args.Product(rows, g.channels, "rows*g.channels"), out_plane, "rows*C*outH*outW");
  if (with_cols) {
    const int64_t k = args.Product(args.Product(g.channels, g.kernelH, "C*kH"), g.kernelW, "C*kH*kW");
    n.cols = args.Product(k, args.Product(rows, out_plane, "rows*outH*outW"), "C*kH*kW*rows*outH*outW");
  }
  return n;
}

Napi::Value Im2col(const Napi::CallbackInfo& info) {
  Args args(info, "im2col", 4);
  const ops::Window2d g = WindowFrom(args, info, 3);
  const View<float> cols = args.F32(0, "cols");
  const View<float> x = args.F32(1, "x");
  const int64_t rows = args.Dim(2, "rows");
  const WindowCounts n = Counts(args, rows, g, true);
  args.Length(cols, n.cols, "C*kH*kW*rows*outH*outW");
  args.Length(x, n.in, "rows*C*H*W");
  NoOverlap(args, "im2col", cols, n.cols, x, n.in);
  im2col(cols.data, x.data, int(rows), g);
  return info.Env().Undefined();
}

Napi::Value Col2im(const Napi::CallbackInfo& info) {
  Args args(info, "col2im", 4);
  const ops::Window2d g = WindowFrom(args, info, 3);
  const View<float> dx = args.F32(0, "dx");
  const View<float> cols = args.F32(1, "cols");
  const int64_t rows = args.Dim(2, "rows");
  const WindowCounts n = Counts(args, rows, g, true);
  args.Length(dx, n.in, "rows*C*H*W");
  args.Length(cols, n.cols, "C*kH*kW*rows*outH*outW");
  NoOverlap(args, "col2im", dx, n.in, cols, n.cols);
  col2im(dx.data, cols.data, int(rows), g);
  return info.Env().Undefined();
}

Napi::Value SwapAxes01(const Napi::CallbackInfo& info) {
  Args args(info, "swapAxes01", 5);
  const View<float> out = args.F32(0, "out");
  const View<float> x = args.F32(1, "x");
  const int64_t a = args.Dim(2, "a");
  const int64_t b = args.Dim(3, "b");
  const int64_t c = args.Dim(4, "c");
  const int64_t n = args.Product(args.Product(a, b, "a*b"), c, "a*b*c");
  args.Length(out, n, "a*b*c");
  args.Length(x, n, "a*b*c");
  NoOverlap(args, "swapAxes01", out, n, x, n);
  swap_axes01(out.data, x.data, a, b, c);
  return info.Env().Undefined();
}

// rows, channels, spatial at arguments i, i+1, i+2; returns rows*channels*spatial.
int64_t ChannelCounts(const Args& args, size_t i, int64_t* rows, int64_t* channels, int64_t* spatial) {
  *rows = args.Dim(i, "rows");
  *channels = args.Dim(i + 1, "channels");
  *spatial = args.Dim(i + 2, "spatial");
  return args.Product(args.Product(*rows, *channels, "rows*channels"), *spatial, "rows*channels*spatial");
}

Napi::Value ChannelBiasAdd(const Napi::CallbackInfo& info) {
  Args args(info, "channelBiasAdd", 5);
  const View<float> y = args.F32(0, "y");
  const View<float> bias = args.F32(1, "bias");
  int64_t rows, channels, spatial;
  const int64_t n = ChannelCounts(args, 2, &rows, &channels, &spatial);
  args.Length(y, n, "rows*channels*spatial");
  args.Length(bias, channels, "channels");
  channel_bias_add(y.data, bias.data, int(rows), int(channels), spatial);
  return info.Env().Undefined();
}

Napi::Value ChannelBiasGrad(const Napi::CallbackInfo& info) {
  Args args(info, "channelBiasGrad", 5);
  const View<float> db = args.F32(0, "db");
  const View<float> dy = args.F32(1, "dy");
  int64_t rows, channels, spatial;
  const int64_t n = ChannelCounts(args, 2, &rows, &channels, &spatial);
  args.Length(db, channels, "channels");
  args.Length(dy, n, "rows*channels*spatial");
  channel_bias_grad(db.data, dy.data, int(rows), int(channels), spatial);
  return info.Env().Undefined();
}

Napi::Value Add(const Napi::CallbackInfo& info) {
  Args args(info, "add", 4);
  const View<float> out = args.F32(0, "out");
  const View<float> a = args.F32(1, "a");
  const View<float> b = args.F32(2, "b");
  const int64_t n = args.Dim(3, "n");
  args.Length(out, n, "n");
  args.Length(a, n, "n");
  args.Length(b, n, "n");
  add(out.data, a.data, b.data, n);
  return info.Env().Undefined();
}

Napi::Value MaxPool2dForward(const Napi::CallbackInfo& info) {
  Args args(info, "maxPool2dForward", 5);
  const ops::Window2d g = WindowFrom(args, info, 4);
  const View<float> y = args.F32(0, "y");
  const View<int32_t> argmax = args.I32(1, "argmax");
  const View<float> x = args.F32(2, "x");
  const int64_t rows = args.Dim(3, "rows");
  const WindowCounts n = Counts(args, rows, g, false);
  args.Length(y, n.out, "rows*C*outH*outW");
  args.Length(argmax, n.out, "rows*C*outH*outW");
  args.Length(x, n.in, "rows*C*H*W");
  NoOverlap(args, "maxPool2dForward", y, n.out, x, n.in);
  NoOverlap(args, "maxPool2dForward", argmax, n.out, x, n.in);
  NoOverlap(args, "maxPool2dForward", argmax, n.out, y, n.out);
  max_pool2d_forward(y.data, argmax.data, x.data, int(rows), g);
  return info.Env().Undefined();
}

Napi::Value MaxPool2dBackward(const Napi::CallbackInfo& info) {
  Args args(info, "maxPool2dBackward", 5);
  const ops::Window2d g = WindowFrom(args, info, 4);
  const View<float> dx = args.F32(0, "dx");
  const View<float> dy = args.F32(1, "dy");
  const View<int32_t> argmax = args.I32(2, "argmax");
  const int64_t rows = args.Dim(3, "rows");
  const WindowCounts n = Counts(args, rows, g, false);
  args.Length(dx, n.in, "rows*C*H*W");
  args.Length(dy, n.out, "rows*C*outH*outW");
  args.Length(argmax, n.out, "rows*C*outH*outW");
  // dx is zeroed first: it must not alias the indices it is about to be written through.
  NoOverlap(args, "maxPool2dBackward", dx, n.in, argmax, n.out);
  NoOverlap(args, "maxPool2dBackward", dx, n.in, dy, n.out);
  const int64_t plane = int64_t(g.height) * g.width;
  for (int64_t k = 0; k < n.out; k++) {
    const int32_t a = argmax.data[k];
    if (a < -1 || a >= plane) {
      args.RangeError("Argument 'argmax' of maxPool2dBackward has " + std::to_string(a) + " at [" + std::to_string(k) +
                      "]; expected -1 or an index in [0, " + std::to_string(plane) + ") (g.height*g.width)");
    }
  }
  max_pool2d_backward(dx.data, dy.data, argmax.data, int(rows), g);
  return info.Env().Undefined();
}

Napi::Value AvgPool2dForward(const Napi::CallbackInfo& info) {
  Args args(info, "avgPool2dForward", 4);
  const ops::Window2d g = WindowFrom(args, info, 3);
  const View<float> y = args.F32(0, "y");
  const View<float> x = args.F32(1, "x");
  const int64_t rows = args.Dim(2, "rows");
  const WindowCounts n = Counts(args, rows, g, false);
  args.Length(y, n.out, "rows*C*outH*outW");
  args.Length(x, n.in, "rows*C*H*W");
  NoOverlap(args, "avgPool2dForward", y, n.out, x, n.in);
  avg_pool2d_forward(y.data, x.data, int(rows), g);
  return info.Env().Undefined();
}

Napi::Value AvgPool2dBackward(const Napi::CallbackInfo& info) {
  Args args(info, "avgPool2dBackward", 4);
  const ops::Window2d g = WindowFrom(args, info, 3);
  const View<float> dx = args.F32(0, "dx");
  const View<float> dy = args.F32(1, "dy");
  const int64_t rows = args.Dim(2, "rows");
  const WindowCounts n = Counts(args, rows, g, false);
  args.Length(dx, n.in, "rows*C*H*W");
  args.Length(dy, n.out, "rows*C*outH*outW");
  NoOverlap(args, "avgPool2dBackward", dx, n.in, dy, n.out);
  avg_pool2d_backward(dx.data, dy.data, int(rows), g);
  return info.Env().Undefined();
}

bool NonNegative(double x) { return x >= 0; }

Napi::Value BatchNormStats(const Napi::CallbackInfo& info) {
  Args args(info, "batchNormStats", 6);
  const View<float> mean = args.F32(0, "mean");
  const View<float> variance = args.F32(1, "variance");
  const View<float> x = args.F32(2, "x");
  int64_t rows, channels, spatial;
  const int64_t n = ChannelCounts(args, 3, &rows, &channels, &spatial);
  args.Length(mean, channels, "channels");
  args.Length(variance, channels, "channels");
  args.Length(x, n, "rows*channels*spatial");
  batch_norm_stats(mean.data, variance.data, x.data, int(rows), int(channels), spatial);
  return info.Env().Undefined();
}

Napi::Value BatchNormForward(const Napi::CallbackInfo& info) {
  Args args(info, "batchNormForward", 10);
  const View<float> y = args.F32(0, "y");
  const View<float> x = args.F32(1, "x");
  const View<float> mean = args.F32(2, "mean");
  const View<float> variance = args.F32(3, "variance");
  const View<float> gamma = args.F32(4, "gamma");
  const View<float> beta = args.F32(5, "beta");
  int64_t rows, channels, spatial;
  const int64_t n = ChannelCounts(args, 6, &rows, &channels, &spatial);
  const double eps = args.FiniteIn(9, "eps", NonNegative, ">= 0");
  args.Length(y, n, "rows*channels*spatial");
  args.Length(x, n, "rows*channels*spatial");
  for (const View<float>* v : {&mean, &variance, &gamma, &beta}) args.Length(*v, channels, "channels");
  batch_norm_forward(y.data, x.data, mean.data, variance.data, gamma.data, beta.data, int(rows), int(channels), spatial,
                     eps);
  return info.Env().Undefined();
}

Napi::Value BatchNormBackward(const Napi::CallbackInfo& info) {
  Args args(info, "batchNormBackward", 13);
  const View<float> dx = args.F32OrNull(0, "dx");
  const View<float> dgamma = args.F32(1, "dgamma");
  const View<float> dbeta = args.F32(2, "dbeta");
  const View<float> dy = args.F32(3, "dy");
  const View<float> x = args.F32(4, "x");
  const View<float> mean = args.F32(5, "mean");
  const View<float> variance = args.F32(6, "variance");
  const View<float> gamma = args.F32(7, "gamma");
  int64_t rows, channels, spatial;
  const int64_t n = ChannelCounts(args, 8, &rows, &channels, &spatial);
  const double eps = args.FiniteIn(11, "eps", NonNegative, ">= 0");
  const bool batch_stats = args.Bool(12, "batchStats");
  if (dx.data) args.Length(dx, n, "rows*channels*spatial");
  args.Length(dy, n, "rows*channels*spatial");
  args.Length(x, n, "rows*channels*spatial");
  for (const View<float>* v : {&dgamma, &dbeta, &mean, &variance, &gamma}) args.Length(*v, channels, "channels");
  batch_norm_backward(dx.data, dgamma.data, dbeta.data, dy.data, x.data, mean.data, variance.data, gamma.data, int(rows),
                      int(channels), spatial, eps, batch_stats);
  return info.Env().Undefined();
}

Napi::Value LayerNormForward(const Napi::CallbackInfo& info) {
  Args args(info, "layerNormForward", 9);
  const View<float> y = args.F32(0, "y");
  const View<float> mean = args.F32(1, "mean");
  const View<float> inv_std = args.F32(2, "invStd");
  const View<float> x = args.F32(3, "x");
  const View<float> gamma = args.F32(4, "gamma");
  const View<float> beta = args.F32(5, "beta");
  const int64_t groups = args.Dim(6, "groups");
  const int64_t size = args.Dim(7, "size");
  const double eps = args.FiniteIn(8, "eps", NonNegative, ">= 0");
  const int64_t n = args.Product(groups, size, "groups*size");
  args.Length(y, n, "groups*size");
  args.Length(mean, groups, "groups");
  args.Length(inv_std, groups, "groups");
  args.Length(x, n, "groups*size");
  args.Length(gamma, size, "size");
  args.Length(beta, size, "size");
  layer_norm_forward(y.data, mean.data, inv_std.data, x.data, gamma.data, beta.data, int(groups), size, eps);
  return info.Env().Undefined();
}

Napi::Value LayerNormBackward(const Napi::CallbackInfo& info) {
  Args args(info, "layerNormBackward", 10);
  const View<float> dx = args.F32OrNull(0, "dx");
  const View<float> dgamma = args.F32(1, "dgamma");
  const View<float> dbeta = args.F32(2, "dbeta");
  const View<float> dy = args.F32(3, "dy");
  const View<float> x = args.F32(4, "x");
  const View<float> mean = args.F32(5, "mean");
  const View<float> inv_std = args.F32(6, "invStd");
  const View<float> gamma = args.F32(7, "gamma");
  const int64_t groups = args.Dim(8, "groups");
  const int64_t size = args.Dim(9, "size");
  const int64_t n = args.Product(groups, size, "groups*size");
  if (dx.data) args.Length(dx, n, "groups*size");
  args.Length(dgamma, size, "size");
  args.Length(dbeta, size, "size");
  args.Length(dy, n, "groups*size");
  args.Length(x, n, "groups*size");
  args.Length(mean, groups, "groups");
  args.Length(inv_std, groups, "groups");
  args.Length(gamma, size, "size");
  layer_norm_backward(dx.data, dgamma.data, dbeta.data, dy.data, x.data, mean.data, inv_std.data, gamma.data, int(groups),
                      size);
  return info.Env().Undefined();
}

}  // namespace

// Registered by RegisterKernels (kernel_binding.cc) on the same exports object.
void RegisterConvKernels(Napi::Env env, Napi::Object exports) {
  struct Entry {
    const char* name;
    Napi::Value (*fn)(const Napi::CallbackInfo&);
  };
  const Entry entries[] = {
      {"add", Add},
      {"im2col", Im2col},
      {"col2im", Col2im},
      {"swapAxes01", SwapAxes01},
      {"channelBiasAdd", ChannelBiasAdd},
      {"channelBiasGrad", ChannelBiasGrad},
      {"maxPool2dForward", MaxPool2dForward},
      {"maxPool2dBackward", MaxPool2dBackward},
      {"avgPool2dForward", AvgPool2dForward},
      {"avgPool2dBackward", AvgPool2dBackward},
      {"batchNormStats", BatchNormStats},
      {"batchNormForward", BatchNormForward},
      {"batchNormBackward", BatchNormBackward},
      {"layerNormForward", LayerNormForward},
      {"layerNormBackward", LayerNormBackward},
  };
  for (const Entry& e : entries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
}

}  // namespace blasnet
