// Validation of a fused plan's spec and of each run, before anything is allocated or run: every
// field checked (kinds, geometry, offsets and sizes within the buffers, overlap), so the engine
// itself never checks anything. Messages name the field, what was expected and what arrived.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "ops/optimizers.h"
#include "ops/window.h"
#include "plan.h"

namespace blasnet {
namespace plan {

namespace {

std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

PlanError Range(const std::string& m) { return PlanError{true, m}; }

bool IsFinite(double v) { return std::isfinite(v); }

constexpr int64_t kMax31 = (int64_t(1) << 31) - 1;

// The product of positive factors, saturating at 2^62 (no overflow for any factors).
int64_t Product(std::initializer_list<int64_t> factors) {
  int64_t p = 1;
  for (int64_t f : factors) {
    if (f <= 0) return 0;
    if (p > (int64_t(1) << 62) / f) return int64_t(1) << 62;
    p *= f;
  }
  return p;
}

// A parameter range of n values at `offset` inside [0, P) (or offset -1 when `optional`), recorded
// in `ranges` for the overlap check.
PlanError ParamRangeIn(std::vector<std::pair<int64_t, int64_t>>& ranges, const std::string& name, int64_t offset,
                       int64_t n, int64_t P, bool optional) {
  if (optional && offset == -1) return {};
  if (offset < 0 || n > P || offset > P - n) {
    return Range("Invalid " + name + ": " + Num(double(offset)) + "; expected " + (optional ? "-1 or " : "") + "an offset of " + Num(double(n)) +
                 " values within the " + Num(double(P)) + " parameters");
  }
  ranges.push_back({offset, offset + n});
  return {};
}

// A step's window over (C, H, W) samples of `width` values: every size in [1, 2^30] (padding in
// [0, 2^30]), C*H*W = width, outH and outW among the sizes PyTorch's formula gives for an end
// padding in [0, max(pad, reach)], C*kH*kW below 2^31. Pools: padding at most half the effective
// kernel (PyTorch's rule: no window lies wholly in the padding); average pooling: dilation 1.
PlanError CheckWindow(const Window2d& g, const std::string& at, int64_t width, bool pool, bool avg) {
  const std::string p = at + ".window.";
  const std::pair<const char*, int64_t> sizes[] = {{"channels", g.channels}, {"height", g.height}, {"width", g.width},
                                                   {"kernelH", g.kernelH},   {"kernelW", g.kernelW}, {"strideH", g.strideH},
                                                   {"strideW", g.strideW},   {"dilationH", g.dilationH}, {"dilationW", g.dilationW},
                                                   {"outH", g.outH},         {"outW", g.outW}};
  for (const auto& [name, v] : sizes) {
    if (v < 1 || v > (int64_t(1) << 30)) return Range("Invalid " + p + name + ": " + Num(double(v)) + "; expected an integer in [1, 2^30]");
  }
  for (const auto& [name, v] : {std::pair<const char*, int64_t>{"padTop", g.padTop}, {"padLeft", g.padLeft}}) {
    if (v < 0 || v > (int64_t(1) << 30)) return Range("Invalid " + p + name + ": " + Num(double(v)) + "; expected an integer in [0, 2^30]");
  }
  if (Product({g.channels, g.height, g.width}) != width) {
    return Range("Invalid " + at + ".window: (channels, height, width) = (" + Num(double(g.channels)) + ", " + Num(double(g.height)) + ", " + Num(double(g.width)) +
                 ") is not the " + Num(double(width)) + " values per sample the previous layer produces");
  }
  if (Product({g.channels, g.kernelH, g.kernelW}) > kMax31) return Range("Invalid " + at + ".window: channels x kernelH x kernelW must be below 2^31");
  if (avg && (g.dilationH != 1 || g.dilationW != 1)) return Range("Invalid " + p + "dilationH/dilationW: " + Num(double(g.dilationH)) + "/" + Num(double(g.dilationW)) + "; average pooling takes dilation 1");
  struct Axis {
    const char* name;
    int64_t size, kernel, stride, pad, dilation, out;
  };
  for (const Axis& a : {Axis{"H", g.height, g.kernelH, g.strideH, g.padTop, g.dilationH, g.outH},
                        Axis{"W", g.width, g.kernelW, g.strideW, g.padLeft, g.dilationW, g.outW}}) {
    const int64_t reach = a.dilation * (a.kernel - 1);
    if (pool && a.pad * 2 > reach + 1) {
      return Range("Invalid " + p + (a.name[0] == 'H' ? "padTop" : "padLeft") + ": " + Num(double(a.pad)) + "; pooling padding must be at most half the effective kernel size (" +
                   Num(double(reach + 1)) + ")");
    }
    int64_t lo = 0, hi = 0;
    ops::OutputSizeRange(a.size, a.kernel, a.stride, a.pad, a.dilation, &lo, &hi);
    if (a.out < std::max<int64_t>(lo, 1) || a.out > hi) {
      return Range("Invalid " + p + "out" + a.name + ": " + Num(double(a.out)) + "; the window's size, kernel, stride, padding and dilation give " +
                   (hi < 1 ? std::string("no output") : "an output size in [" + Num(double(std::max<int64_t>(lo, 1))) + ", " + Num(double(hi)) + "]"));
    }
  }
  return {};
}

}  // namespace

PlanError ValidateSpec(const SpecDesc& spec, int64_t paramsLength, int64_t gradsLength, int64_t stateLength,
                       int64_t rngStateLength) {
  const int64_t kMaxDim = int64_t(1) << 30;
  auto dim = [&](const char* name, int64_t v) -> PlanError {
    if (v < 1 || v > kMaxDim) return Range(std::string("Invalid ") + name + ": " + Num(double(v)) + "; expected an integer in [1, 2^30]");
    return {};
  };
  if (auto e = dim("spec.inFeatures", spec.inFeatures); !e.ok()) return e;
  if (auto e = dim("spec.outFeatures", spec.outFeatures); !e.ok()) return e;
  if (auto e = dim("spec.batchSize", spec.batchSize); !e.ok()) return e;
  const int64_t P = spec.paramCount;
  if (P < 0 || P > (int64_t(1) << 40)) return Range("Invalid spec.paramCount: " + Num(double(P)) + "; expected a non-negative integer");
  if (spec.layers.empty()) return Range("Invalid spec.layers: expected at least one layer");
  if (paramsLength < P) return Range("Invalid buffers.params: expected at least spec.paramCount = " + Num(double(P)) + " values but received " + Num(double(paramsLength)));
  if (gradsLength < P) return Range("Invalid buffers.grads: expected at least spec.paramCount = " + Num(double(P)) + " values but received " + Num(double(gradsLength)));
  const int64_t need = int64_t(ops::OptimizerSlots(spec.optimizer, spec.hyper)) * P;
  if (stateLength < need) return Range("Invalid buffers.state: optimizer needs " + Num(double(need)) + " values (stateSlots x paramCount) but received " + Num(double(stateLength)));
  if (rngStateLength != 4) return Range("Invalid buffers.rngState: expected 4 uint32 words but received " + Num(double(rngStateLength)));

  // Layer chain, parameter ranges (inside [0, P), not overlapping), workspace sizes.
  std::vector<std::pair<int64_t, int64_t>> ranges;
  std::vector<std::pair<size_t, int64_t>> open;  // residualStarts not closed yet: index, width
  int64_t width = spec.inFeatures;
  for (size_t i = 0; i < spec.layers.size(); i++) {
    const LayerDesc& l = spec.layers[i];
    const std::string at = "spec.layers[" + std::to_string(i) + "]";
    switch (l.kind) {
      case LayerKind::dense: {
        if (l.inFeatures != width) return Range("Invalid " + at + ".inFeatures: " + Num(double(l.inFeatures)) + "; the previous layer produces " + Num(double(width)));
        if (auto e = dim((at + ".outFeatures").c_str(), l.outFeatures); !e.ok()) return e;
        const int64_t wn = l.inFeatures * l.outFeatures;
        if (l.weightOffset < 0 || l.weightOffset + wn > P) return Range("Invalid " + at + ".weightOffset: " + Num(double(l.weightOffset)) + "; the (" + Num(double(l.outFeatures)) + ", " + Num(double(l.inFeatures)) + ") weight must lie within the " + Num(double(P)) + " parameters");
        ranges.push_back({l.weightOffset, l.weightOffset + wn});
        if (l.biasOffset != -1) {
          if (l.biasOffset < 0 || l.biasOffset + l.outFeatures > P) return Range("Invalid " + at + ".biasOffset: " + Num(double(l.biasOffset)) + "; expected -1 or a bias of " + Num(double(l.outFeatures)) + " values within the " + Num(double(P)) + " parameters");
          ranges.push_back({l.biasOffset, l.biasOffset + l.outFeatures});
        }
        if (spec.batchSize * l.outFeatures > (int64_t(1) << 31) - 1 || wn > (int64_t(1) << 31) - 1) return Range("Invalid " + at + ": batchSize x outFeatures and the weight size must each be below 2^31");
        width = l.outFeatures;
        break;
      }
      case LayerKind::activation:
        if (!IsFinite(l.alpha)) return Range("Invalid " + at + ".alpha: " + Num(l.alpha) + "; expected a finite number");
        break;
      case LayerKind::softmax:
        break;
      case LayerKind::dropout:
        if (!(l.rate >= 0 && l.rate < 1)) return Range("Invalid " + at + ".rate: " + Num(l.rate) + "; expected a number in [0, 1)");
        break;
      case LayerKind::conv2d: {
        if (auto e = CheckWindow(l.window, at, width, false, false); !e.ok()) return e;
        if (auto e = dim((at + ".outChannels").c_str(), l.outChannels); !e.ok()) return e;
        const Window2d& g = l.window;
        const int64_t k = g.channels * g.kernelH * g.kernelW;  // < 2^31 (CheckWindow)
        const int64_t out = Product({l.outChannels, g.outH, g.outW});
        const int64_t wn = Product({l.outChannels, k});
        if (out > kMax31 || wn > kMax31 || Product({spec.batchSize, out}) > kMax31 || Product({k, spec.batchSize, g.outH, g.outW}) > kMax31) {
          return Range("Invalid " + at + ": the output (" + Num(double(l.outChannels)) + ", " + Num(double(g.outH)) + ", " + Num(double(g.outW)) + ") of batchSize samples, the weight and the unrolled input (C*kH*kW x batchSize*outH*outW) must each hold fewer than 2^31 values");
        }
        if (auto e = ParamRangeIn(ranges, at + ".weightOffset", l.weightOffset, wn, P, false); !e.ok()) return e;
        if (auto e = ParamRangeIn(ranges, at + ".biasOffset", l.biasOffset, l.outChannels, P, true); !e.ok()) return e;
        width = out;
        break;
      }
      case LayerKind::maxPool2d:
      case LayerKind::avgPool2d: {
        const bool avg = l.kind == LayerKind::avgPool2d;
        if (auto e = CheckWindow(l.window, at, width, true, avg); !e.ok()) return e;
        const Window2d& g = l.window;
        const int64_t out = Product({g.channels, g.outH, g.outW});
        if (Product({spec.batchSize, out}) > kMax31) return Range("Invalid " + at + ": batchSize x the output (" + Num(double(g.channels)) + ", " + Num(double(g.outH)) + ", " + Num(double(g.outW)) + ") must be below 2^31");
        width = out;
        break;
      }
      case LayerKind::batchNorm: {
        if (auto e = dim((at + ".channels").c_str(), l.channels); !e.ok()) return e;
        if (auto e = dim((at + ".spatial").c_str(), l.spatial); !e.ok()) return e;
        if (Product({l.channels, l.spatial}) != width) return Range("Invalid " + at + ": channels x spatial = " + Num(double(l.channels)) + " x " + Num(double(l.spatial)) + "; the previous layer produces " + Num(double(width)) + " values per sample");
        if (!(l.momentum >= 0 && l.momentum <= 1)) return Range("Invalid " + at + ".momentum: " + Num(l.momentum) + "; expected a number in [0, 1]");
        if (!(IsFinite(l.eps) && l.eps > 0)) return Range("Invalid " + at + ".eps: " + Num(l.eps) + "; expected a finite number > 0");
        if (auto e = ParamRangeIn(ranges, at + ".weightOffset", l.weightOffset, l.channels, P, false); !e.ok()) return e;
        if (auto e = ParamRangeIn(ranges, at + ".biasOffset", l.biasOffset, l.channels, P, false); !e.ok()) return e;
        if (auto e = ParamRangeIn(ranges, at + ".runningMeanOffset", l.runningMeanOffset, l.channels, P, false); !e.ok()) return e;
        if (auto e = ParamRangeIn(ranges, at + ".runningVarOffset", l.runningVarOffset, l.channels, P, false); !e.ok()) return e;
        break;
      }
      case LayerKind::layerNorm: {
        if (auto e = dim((at + ".size").c_str(), l.size); !e.ok()) return e;
        if (width % l.size != 0) return Range("Invalid " + at + ".size: " + Num(double(l.size)) + "; expected a divisor of the " + Num(double(width)) + " values per sample the previous layer produces");
        if (!(IsFinite(l.eps) && l.eps > 0)) return Range("Invalid " + at + ".eps: " + Num(l.eps) + "; expected a finite number > 0");
        if (auto e = ParamRangeIn(ranges, at + ".weightOffset", l.weightOffset, l.size, P, false); !e.ok()) return e;
        if (auto e = ParamRangeIn(ranges, at + ".biasOffset", l.biasOffset, l.size, P, false); !e.ok()) return e;
        break;
      }
      case LayerKind::residualStart:
        open.push_back({i, width});
        break;
      case LayerKind::residualEnd:
        if (open.empty()) return Range("Invalid " + at + ": a residualEnd without a residualStart before it");
        if (open.back().second != width) {
          return Range("Invalid " + at + ": the residual body ends with " + Num(double(width)) + " values per sample but its residualStart (spec.layers[" + std::to_string(open.back().first) + "]) passed on " + Num(double(open.back().second)) + "; a residual body must keep the width");
        }
        open.pop_back();
        break;
    }
  }
  if (!open.empty()) return Range("Invalid spec.layers[" + std::to_string(open.back().first) + "]: a residualStart without its residualEnd");
  if (width != spec.outFeatures) return Range("Invalid spec.outFeatures: " + Num(double(spec.outFeatures)) + "; the last layer produces " + Num(double(width)));
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
      if (c < 0 || c >= spec.outFeatures) return Range("Invalid run.y[" + Num(double(r)) + "]: class " + Num(double(c)) + "; expected a class index in [0, " + Num(double(spec.outFeatures)) + ")");
    }
  }
  return {};
}

}  // namespace plan
}  // namespace blasnet
