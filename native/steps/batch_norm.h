// The fused plan's batch normalization step over (C = channels, S = spatial) samples (ops/norm.h):
// gamma at weightOffset, beta at biasOffset, running statistics at their offsets (C each; frozen
// ranges that only the training forward pass changes).
//
// Training: the batch's statistics, then the running ones move towards them (PyTorch's rule, in
// double as the TypeScript reference: running_var takes the unbiased variance, m/(m-1), m = rows*S;
// the variance itself when m = 1). Inference: the running statistics.
#pragma once
#include <cstdint>

#include "../ops/norm.h"
#include "../plan_isa.h"
#include "../rng.h"
#include "norm_affine.h"
#include "step.h"

namespace blasnet {
namespace plan {

struct BatchNormStep {
  struct Desc {
    int64_t channels = 0, spatial = 0;
    double momentum = 0;
    int64_t runningMeanOffset = -1, runningVarOffset = -1;
  };
  struct Fields {
    int64_t channels = 0, spatial = 0;
    double momentum = 0;
    float* runningMean = nullptr;
    float* runningVar = nullptr;
    bool batchStats = false;  // the last forward pass normalized with the batch's statistics
  };

  template <class D, class R>
  static void Parse(D& d, R& r) {
    d.channels = r.Int("channels");
    d.spatial = r.Int("spatial");
    d.momentum = r.Number("momentum");
    NormAffine::Parse(d, r);
    d.runningMeanOffset = r.Int("runningMeanOffset");
    d.runningVarOffset = r.Int("runningVarOffset");
  }

  template <class L>
  static PlanError Validate(const L& l, ValidateContext& c) {
    const std::string& at = c.at;
    const int64_t P = c.paramCount;
    if (auto e = Dim(at + ".channels", l.channels); !e.ok()) return e;
    if (auto e = Dim(at + ".spatial", l.spatial); !e.ok()) return e;
    if (Product({l.channels, l.spatial}) != c.width) return Range("Invalid " + at + ": channels x spatial = " + Num(double(l.channels)) + " x " + Num(double(l.spatial)) + "; the previous layer produces " + Num(double(c.width)) + " values per sample");
    if (auto e = NormHyper(at + ".momentum", l.momentum, l.momentum >= 0 && l.momentum <= 1, "a number in [0, 1]"); !e.ok()) return e;
    if (auto e = NormAffine::Validate(l, c, l.channels); !e.ok()) return e;
    if (auto e = ParamRangeIn(c.ranges, at + ".runningMeanOffset", l.runningMeanOffset, l.channels, P, false); !e.ok()) return e;
    if (auto e = ParamRangeIn(c.ranges, at + ".runningVarOffset", l.runningVarOffset, l.channels, P, false); !e.ok()) return e;
    return {};
  }

  template <class Op, class L, class C>
  static void Compile(Op& op, const L& l, C& c) {
    op.out = c.width;
    op.channels = l.channels;
    op.spatial = l.spatial;
    op.momentum = l.momentum;
    NormAffine::Compile(op, l, c, l.channels);
    op.runningMean = c.params + l.runningMeanOffset;
    op.runningVar = c.params + l.runningVarOffset;
    for (int64_t off : {l.runningMeanOffset, l.runningVarOffset}) c.own.push_back({off, off + l.channels});
    op.mean = c.ws.Alloc(op.channels);
    op.variance = c.ws.Alloc(op.channels);
    op.a = c.ws.Alloc(c.B * op.out);
  }

  template <class Op, class W>
  BN_INLINE static void Forward(Op& op, W&, int64_t rows, bool training, Rng&) {
    const int C = int(op.channels);
    op.batchStats = training;
    if (!training) {
      ops::BatchNormForward(op.a, op.inPtr, op.runningMean, op.runningVar, op.w, op.b, int(rows), C, op.spatial, op.eps);
    } else {
      ops::BatchNormStats(op.mean, op.variance, op.inPtr, int(rows), C, op.spatial);
      ops::BatchNormForward(op.a, op.inPtr, op.mean, op.variance, op.w, op.b, int(rows), C, op.spatial, op.eps);
      const double m = double(rows) * double(op.spatial);
      const double unbias = m > 1 ? m / (m - 1) : 1;
      const double mo = op.momentum;
      for (int c = 0; c < C; c++) {
        op.runningMean[c] = float((1 - mo) * double(op.runningMean[c]) + mo * double(op.mean[c]));
        op.runningVar[c] = float((1 - mo) * double(op.runningVar[c]) + mo * double(op.variance[c]) * unbias);
      }
    }
    op.outPtr = op.a;
  }

  template <class Op, class W>
  BN_INLINE static float* Backward(Op& op, W&, float* d, float*, int64_t rows) {
    const float* mean = op.batchStats ? op.mean : op.runningMean;
    const float* variance = op.batchStats ? op.variance : op.runningVar;
    ops::BatchNormBackward(op.needDx ? d : nullptr, op.dw, op.db, d, op.inPtr, mean, variance, op.w, int(rows),
                           int(op.channels), op.spatial, op.eps, op.batchStats);
    return d;
  }
};

}  // namespace plan
}  // namespace blasnet
