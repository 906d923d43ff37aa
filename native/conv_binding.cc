// N-API entry points of the convolution, pooling and normalization kernels: unpack, check, call.
//
// Same pattern as kernel_binding.cc (check.h's Args): every argument is checked before any memory
// is touched, and each failure is a TypeError or RangeError naming the function and the argument.
// The geometry argument `g` is a Window2d object (lib/ops/window.ts); it is read FIRST, because
// reading its properties can run JavaScript (getters, proxies) that could detach a buffer: the
// typed arrays are looked up only afterwards, so their data pointers stay valid for the call.
// Geometry rules: WindowFrom (window_args.h); the math: ops/conv.h, ops/pool.h, ops/norm.h via kernels.cc.
#include <cmath>
#include <string>

#include "check.h"
#include "kernels.h"
#include "window_args.h"

namespace blasnet {
namespace {

using check::Args;
using check::Counts;
using check::NonNegative;
using check::View;
using check::WindowCounts;
using check::WindowFrom;

Napi::Value Im2col(const Napi::CallbackInfo& info) {
  Args args(info, "im2col", 4);
  const ops::Window2d g = WindowFrom(args, info, 3);
  const View<float> cols = args.F32(0, "cols");
  const View<float> x = args.F32(1, "x");
  const int64_t rows = args.Dim(2, "rows");
  const WindowCounts n = Counts(args, rows, g, true);
  args.Length(cols, n.cols, "C*kH*kW*rows*outH*outW");
  args.Length(x, n.in, "rows*C*H*W");
  args.NoOverlap(cols, n.cols, x, n.in);
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
  args.NoOverlap(dx, n.in, cols, n.cols);
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
  args.Lengths(n, "a*b*c", out, x);
  args.NoOverlap(out, n, x, n);
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
  args.Lengths(n, "n", out, a, b);
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
  args.Lengths(n.out, "rows*C*outH*outW", y, argmax);
  args.Length(x, n.in, "rows*C*H*W");
  args.NoOverlap(y, n.out, x, n.in);
  args.NoOverlap(argmax, n.out, x, n.in);
  args.NoOverlap(argmax, n.out, y, n.out);
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
  args.Lengths(n.out, "rows*C*outH*outW", dy, argmax);
  // dx is zeroed first: it must not alias the indices it is about to be written through.
  args.NoOverlap(dx, n.in, argmax, n.out);
  args.NoOverlap(dx, n.in, dy, n.out);
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
  args.NoOverlap(y, n.out, x, n.in);
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
  args.NoOverlap(dx, n.in, dy, n.out);
  avg_pool2d_backward(dx.data, dy.data, int(rows), g);
  return info.Env().Undefined();
}

Napi::Value BatchNormStats(const Napi::CallbackInfo& info) {
  Args args(info, "batchNormStats", 6);
  const View<float> mean = args.F32(0, "mean");
  const View<float> variance = args.F32(1, "variance");
  const View<float> x = args.F32(2, "x");
  int64_t rows, channels, spatial;
  const int64_t n = ChannelCounts(args, 3, &rows, &channels, &spatial);
  args.Lengths(channels, "channels", mean, variance);
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
  args.Lengths(n, "rows*channels*spatial", y, x);
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
  args.Lengths(n, "rows*channels*spatial", dy, x);
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
  args.Lengths(groups, "groups", mean, inv_std);
  args.Length(x, n, "groups*size");
  args.Lengths(size, "size", gamma, beta);
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
  args.Lengths(size, "size", dgamma, dbeta);
  args.Lengths(n, "groups*size", dy, x);
  args.Lengths(groups, "groups", mean, inv_std);
  args.Length(gamma, size, "size");
  layer_norm_backward(dx.data, dgamma.data, dbeta.data, dy.data, x.data, mean.data, inv_std.data, gamma.data, int(groups),
                      size);
  return info.Env().Undefined();
}

}  // namespace

// Registered by RegisterKernels (kernel_binding.cc) on the same exports object.
void RegisterConvKernels(Napi::Env env, Napi::Object exports) {
  const check::Entry entries[] = {
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
  check::Register(env, exports, entries);
}

}  // namespace blasnet
