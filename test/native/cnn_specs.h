// Convolutional plan specs for the native test programs (plan_alloc.cc, plan_step_timing.cc),
// built step by step as lib/nn's layers describe themselves: NCHW samples, parameters laid out in
// order, batch norm's running statistics frozen.
#pragma once
#include <cstdint>
#include <vector>

#include "plan.h"

namespace cnn {

using namespace blasnet;
using namespace blasnet::plan;

struct Builder {
  SpecDesc spec;
  int64_t c = 0, h = 0, w = 0;  // the current sample shape
  int64_t width = 0;            // values per sample
  struct Fill {
    int64_t offset, count;
    float value;
  };
  std::vector<Fill> inits;

  Builder(int64_t channels, int64_t height, int64_t widthPx, int64_t batch) : c(channels), h(height), w(widthPx) {
    spec.inFeatures = width = c * h * w;
    spec.batchSize = batch;
  }
  int64_t Take(int64_t n) {
    const int64_t at = spec.paramCount;
    spec.paramCount += n;
    return at;
  }
  static int64_t Out(int64_t size, int64_t k, int64_t stride, int64_t pad) { return (size + 2 * pad - k) / stride + 1; }
  Window2d Window(int64_t k, int64_t stride, int64_t pad) const {
    Window2d g;
    g.channels = c;
    g.height = h;
    g.width = w;
    g.kernelH = g.kernelW = k;
    g.strideH = g.strideW = stride;
    g.padTop = g.padLeft = pad;
    g.outH = Out(h, k, stride, pad);
    g.outW = Out(w, k, stride, pad);
    return g;
  }
  void Act(Activation a) {
    LayerDesc d;
    d.kind = LayerKind::activation;
    d.activation = a;
    spec.layers.push_back(d);
  }
  void Conv(int64_t outC, int64_t k, int64_t pad, Activation a, int64_t stride = 1) {
    LayerDesc d;
    d.kind = LayerKind::conv2d;
    d.window = Window(k, stride, pad);
    d.outChannels = outC;
    d.weightOffset = Take(outC * c * k * k);
    d.biasOffset = Take(outC);
    spec.layers.push_back(d);
    c = outC;
    h = d.window.outH;
    w = d.window.outW;
    width = c * h * w;
    if (a != Activation::linear) Act(a);
  }
  void Pool(LayerKind kind, int64_t k, int64_t pad = 0) {
    LayerDesc d;
    d.kind = kind;
    d.window = Window(k, k, pad);
    spec.layers.push_back(d);
    h = d.window.outH;
    w = d.window.outW;
    width = c * h * w;
  }
  void BatchNorm() {
    LayerDesc d;
    d.kind = LayerKind::batchNorm;
    d.channels = c;
    d.spatial = h * w;
    d.momentum = 0.1;
    d.eps = 1e-5;
    d.weightOffset = Take(c);
    d.biasOffset = Take(c);
    d.runningMeanOffset = Take(c);
    d.runningVarOffset = Take(c);
    spec.frozen.push_back({d.runningMeanOffset, d.runningVarOffset + c});
    inits.push_back({d.weightOffset, c, 1.0f});
    inits.push_back({d.runningVarOffset, c, 1.0f});
    spec.layers.push_back(d);
  }
  void LayerNorm() {
    LayerDesc d;
    d.kind = LayerKind::layerNorm;
    d.size = w;
    d.eps = 1e-5;
    d.weightOffset = Take(w);
    d.biasOffset = Take(w);
    inits.push_back({d.weightOffset, w, 1.0f});
    spec.layers.push_back(d);
  }
  void Residual(LayerKind kind) {
    LayerDesc d;
    d.kind = kind;
    spec.layers.push_back(d);
  }
  void Dense(int64_t out, Activation a) {
    LayerDesc d;
    d.kind = LayerKind::dense;
    d.inFeatures = width;
    d.outFeatures = out;
    d.weightOffset = Take(width * out);
    d.biasOffset = Take(out);
    spec.layers.push_back(d);
    width = out;
    c = out;
    h = w = 1;
    if (a != Activation::linear) Act(a);
  }
  SpecDesc Done(Loss loss, Optimizer opt, std::vector<double> hyper) {
    spec.outFeatures = width;
    spec.loss = loss;
    spec.optimizer = opt;
    for (int i = 0; i < kOptimizerHyperCount; i++) spec.hyper[i] = hyper[size_t(i)];
    return spec;
  }
  // Norm layers' gamma and batch norm's running_var start at 1 (the rest as the caller fills it).
  void Init(std::vector<float>& params) const {
    for (const Fill& f : inits) {
      for (int64_t i = 0; i < f.count; i++) params[size_t(f.offset + i)] = f.value;
    }
  }
};

// T5, the network: conv 1->32 3x3 pad 1 relu, maxpool 2, conv 32->64 3x3 pad 1 relu,
// maxpool 2, flatten (3136), dense 128 relu, dense 10; crossEntropy, Adam.
inline Builder T5(int64_t batch) {
  Builder b(1, 28, 28, batch);
  b.Conv(32, 3, 1, Activation::relu);
  b.Pool(LayerKind::maxPool2d, 2);
  b.Conv(64, 3, 1, Activation::relu);
  b.Pool(LayerKind::maxPool2d, 2);
  b.Dense(128, Activation::relu);
  b.Dense(10, Activation::linear);
  b.Done(Loss::crossEntropy, Optimizer::adam, {0.9, 0.999, 1e-8, 0});
  return b;
}

// Every new step kind: conv (strided, padded), batch norm, max and average pooling, a residual
// block with layer norm inside, dense.
inline Builder Mixed(int64_t batch) {
  Builder b(3, 12, 10, batch);
  b.Conv(6, 3, 1, Activation::relu);
  b.BatchNorm();
  b.Pool(LayerKind::maxPool2d, 2);
  b.Residual(LayerKind::residualStart);
  b.Conv(6, 3, 1, Activation::tanh);
  b.LayerNorm();
  b.Residual(LayerKind::residualEnd);
  b.Conv(8, 3, 1, Activation::linear, 2);
  b.Pool(LayerKind::avgPool2d, 2, 1);
  b.Dense(5, Activation::linear);
  b.Done(Loss::crossEntropy, Optimizer::adam, {0.9, 0.999, 1e-8, 0.01});
  return b;
}

}  // namespace cnn
