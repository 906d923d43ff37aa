// The fused training plan: forward, backward and optimizer update for runs of batches in C++.
//
// The engine is plain C++ (no N-API), testable and timeable alone, in files by job:
//   plan_validate.cc     ValidateSpec / ValidateRun (every field checked before anything runs)
//   plan_compile.cc      the Plan constructor: the spec compiled to ops, every workspace allocated
//   plan_workspace.h     what it compiles to (Op per step, Workspace)
//   plan_steps.cc        the step loop (forward, loss, backward, update), compiled per ISA
//   steps/<kind>.h       everything the plan knows about one step kind: its spec fields, their
//                        validation, its compiled fields and workspaces, its forward and backward
//                        (steps/step.h says how; steps/steps.h lists the kinds)
//   plan_gemm.h, plan_activations.h, plan_isa.h: the GEMM dispatch, activation passes, ISA clones
// Its N-API surface: plan_binding.cc (the FusedPlan class, the run's worker), plan_spec.cc (spec
// parsing), plan_napi.h (shared argument helpers), registered into the addon's exports by addon.cc
// through RegisterPlan.
//
// The semantics are those of lib/backend/plan.ts (PlanSpec, StepRun, TrainPlan) and the kernel
// definitions of lib/backend/backend.ts; lib/nn/plan-executor.ts is the TypeScript reference.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ops/kinds.h"
#include "steps/steps.h"  // the step kinds; Window2d, ParamRange, PlanError (steps/step.h)

namespace Napi {
class Env;
class Object;
}  // namespace Napi

namespace blasnet {

/// Adds the FusedPlan class and the planFastMath test function to the addon's exports.
void RegisterPlan(Napi::Env env, Napi::Object exports);

namespace plan {

/// A step of the spec: the fields several kinds share, then each kind's own (the Desc of its step
/// file, steps/<kind>.h; the list of kinds is steps/steps.h).
struct LayerCommon {
  LayerKind kind = LayerKind::dense;
  // The step's parameters: a weight at weightOffset, a bias at biasOffset (-1: none)
  int64_t weightOffset = 0;
  int64_t biasOffset = -1;
  // activation (and the dense and conv2d steps, which fuse the activation after them)
  Activation activation = Activation::linear;
  double alpha = 0;  // leakyRelu negative slope
  // conv2d, maxPool2d, avgPool2d: the window over the (C, H, W) input sample
  Window2d window;
  // batchNorm, layerNorm
  double eps = 0;
};

struct LayerDesc : LayerCommon BN_LAYERS(BN_STEP_DESC) {};

struct SpecDesc {
  int64_t inFeatures = 0;
  int64_t outFeatures = 0;
  int64_t batchSize = 0;
  std::vector<LayerDesc> layers;
  Loss loss = Loss::mse;
  double huberDelta = 1;
  Optimizer optimizer = Optimizer::sgd;
  double hyper[kOptimizerHyperCount] = {0, 0, 0, 0};  // in kinds.h's order for `optimizer`
  double clipNorm = 0, clipValue = 0;
  int64_t paramCount = 0;
  // Parameters the optimizer never touches (ascending, non-overlapping, within [0, paramCount)):
  // their values and optimizer state stay as they are; their gradients are zeroed before clipping.
  std::vector<ParamRange> frozen;
};

/// Checks the whole spec against the buffer lengths (in elements).
PlanError ValidateSpec(const SpecDesc& spec, int64_t paramsLength, int64_t gradsLength, int64_t stateLength,
                       int64_t rngStateLength);

/// One run of steps (see StepRun in plan.ts). Plain pointers into caller-owned arrays.
struct StepArgs {
  const float* x = nullptr;        // (rows, inFeatures)
  const float* yFloat = nullptr;   // (rows, outFeatures), or null for class labels
  const int32_t* yLabels = nullptr;  // (rows), crossEntropy only
  int64_t rows = 0;
  const int32_t* order = nullptr;
  int64_t orderLength = 0;
  int64_t start = 0;
  int64_t steps = 0;
  int64_t batchSize = 0;
  const float* lr = nullptr;  // (steps)
  int64_t firstStep = 1;
  bool training = true;
  float* losses = nullptr;  // (steps)
  // The rows are already in step order: step s trains on rows [s * batchSize, ...) of x and y as
  // they are (order then counts 0, 1, ...; the binding sets this for its own copies).
  bool gathered = false;
  // With gathered (nullable): how many rows of x and y, from the first, the caller has written so
  // far. The caller copies them while the run is in flight, publishing the count with a release
  // store; step s reads its rows only after an acquire load shows them all written (spinning
  // briefly, then yielding the core). Null: every row is there before the run starts.
  const std::atomic<int64_t>* rowsReady = nullptr;
  // Row weights in run order (nullable): step s's rows weigh weights[s * batchSize + r] (counted
  // from the run's start), as the loss reads them (ops/losses.h).
  const float* weights = nullptr;
};

/// The message for class index c in row `row` of a run's y (`classes` classes), the row being an
/// index into the caller's y. The TypeScript plan says the same words (classIndexError in
/// lib/backend/plan.ts).
std::string ClassIndexMessage(int64_t row, int64_t c, int64_t classes);

/// Checks a run against the plan (lengths, ranges, labels, order values) before anything runs.
/// Lengths are in elements; yIsLabels tells which of yFloat / yLabels is set.
PlanError ValidateRun(const SpecDesc& spec, const StepArgs& run, int64_t xLength, int64_t yLength, bool yIsLabels,
                      int64_t lrLength, int64_t lossesLength);

struct Workspace;

/// The engine. Works in place on params / grads / state / rngState (caller-owned, kept alive by
/// the caller); allocates every workspace once, for spec.batchSize rows, in the constructor.
class Plan {
 public:
  /// The spec must have passed ValidateSpec.
  Plan(const SpecDesc& spec, float* params, float* grads, float* state, uint32_t* rngState);
  ~Plan();
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  /// Runs up to run.steps steps; returns the number completed (fewer when a loss was not finite:
  /// that step's update is not applied, losses[completed] holds the bad loss).
  int64_t RunSteps(const StepArgs& run);

  /// Inference-mode forward pass: out (rows, outFeatures) from x (rows, inFeatures), rows <= batchSize.
  void Forward(float* out, const float* x, int64_t rows);

  const SpecDesc& spec() const { return spec_; }

 private:
  SpecDesc spec_;
  std::unique_ptr<Workspace> ws_;
};

/// Element-wise fast math over n values, for tests: fn 0 = exp, 1 = sigmoid, 2 = tanh.
void FastMathApply(int fn, float* out, const float* x, int64_t n);

/// The plan's own activation passes over x (rows, cols), for tests: y = f(x), then dx = dy f'(.)
/// and db (cols) = column sums of dx, exactly as the step loop runs them after a dense layer.
void ActivationApply(Activation act, float alpha, float* y, float* dx, float* db, const float* x, const float* dy,
                     int64_t rows, int64_t cols);

}  // namespace plan
}  // namespace blasnet
