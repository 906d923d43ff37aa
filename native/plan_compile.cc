// The Plan constructor: a validated spec compiled to the step list (plan_workspace.h), with every
// workspace allocated once, for spec.batchSize rows, and the parameter ranges the update visits
// (each step's own, the frozen ones, the gaps no step owns). Nothing here runs per step.
#include <algorithm>

#include "plan.h"
#include "plan_conv.h"
#include "plan_gemm.h"
#include "plan_workspace.h"

namespace blasnet {
namespace plan {
namespace {

// A dense or conv2d step takes the activation step right after it into its own passes.
void FuseActivation(Op& op, const SpecDesc& spec, size_t& i) {
  if (i + 1 < spec.layers.size() && spec.layers[i + 1].kind == LayerKind::activation) {
    op.act = spec.layers[i + 1].activation;
    op.alpha = float(spec.layers[i + 1].alpha);
    i++;
  }
}

ops::Window2d OpsWindow(const Window2d& w) {  // validated: every field fits an int
  ops::Window2d g;
  g.channels = int(w.channels);
  g.height = int(w.height);
  g.width = int(w.width);
  g.kernelH = int(w.kernelH);
  g.kernelW = int(w.kernelW);
  g.strideH = int(w.strideH);
  g.strideW = int(w.strideW);
  g.padTop = int(w.padTop);
  g.padLeft = int(w.padLeft);
  g.dilationH = int(w.dilationH);
  g.dilationW = int(w.dilationW);
  g.outH = int(w.outH);
  g.outW = int(w.outW);
  return g;
}

}  // namespace

Plan::Plan(const SpecDesc& spec, float* params, float* grads, float* state, uint32_t* rngState)
    : spec_(spec), ws_(std::make_unique<Workspace>()) {
  Workspace& ws = *ws_;
  ws.params = params;
  ws.grads = grads;
  ws.state = state;
  ws.rngState = rngState;
  const int64_t B = spec.batchSize;
  const int64_t P = spec.paramCount;
  ws.xb = ws.Alloc(B * spec.inFeatures);
  ws.yb = ws.Alloc(B * spec.outFeatures);
  ws.lb.assign(size_t(B), 0);

  // The parameter ranges: frozen (as given), trainable = [0, P) minus frozen.
  ws.frozen = spec.frozen;
  Subtract(ws.trainable, {{0, P}}, ws.frozen);

  std::vector<ParamRange> ownedRanges;
  std::vector<size_t> open;  // residualStarts not closed yet (their op index)
  int64_t maxWidth = std::max(spec.inFeatures, spec.outFeatures);
  int64_t colsSize = 0, gemmOutSize = 0;
  int64_t width = spec.inFeatures;
  bool seenParams = false;
  const size_t L = spec.layers.size();
  for (size_t i = 0; i < L; i++) {
    const LayerDesc& l = spec.layers[i];
    Op op;
    op.kind = l.kind;
    op.in = width;
    std::vector<ParamRange> own;  // this step's parameter ranges
    switch (l.kind) {
      case LayerKind::dense: {
        op.out = l.outFeatures;
        op.w = params + l.weightOffset;
        op.dw = grads + l.weightOffset;
        op.b = l.biasOffset >= 0 ? params + l.biasOffset : ws.Alloc(op.out);  // zeros
        op.db = l.biasOffset >= 0 ? grads + l.biasOffset : ws.Alloc(op.out);  // scratch
        own.push_back({l.weightOffset, l.weightOffset + l.inFeatures * l.outFeatures});
        if (l.biasOffset >= 0) own.push_back({l.biasOffset, l.biasOffset + l.outFeatures});
        if (op.in * op.out <= kLoopForwardMax) op.wt = ws.Alloc(op.in * op.out);
        FuseActivation(op, spec, i);
        op.z = ws.Alloc(B * op.out);
        op.a = op.act == Activation::linear ? op.z : ws.Alloc(B * op.out);
        break;
      }
      case LayerKind::activation:
        op.out = width;
        op.act = l.activation;
        op.alpha = float(l.alpha);
        op.a = op.act == Activation::linear ? nullptr : ws.Alloc(B * op.out);
        break;
      case LayerKind::softmax:
        op.out = width;
        op.a = ws.Alloc(B * op.out);
        break;
      case LayerKind::dropout:
        op.out = width;
        op.rate = l.rate;
        op.keepScale = 1.0 / (1.0 - l.rate);
        op.a = ws.Alloc(B * op.out);
        op.mask = ws.Alloc(B * op.out);
        ws.hasDropout = true;
        break;
      case LayerKind::conv2d: {
        op.win = OpsWindow(l.window);
        op.outChannels = l.outChannels;
        op.k = l.window.channels * l.window.kernelH * l.window.kernelW;
        op.outHW = l.window.outH * l.window.outW;
        op.out = op.outChannels * op.outHW;
        op.w = params + l.weightOffset;
        op.dw = grads + l.weightOffset;
        op.b = l.biasOffset >= 0 ? params + l.biasOffset : nullptr;
        op.db = l.biasOffset >= 0 ? grads + l.biasOffset : nullptr;
        own.push_back({l.weightOffset, l.weightOffset + op.outChannels * op.k});
        if (l.biasOffset >= 0) own.push_back({l.biasOffset, l.biasOffset + op.outChannels});
        op.chunk = ConvChunk(op.k, op.outHW, B);
        colsSize = std::max(colsSize, op.k * op.chunk * op.outHW);
        gemmOutSize = std::max(gemmOutSize, op.outChannels * op.chunk * op.outHW);
        FuseActivation(op, spec, i);
        op.z = ops::ActivationBackwardReadsInput(op.act) ? ws.Alloc(B * op.out) : nullptr;
        op.a = ws.Alloc(B * op.out);
        break;
      }
      case LayerKind::maxPool2d:
      case LayerKind::avgPool2d:
        op.win = OpsWindow(l.window);
        op.out = l.window.channels * l.window.outH * l.window.outW;
        op.a = ws.Alloc(B * op.out);
        if (l.kind == LayerKind::maxPool2d) op.argmax = ws.AllocInt(B * op.out);
        break;
      case LayerKind::batchNorm:
        op.out = width;
        op.channels = l.channels;
        op.spatial = l.spatial;
        op.momentum = l.momentum;
        op.eps = l.eps;
        op.w = params + l.weightOffset;
        op.dw = grads + l.weightOffset;
        op.b = params + l.biasOffset;
        op.db = grads + l.biasOffset;
        op.runningMean = params + l.runningMeanOffset;
        op.runningVar = params + l.runningVarOffset;
        for (int64_t off : {l.weightOffset, l.biasOffset, l.runningMeanOffset, l.runningVarOffset}) own.push_back({off, off + l.channels});
        op.mean = ws.Alloc(op.channels);
        op.variance = ws.Alloc(op.channels);
        op.a = ws.Alloc(B * op.out);
        break;
      case LayerKind::layerNorm:
        op.out = width;
        op.size = l.size;
        op.eps = l.eps;
        op.w = params + l.weightOffset;
        op.dw = grads + l.weightOffset;
        op.b = params + l.biasOffset;
        op.db = grads + l.biasOffset;
        own.push_back({l.weightOffset, l.weightOffset + l.size});
        own.push_back({l.biasOffset, l.biasOffset + l.size});
        op.mean = ws.Alloc(B * (width / l.size));
        op.variance = ws.Alloc(B * (width / l.size));
        op.a = ws.Alloc(B * op.out);
        break;
      case LayerKind::residualStart:
        op.out = width;
        open.push_back(ws.ops.size());
        break;
      case LayerKind::residualEnd:
        op.out = width;
        op.partner = open.back();
        open.pop_back();
        ws.ops[op.partner].partner = ws.ops.size();
        op.a = ws.Alloc(B * op.out);
        op.kept = ws.Alloc(B * op.out);
        ws.ops[op.partner].kept = op.kept;
        break;
    }
    maxWidth = std::max({maxWidth, op.in, op.out});
    // Steps before the first one with parameters need no backward pass; that first one needs no
    // input gradient.
    const bool hasParams = !own.empty();
    op.backward = seenParams || hasParams;
    op.needDx = seenParams;
    seenParams = seenParams || hasParams;
    std::sort(own.begin(), own.end(), [](ParamRange a, ParamRange b) { return a.begin < b.begin; });
    Subtract(op.updates, own, ws.frozen);
    ownedRanges.insert(ownedRanges.end(), own.begin(), own.end());
    width = op.out;
    ws.ops.push_back(std::move(op));
  }
  ws.d0 = ws.Alloc(B * maxWidth);
  ws.d1 = ws.Alloc(B * maxWidth);
  if (colsSize > 0) {
    ws.cols = ws.Alloc(colsSize);
    ws.gemmOut = ws.Alloc(gemmOutSize);
  }
  ws.fuseUpdate = spec.clipNorm == 0 && P >= 65536;
  // Gaps: trainable parameters no step owns (the optimizer still updates them, as the TypeScript
  // PlanExecutor does over all P).
  std::sort(ownedRanges.begin(), ownedRanges.end(), [](ParamRange a, ParamRange b) { return a.begin < b.begin; });
  Subtract(ws.gaps, ws.trainable, ownedRanges);
}

Plan::~Plan() = default;

}  // namespace plan
}  // namespace blasnet
