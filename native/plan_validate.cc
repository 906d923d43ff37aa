// Validation of a fused plan's spec and of each run, before anything is allocated or run: every
// field checked (kinds, geometry, offsets and sizes within the buffers, overlap), so the engine
// itself never checks anything. Messages name the field, what was expected and what arrived. Each
// step's own fields are its step file's to check (steps/<kind>.h, with the helpers of steps/step.h).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "ops/optimizers.h"
#include "plan.h"

namespace blasnet {
namespace plan {

PlanError ValidateSpec(const SpecDesc& spec, int64_t paramsLength, int64_t gradsLength, int64_t stateLength,
                       int64_t rngStateLength) {
  if (auto e = Dim("spec.inFeatures", spec.inFeatures); !e.ok()) return e;
  if (auto e = Dim("spec.outFeatures", spec.outFeatures); !e.ok()) return e;
  if (auto e = Dim("spec.batchSize", spec.batchSize); !e.ok()) return e;
  const int64_t P = spec.paramCount;
  if (P < 0 || P > (int64_t(1) << 40)) return Range("Invalid spec.paramCount: " + Num(double(P)) + "; expected a non-negative integer");
  if (spec.layers.empty()) return Range("Invalid spec.layers: expected at least one layer");
  if (paramsLength < P) return Range("Invalid buffers.params: expected at least spec.paramCount = " + Num(double(P)) + " values but received " + Num(double(paramsLength)));
  if (gradsLength < P) return Range("Invalid buffers.grads: expected at least spec.paramCount = " + Num(double(P)) + " values but received " + Num(double(gradsLength)));
  const int64_t need = int64_t(ops::OptimizerSlots(spec.optimizer, spec.hyper)) * P;
  if (stateLength < need) return Range("Invalid buffers.state: optimizer needs " + Num(double(need)) + " values (stateSlots x paramCount) but received " + Num(double(stateLength)));
  if (rngStateLength != 4) return Range("Invalid buffers.rngState: expected 4 uint32 words but received " + Num(double(rngStateLength)));

  // Layer chain, parameter ranges (inside [0, P), not overlapping), workspace sizes: each step's
  // Validate (steps/<kind>.h) checks its fields against what the steps before it produce.
  ValidateContext c;
  c.width = spec.inFeatures;
  c.paramCount = P;
  c.batchSize = spec.batchSize;
  for (size_t i = 0; i < spec.layers.size(); i++) {
    const LayerDesc& l = spec.layers[i];
    c.at = "spec.layers[" + std::to_string(i) + "]";
    c.index = i;
    PlanError e;
    switch (l.kind) {
#define BN_VALIDATE_CASE(name, code, Step) \
  case LayerKind::name:                    \
    e = Step::Validate(l, c);              \
    break;
      BN_LAYERS(BN_VALIDATE_CASE)
#undef BN_VALIDATE_CASE
    }
    if (!e.ok()) return e;
  }
  if (auto e = CheckResidualPartner(c, true); !e.ok()) return e;
  if (c.width != spec.outFeatures) return Range("Invalid spec.outFeatures: " + Num(double(spec.outFeatures)) + "; the last layer produces " + Num(double(c.width)));
  std::vector<std::pair<int64_t, int64_t>>& ranges = c.ranges;
  if (spec.batchSize * std::max(spec.inFeatures, spec.outFeatures) > (int64_t(1) << 31) - 1) return Range("Invalid spec.batchSize: batchSize x features must be below 2^31");
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); i++) {
    if (ranges[i].first < ranges[i - 1].second) return Range("Invalid spec.layers: parameter ranges overlap at offset " + Num(double(ranges[i].first)));
  }

  // Frozen ranges: ascending, non-overlapping, within [0, P).
  for (size_t i = 0; i < spec.frozen.size(); i++) {
    const ParamRange r = spec.frozen[i];
    const std::string at = "spec.frozen[" + std::to_string(i) + "]";
    if (r.begin < 0 || r.end < r.begin || r.end > P) {
      return Range("Invalid " + at + ": [" + Num(double(r.begin)) + ", " + Num(double(r.end)) + "]; expected [begin, end] with 0 <= begin <= end <= spec.paramCount = " + Num(double(P)));
    }
    if (i > 0 && r.begin < spec.frozen[i - 1].end) {
      return Range("Invalid " + at + ": begins at " + Num(double(r.begin)) + ", before the end of spec.frozen[" + std::to_string(i - 1) + "] (" + Num(double(spec.frozen[i - 1].end)) + "); expected ascending, non-overlapping ranges");
    }
  }

  // Loss and optimizer hyperparameters.
  if (spec.loss == Loss::huber && !(spec.huberDelta > 0 && IsFinite(spec.huberDelta))) return Range("Invalid spec.loss.delta: " + Num(spec.huberDelta) + "; expected a finite number > 0");
  auto nonneg = [&](const char* name, double v) -> PlanError {
    if (!(IsFinite(v) && v >= 0)) return Range(std::string("Invalid ") + name + ": " + Num(v) + "; expected a finite number >= 0");
    return {};
  };
  if (auto e = nonneg("spec.clipNorm", spec.clipNorm); !e.ok()) return e;
  if (auto e = nonneg("spec.clipValue", spec.clipValue); !e.ok()) return e;
  // The optimizer's hyperparameters: finite, flags 0 or 1 (their ranges are the TypeScript
  // optimizers' to check, once, when they are made).
  const char* const* hyperNames = OptimizerHyperNames(int(spec.optimizer));
  for (int h = 0; h < kOptimizerHyperCount; h++) {
    const double v = spec.hyper[h];
    const bool flag = ops::OptimizerHyperIsFlag(spec.optimizer, h);
    if (!IsFinite(v) || (flag && v != 0 && v != 1)) {
      return Range("Invalid spec.optimizer.hyper[" + std::to_string(h) + "] (" + hyperNames[h] + "): " + Num(v) +
                   (flag ? "; expected 0 or 1" : "; expected a finite number"));
    }
  }
  return {};
}

std::string ClassIndexMessage(int64_t row, int64_t c, int64_t classes) {
  return "Invalid run.y[" + Num(double(row)) + "]: class " + Num(double(c)) + "; expected a class index in [0, " + Num(double(classes)) + ")";
}

PlanError ValidateRun(const SpecDesc& spec, const StepArgs& run, int64_t xLength, int64_t yLength, bool yIsLabels,
                      int64_t lrLength, int64_t lossesLength) {
  const bool wantLabels = spec.loss == Loss::crossEntropy;
  if (wantLabels != yIsLabels) {
    return PlanError{false, wantLabels ? "Invalid run.y: expected an Int32Array of class indices for the crossEntropy loss"
                                       : "Invalid run.y: expected a Float32Array of targets (rows, outFeatures)"};
  }
  if (run.rows < 0) return Range("Invalid run.rows: " + Num(double(run.rows)) + "; expected a non-negative integer");
  if (run.steps < 0) return Range("Invalid run.steps: " + Num(double(run.steps)) + "; expected a non-negative integer");
  if (run.batchSize < 1 || run.batchSize > spec.batchSize) return Range("Invalid run.batchSize: " + Num(double(run.batchSize)) + "; expected an integer in [1, " + Num(double(spec.batchSize)) + "] (the plan's batch size)");
  if (run.start < 0 || (run.steps > 0 && run.start + (run.steps - 1) * run.batchSize >= run.orderLength)) return Range("Invalid run.start: " + Num(double(run.start)) + " with " + Num(double(run.steps)) + " steps of " + Num(double(run.batchSize)) + " runs past the " + Num(double(run.orderLength)) + " rows of run.order");
  if (run.firstStep < 1) return Range("Invalid run.firstStep: " + Num(double(run.firstStep)) + "; expected an integer >= 1");
  if (run.rows > xLength || xLength < run.rows * spec.inFeatures) return Range("Invalid run.x: expected at least " + Num(double(run.rows) * double(spec.inFeatures)) + " values (rows x inFeatures) but received " + Num(double(xLength)));
  const int64_t yNeed = run.rows * (wantLabels ? 1 : spec.outFeatures);
  if (yLength < yNeed) return Range("Invalid run.y: expected at least " + Num(double(yNeed)) + " values but received " + Num(double(yLength)));
  if (lrLength < run.steps) return Range("Invalid run.lr: expected at least " + Num(double(run.steps)) + " values (one per step) but received " + Num(double(lrLength)));
  if (lossesLength < run.steps) return Range("Invalid run.losses: expected at least " + Num(double(run.steps)) + " values (one per step) but received " + Num(double(lossesLength)));
  for (int64_t s = 0; s < run.steps; s++) {
    const double v = run.lr[s];
    if (!(IsFinite(v) && v >= 0)) return Range("Invalid run.lr[" + Num(double(s)) + "]: " + Num(v) + "; expected a finite number >= 0");
  }
  // Rows used by this run: their indices and (crossEntropy) their labels.
  const int64_t end = std::min(run.orderLength, run.start + run.steps * run.batchSize);
  for (int64_t i = run.start; i < end; i++) {
    const int32_t r = run.order[i];
    if (r < 0 || r >= run.rows) return Range("Invalid run.order[" + Num(double(i)) + "]: " + Num(double(r)) + "; expected a row index in [0, " + Num(double(run.rows)) + ")");
    if (wantLabels) {
      const int32_t c = run.yLabels[r];
      if (c < 0 || c >= spec.outFeatures) return Range(ClassIndexMessage(r, c, spec.outFeatures));
    }
  }
  return {};
}

}  // namespace plan
}  // namespace blasnet
