// The Plan constructor: a validated spec compiled to the step list (plan_workspace.h), with every
// workspace allocated once, for spec.batchSize rows, and the parameter ranges the update visits
// (each step's own, the frozen ones, the gaps no step owns). Each step's fields and workspaces are
// its step file's Compile (steps/<kind>.h). Nothing here runs per step.
#include <algorithm>

#include "plan.h"
#include "plan_workspace.h"

namespace blasnet {
namespace plan {
namespace {

// What a step file's Compile sees besides its own fields (steps/step.h): the workspace to allocate
// from, the buffers its parameters are views of, where it is, and what it records.
struct CompileContext {
  CompileContext(const SpecDesc& s, Workspace& w, float* p, float* g) : spec(s), ws(w), params(p), grads(g), B(s.batchSize) {}
  const SpecDesc& spec;
  Workspace& ws;
  float* params;
  float* grads;
  int64_t B;           // spec.batchSize: every workspace is sized for it
  size_t i = 0;        // the step's index in spec.layers (FuseActivation moves it past the activation)
  int64_t width = 0;   // values per sample the previous step produces
  std::vector<ParamRange> own;  // the step's parameter ranges (it adds them)
  std::vector<size_t> open;     // residualStarts not closed yet (their op index)
  // The scratch every conv2d step shares (ws.cols, ws.gemmOut): the largest any step asks for.
  int64_t colsSize = 0, gemmOutSize = 0;

  // Whether the step after the current one (past an activation FuseActivation took) is a max
  // pooling step (a conv2d step runs it inside its own passes: steps/conv2d.h).
  bool MaxPoolFollows() const { return i + 1 < spec.layers.size() && spec.layers[i + 1].kind == LayerKind::maxPool2d; }

  // The step compiled just before the current one, or null.
  Op* Previous() { return ws.ops.empty() ? nullptr : &ws.ops.back(); }

  // A dense or conv2d step takes the activation step right after it into its own passes.
  void FuseActivation(Op& op) {
    if (i + 1 < spec.layers.size() && spec.layers[i + 1].kind == LayerKind::activation) {
      op.act = spec.layers[i + 1].activation;
      op.alpha = float(spec.layers[i + 1].alpha);
      i++;
    }
  }
};

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
  int64_t maxWidth = std::max(spec.inFeatures, spec.outFeatures);
  bool seenParams = false;
  CompileContext c(spec, ws, params, grads);
  c.width = spec.inFeatures;
  for (; c.i < spec.layers.size(); c.i++) {
    const LayerDesc& l = spec.layers[c.i];
    Op op;
    op.kind = l.kind;
    op.in = c.width;
    c.own.clear();
    switch (l.kind) {
#define BN_COMPILE_CASE(name, code, Step) \
  case LayerKind::name:                   \
    Step::Compile(op, l, c);              \
    break;
      BN_LAYERS(BN_COMPILE_CASE)
#undef BN_COMPILE_CASE
    }
    maxWidth = std::max({maxWidth, op.in, op.out});
    // Steps before the first one with parameters need no backward pass; that first one needs no
    // input gradient.
    std::vector<ParamRange>& own = c.own;
    const bool hasParams = !own.empty();
    op.backward = seenParams || hasParams;
    op.needDx = seenParams;
    seenParams = seenParams || hasParams;
    std::sort(own.begin(), own.end(), [](ParamRange a, ParamRange b) { return a.begin < b.begin; });
    Subtract(op.updates, own, ws.frozen);
    ownedRanges.insert(ownedRanges.end(), own.begin(), own.end());
    c.width = op.out;
    ws.ops.push_back(std::move(op));
  }
  ws.d0 = ws.Alloc(B * maxWidth);
  ws.d1 = ws.Alloc(B * maxWidth);
  if (c.colsSize > 0) {
    ws.cols = ws.Alloc(c.colsSize);
    ws.gemmOut = ws.Alloc(c.gemmOutSize);
  }
  ws.SetUpThreads(B, c.colsSize, c.gemmOutSize);
  ws.fuseUpdate = spec.clipNorm == 0 && P >= 65536;
  // Gaps: trainable parameters no step owns (the optimizer still updates them, as the TypeScript
  // PlanExecutor does over all P).
  std::sort(ownedRanges.begin(), ownedRanges.end(), [](ParamRange a, ParamRange b) { return a.begin < b.begin; });
  Subtract(ws.gaps, ws.trainable, ownedRanges);
}

Plan::~Plan() = default;

}  // namespace plan
}  // namespace blasnet
