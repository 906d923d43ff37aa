// N-API entry points of the per-kernel backend: unpack, check, call.
//
// Each function checks every argument (see check.h) and then calls the plain C++ kernel in
// kernels.cc on the caller's buffers, zero-copy (typed-array data pointers include byteOffset, so
// subarray views work). Argument order and meaning follow `Kernels` in lib/backend/backend.ts;
// activation and loss kinds arrive as the integer codes of ACTIVATIONS / REGRESSION_LOSSES.
#include <cstring>
#include <string>

#include "check.h"
#include "kernels.h"
#include "ops/optimizers.h"

namespace blasnet {
namespace {

using check::Args;
using check::Positive;
using check::View;
using check::ZeroOrOne;

Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Args args(info, "gemm", 10);
  const bool trans_a = args.Bool(0, "transA");
  const bool trans_b = args.Bool(1, "transB");
  const int64_t m = args.Dim(2, "m");
  const int64_t n = args.Dim(3, "n");
  const int64_t k = args.Dim(4, "k");
  const float alpha = args.Scalar(5, "alpha");
  const View<float> a = args.F32(6, "a");
  const View<float> b = args.F32(7, "b");
  const float beta = args.Scalar(8, "beta");
  const View<float> c = args.F32(9, "c");
  const int64_t mk = args.Product(m, k, "m*k");
  const int64_t kn = args.Product(k, n, "k*n");
  const int64_t mn = args.Product(m, n, "m*n");
  args.Length(a, mk, "m*k");
  args.Length(b, kn, "k*n");
  args.Length(c, mn, "m*n");
  args.NoOverlap(c, mn, a, mk);
  args.NoOverlap(c, mn, b, kn);
  gemm(trans_a, trans_b, int(m), int(n), int(k), alpha, a.data, b.data, beta, c.data);
  return info.Env().Undefined();
}

Napi::Value BiasAdd(const Napi::CallbackInfo& info) {
  Args args(info, "biasAdd", 4);
  const View<float> y = args.F32(0, "y");
  const View<float> bias = args.F32(1, "bias");
  const int64_t rows = args.Dim(2, "rows");
  const int64_t cols = args.Dim(3, "cols");
  args.Length(y, args.Product(rows, cols, "rows*cols"), "rows*cols");
  args.Length(bias, cols, "cols");
  bias_add(y.data, bias.data, int(rows), int(cols));
  return info.Env().Undefined();
}

Napi::Value BiasGrad(const Napi::CallbackInfo& info) {
  Args args(info, "biasGrad", 5);
  const View<float> db = args.F32(0, "db");
  const View<float> dy = args.F32(1, "dy");
  const int64_t rows = args.Dim(2, "rows");
  const int64_t cols = args.Dim(3, "cols");
  const float beta = args.ScalarIn(4, "beta", ZeroOrOne, "0 (overwrite) or 1 (accumulate)");
  const int64_t count = args.Product(rows, cols, "rows*cols");
  args.Length(db, cols, "cols");
  args.Length(dy, count, "rows*cols");
  bias_grad(db.data, dy.data, int(rows), int(cols), beta);
  return info.Env().Undefined();
}

Napi::Value ActivationForward(const Napi::CallbackInfo& info) {
  Args args(info, "activationForward", 5);
  const int act = args.Code(0, "act", kActivationKinds, "activation code");
  const View<float> y = args.F32(1, "y");
  const View<float> x = args.F32(2, "x");
  const int64_t n = args.Dim(3, "n");
  const float alpha = args.Scalar(4, "alpha");
  args.Lengths(n, "n", y, x);
  if (n > 0) activation_forward(Activation(act), y.data, x.data, n, alpha);
  return info.Env().Undefined();
}

Napi::Value ActivationBackward(const Napi::CallbackInfo& info) {
  Args args(info, "activationBackward", 7);
  const int act = args.Code(0, "act", kActivationKinds, "activation code");
  const View<float> dx = args.F32(1, "dx");
  const View<float> dy = args.F32(2, "dy");
  const View<float> x = args.F32(3, "x");
  const View<float> y = args.F32(4, "y");
  const int64_t n = args.Dim(5, "n");
  const float alpha = args.Scalar(6, "alpha");
  args.Lengths(n, "n", dx, dy, x, y);
  if (n > 0) activation_backward(Activation(act), dx.data, dy.data, x.data, y.data, n, alpha);
  return info.Env().Undefined();
}

Napi::Value SoftmaxForward(const Napi::CallbackInfo& info) {
  Args args(info, "softmaxForward", 4);
  const View<float> y = args.F32(0, "y");
  const View<float> x = args.F32(1, "x");
  const int64_t rows = args.Dim(2, "rows");
  const int64_t cols = args.Dim(3, "cols");
  const int64_t count = args.Product(rows, cols, "rows*cols");
  args.Lengths(count, "rows*cols", y, x);
  softmax_forward(y.data, x.data, int(rows), int(cols));
  return info.Env().Undefined();
}

Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
  Args args(info, "softmaxBackward", 5);
  const View<float> dx = args.F32(0, "dx");
  const View<float> dy = args.F32(1, "dy");
  const View<float> y = args.F32(2, "y");
  const int64_t rows = args.Dim(3, "rows");
  const int64_t cols = args.Dim(4, "cols");
  const int64_t count = args.Product(rows, cols, "rows*cols");
  args.Lengths(count, "rows*cols", dx, dy, y);
  softmax_backward(dx.data, dy.data, y.data, int(rows), int(cols));
  return info.Env().Undefined();
}

// Optional per-row weights of the element-wise losses: a Float32Array of rows values (n a whole
// number of rows) or null. Returns the values per row (1 without weights).
int64_t RowWidth(const Args& args, const View<float>& w, int64_t n) {
  if (!w.data) return 1;
  const int64_t rows = int64_t(w.length);
  if (rows == 0 ? n != 0 : n % rows != 0) {
    args.RangeError(args.ArgCap("weights") + " has " + std::to_string(rows) + " values; expected a whole number of rows of the " +
                    std::to_string(n) + " values (n)");
  }
  return rows == 0 ? 1 : n / rows;
}

Napi::Value RegressionLossFn(const Napi::CallbackInfo& info) {
  Args args(info, "regressionLoss", 7);
  const int kind = args.Code(0, "kind", kRegressionLossKinds, "regression loss code");
  const View<float> grad = args.F32OrNull(1, "grad");
  const View<float> pred = args.F32(2, "pred");
  const View<float> target = args.F32(3, "target");
  const int64_t n = args.Dim(4, "n");
  // delta stays a double (the loss is summed in double).
  const double delta = RegressionLoss(kind) == RegressionLoss::huber
                           ? args.ScalarIn(5, "delta", Positive, "> 0 for the Huber loss")
                           : args.Scalar(5, "delta");
  if (grad.data) args.Length(grad, n, "n");
  args.Lengths(n, "n", pred, target);
  const View<float> w = args.F32OrNull(6, "weights");
  const int64_t cols = RowWidth(args, w, n);
  const double loss = regression_loss(RegressionLoss(kind), grad.data, pred.data, target.data, n, delta, w.data, cols);
  return Napi::Number::New(info.Env(), loss);
}

Napi::Value SoftmaxCrossEntropy(const Napi::CallbackInfo& info) {
  Args args(info, "softmaxCrossEntropy", 6);
  const View<float> grad = args.F32OrNull(0, "grad");
  const View<float> logits = args.F32(1, "logits");
  const View<int32_t> labels = args.I32(2, "labels");
  const int64_t rows = args.Dim(3, "rows");
  const int64_t cols = args.Dim(4, "cols");
  const int64_t count = args.Product(rows, cols, "rows*cols");
  if (grad.data) args.Length(grad, count, "rows*cols");
  args.Length(logits, count, "rows*cols");
  args.Length(labels, rows, "rows");
  const View<float> w = args.F32OrNull(5, "weights");
  if (w.data) args.Length(w, rows, "rows");
  for (int64_t r = 0; r < rows; r++) {
    const int32_t label = labels.data[r];
    if (label < 0 || label >= cols) {
      args.RangeError("Argument 'labels' of softmaxCrossEntropy has label " + std::to_string(label) + " at row " +
                      std::to_string(r) + "; expected a class index in [0, " + std::to_string(cols) + ")");
    }
  }
  const double loss = softmax_cross_entropy(grad.data, logits.data, labels.data, int(rows), int(cols), w.data);
  return Napi::Number::New(info.Env(), loss);
}

Napi::Value SoftmaxCrossEntropyDense(const Napi::CallbackInfo& info) {
  Args args(info, "softmaxCrossEntropyDense", 6);
  const View<float> grad = args.F32OrNull(0, "grad");
  const View<float> logits = args.F32(1, "logits");
  const View<float> targets = args.F32(2, "targets");
  const int64_t rows = args.Dim(3, "rows");
  const int64_t cols = args.Dim(4, "cols");
  const int64_t count = args.Product(rows, cols, "rows*cols");
  if (grad.data) args.Length(grad, count, "rows*cols");
  args.Lengths(count, "rows*cols", logits, targets);
  const View<float> w = args.F32OrNull(5, "weights");
  if (w.data) args.Length(w, rows, "rows");
  const double loss = softmax_cross_entropy_dense(grad.data, logits.data, targets.data, int(rows), int(cols), w.data);
  return Napi::Number::New(info.Env(), loss);
}

Napi::Value BceWithLogits(const Napi::CallbackInfo& info) {
  Args args(info, "bceWithLogits", 5);
  const View<float> grad = args.F32OrNull(0, "grad");
  const View<float> logits = args.F32(1, "logits");
  const View<float> targets = args.F32(2, "targets");
  const int64_t n = args.Dim(3, "n");
  if (grad.data) args.Length(grad, n, "n");
  args.Lengths(n, "n", logits, targets);
  const View<float> w = args.F32OrNull(4, "weights");
  const int64_t cols = RowWidth(args, w, n);
  const double loss = bce_with_logits(grad.data, logits.data, targets.data, n, w.data, cols);
  return Napi::Number::New(info.Env(), loss);
}

// optimizerStep(code, param, grad, state, n, lr, step, hyper): one step of optimizer `code`.
// Checks lengths (state against the slots the optimizer needs for these hyperparameters),
// finiteness and the integers (step, flags); the ranges of the hyperparameters are the TypeScript
// optimizers' to check, once, when they are made.
Napi::Value OptimizerStep(const Napi::CallbackInfo& info) {
  Args args(info, "optimizerStep", 8);
  const Optimizer kind = Optimizer(args.Code(0, "code", kOptimizerKinds, "optimizer code"));
  const View<float> param = args.F32(1, "param");
  const View<float> grad = args.F32(2, "grad");
  const View<float> state = args.F32(3, "state");
  const int64_t n = args.Dim(4, "n");
  const double lr = args.Scalar(5, "lr");
  const double step = args.Number(6, "step");
  if (!(std::trunc(step) == step && step >= 1 && step <= 9007199254740991.0)) {
    args.RangeError("Argument 'step' of optimizerStep must be an integer >= 1 (the 1-based step number) but received " +
                    args.Fmt(step));
  }
  const View<double> hyper = args.F64(7, "hyper");
  const char* const* names = OptimizerHyperNames(int(kind));
  if (hyper.length != size_t(kOptimizerHyperCount)) {
    args.RangeError("Argument 'hyper' of optimizerStep has " + std::to_string(hyper.length) + " values but " +
                    FindKind(kOptimizerKinds, int(kind))->name + " takes " + std::to_string(kOptimizerHyperCount) +
                    " (" + names[0] + ", " + names[1] + ", " + names[2] + ", " + names[3] + ")");
  }
  for (int h = 0; h < kOptimizerHyperCount; h++) {
    const double v = hyper.data[h];
    const bool flag = ops::OptimizerHyperIsFlag(kind, h);
    if (!std::isfinite(v) || (flag && v != 0.0 && v != 1.0)) {
      args.RangeError("Argument 'hyper' of optimizerStep has " + std::string(names[h]) + " = " + args.Fmt(v) + " at [" +
                      std::to_string(h) + "]; expected " + (flag ? "0 or 1" : "a finite number"));
    }
  }
  const int slots = ops::OptimizerSlots(kind, hyper.data);
  args.Lengths(n, "n", param, grad);
  const std::string need = std::to_string(slots) + "*n (" + FindKind(kOptimizerKinds, int(kind))->name + " keeps " +
                           std::to_string(slots) + " state slots with these hyperparameters)";
  args.Length(state, int64_t(slots) * n, need.c_str());
  optimizer_step(kind, param.data, grad.data, state.data, n, lr, int64_t(step), hyper.data);
  return info.Env().Undefined();
}

Napi::Value ArgmaxRows(const Napi::CallbackInfo& info) {
  Args args(info, "argmaxRows", 4);
  const View<int32_t> out = args.I32(0, "out");
  const View<float> x = args.F32(1, "x");
  const int64_t rows = args.Dim(2, "rows");
  const int64_t cols = args.Dim(3, "cols");
  if (rows > 0 && cols == 0) args.RangeError("Argument 'cols' of argmaxRows must be >= 1 when rows > 0 but received 0");
  const int64_t count = args.Product(rows, cols, "rows*cols");
  args.Length(out, rows, "rows");
  args.Length(x, count, "rows*cols");
  argmax_rows(out.data, x.data, int(rows), int(cols));
  return info.Env().Undefined();
}

Napi::Value Sum(const Napi::CallbackInfo& info) {
  Args args(info, "sum", 2);
  const View<float> x = args.F32(0, "x");
  const int64_t n = args.Dim(1, "n");
  args.Length(x, n, "n");
  return Napi::Number::New(info.Env(), sum(x.data, n));
}

Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  Args args(info, "sumSquares", 2);
  const View<float> x = args.F32(0, "x");
  const int64_t n = args.Dim(1, "n");
  args.Length(x, n, "n");
  return Napi::Number::New(info.Env(), sum_squares(x.data, n));
}

// firstNonFinite(x, start, end): the index in x of the first NaN or +-inf in x[start, end), or -1.
Napi::Value FirstNonFinite(const Napi::CallbackInfo& info) {
  Args args(info, "firstNonFinite", 3);
  const View<float> x = args.F32(0, "x");
  const int64_t start = args.Position(1, "start", 0, "0", x);
  const int64_t end = args.Position(2, "end", start, "start", x);
  const int64_t i = first_non_finite(x.data + start, end - start);
  return Napi::Number::New(info.Env(), i < 0 ? -1.0 : double(start + i));
}

Napi::Value Scale(const Napi::CallbackInfo& info) {
  Args args(info, "scale", 3);
  const View<float> x = args.F32(0, "x");
  const int64_t n = args.Dim(1, "n");
  const double s = args.Scalar(2, "s");
  args.Length(x, n, "n");
  scale(x.data, n, s);
  return info.Env().Undefined();
}

Napi::Value Clip(const Napi::CallbackInfo& info) {
  Args args(info, "clip", 4);
  const View<float> x = args.F32(0, "x");
  const int64_t n = args.Dim(1, "n");
  // Infinite bounds are allowed (one-sided clipping); NaN is not.
  const double lo = args.Number(2, "lo");
  const double hi = args.Number(3, "hi");
  if (std::isnan(lo)) args.RangeError("Argument 'lo' of clip must be a number but received NaN");
  if (std::isnan(hi)) args.RangeError("Argument 'hi' of clip must be a number but received NaN");
  if (!(lo <= hi)) {
    args.RangeError("Argument 'lo' of clip must be <= hi but received lo = " + args.Fmt(lo) + ", hi = " + args.Fmt(hi));
  }
  args.Length(x, n, "n");
  clip(x.data, n, float(lo), float(hi));
  return info.Env().Undefined();
}

}  // namespace

void RegisterConvKernels(Napi::Env env, Napi::Object exports);  // conv_binding.cc
void RegisterRuntime(Napi::Env env, Napi::Object exports);      // runtime_binding.cc

void RegisterKernels(Napi::Env env, Napi::Object exports) {
  const check::Entry entries[] = {
      {"gemm", Gemm},
      {"biasAdd", BiasAdd},
      {"biasGrad", BiasGrad},
      {"activationForward", ActivationForward},
      {"activationBackward", ActivationBackward},
      {"softmaxForward", SoftmaxForward},
      {"softmaxBackward", SoftmaxBackward},
      {"regressionLoss", RegressionLossFn},
      {"softmaxCrossEntropy", SoftmaxCrossEntropy},
      {"softmaxCrossEntropyDense", SoftmaxCrossEntropyDense},
      {"bceWithLogits", BceWithLogits},
      {"optimizerStep", OptimizerStep},
      {"argmaxRows", ArgmaxRows},
      {"sum", Sum},
      {"sumSquares", SumSquares},
      {"firstNonFinite", FirstNonFinite},
      {"scale", Scale},
      {"clip", Clip},
  };
  check::Register(env, exports, entries);
  RegisterConvKernels(env, exports);
  RegisterRuntime(env, exports);
}

}  // namespace blasnet
