// The Plan constructor: a validated spec compiled to the step list (plan_workspace.h), with every
// workspace allocated once, for spec.batchSize rows, and the parameter ranges the update visits
// (each step's own, the frozen ones, the gaps no step owns). Nothing here runs per step.
#include <algorithm>

#include "plan.h"
#include "plan_gemm.h"
#include "plan_workspace.h"

namespace blasnet {
namespace plan {

Plan::Plan(const SpecDesc& spec, float* params, float* grads, float* state, uint32_t* rngState)
    : spec_(spec), ws_(std::make_unique<Workspace>()) {
  Workspace& ws = *ws_;
  ws.params = params;
  ws.grads = grads;
  ws.state = state;
  ws.rngState = rngState;
  const int64_t B = spec.batchSize;
  const int64_t P = spec.paramCount;
  int64_t maxWidth = std::max(spec.inFeatures, spec.outFeatures);
  {
    int64_t width = spec.inFeatures;
    for (const LayerDesc& l : spec.layers) {
      if (l.kind == LayerKind::dense) width = l.outFeatures;
      maxWidth = std::max(maxWidth, width);
    }
  }
  float* zeros = ws.Alloc(maxWidth);
  float* dbScratch = ws.Alloc(maxWidth);
  ws.xb = ws.Alloc(B * spec.inFeatures);
  ws.yb = ws.Alloc(B * spec.outFeatures);
  ws.lb.assign(size_t(B), 0);
  ws.d0 = ws.Alloc(B * maxWidth);
  ws.d1 = ws.Alloc(B * maxWidth);

  // The parameter ranges: frozen (as given), trainable = [0, P) minus frozen.
  ws.frozen = spec.frozen;
  Subtract(ws.trainable, {{0, P}}, ws.frozen);

  std::vector<ParamRange> ownedRanges;
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
        op.b = l.biasOffset >= 0 ? params + l.biasOffset : zeros;
        op.db = l.biasOffset >= 0 ? grads + l.biasOffset : dbScratch;
        own.push_back({l.weightOffset, l.weightOffset + l.inFeatures * l.outFeatures});
        if (l.biasOffset >= 0) own.push_back({l.biasOffset, l.biasOffset + l.outFeatures});
        if (op.in * op.out <= kLoopForwardMax) op.wt = ws.Alloc(op.in * op.out);
        op.z = ws.Alloc(B * op.out);
        if (i + 1 < L && spec.layers[i + 1].kind == LayerKind::activation) {
          op.act = spec.layers[i + 1].activation;
          op.alpha = float(spec.layers[i + 1].alpha);
          i++;  // the activation is fused into this op
        }
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
      case LayerKind::conv2d: case LayerKind::maxPool2d: case LayerKind::avgPool2d: case LayerKind::batchNorm:
      case LayerKind::layerNorm: case LayerKind::residualStart: case LayerKind::residualEnd:
        break;  // refused by ValidateSpec
    }
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
  ws.fuseUpdate = spec.clipNorm == 0 && P >= 65536;
  // Gaps: trainable parameters no step owns (the optimizer still updates them, as the TypeScript
  // PlanExecutor does over all P).
  std::sort(ownedRanges.begin(), ownedRanges.end(), [](ParamRange a, ParamRange b) { return a.begin < b.begin; });
  Subtract(ws.gaps, ws.trainable, ownedRanges);
}

Plan::~Plan() = default;

}  // namespace plan
}  // namespace blasnet
