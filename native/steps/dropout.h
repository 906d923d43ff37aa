// The fused plan's dropout step, inverted: while training each value is kept with probability
// 1 - rate and scaled by 1 / (1 - rate), from the plan's xoshiro128** stream (rng.h, the
// TypeScript generator's twin); the identity otherwise.
#pragma once
#include <cstdint>

#include "../plan_isa.h"
#include "../rng.h"
#include "step.h"

namespace blasnet {
namespace plan {

struct DropoutStep {
  struct Desc {
    double rate = 0;
  };
  struct Fields {
    double rate = 0;
    double keepScale = 1;
    float* mask = nullptr;  // kept-and-scaled mask (B, out)
  };

  template <class D, class R>
  static void Parse(D& d, R& r) {
    d.rate = r.Number("rate");
  }

  template <class L>
  static PlanError Validate(const L& l, ValidateContext& c) {
    if (!(l.rate >= 0 && l.rate < 1)) return Range("Invalid " + c.at + ".rate: " + Num(l.rate) + "; expected a number in [0, 1)");
    return {};
  }

  template <class Op, class L, class C>
  static void Compile(Op& op, const L& l, C& c) {
    op.out = c.width;
    op.rate = l.rate;
    op.keepScale = 1.0 / (1.0 - l.rate);
    op.a = c.ws.Alloc(c.B * op.out);
    op.mask = c.ws.Alloc(c.B * op.out);
    c.ws.hasDropout = true;
  }

  template <class Op, class W>
  BN_INLINE static void Forward(Op& op, W&, int64_t rows, bool training, Rng& rng) {
    const int64_t n = rows * op.out;
    if (!training || op.rate == 0.0) {
      op.outPtr = op.inPtr;  // identity (mask of ones)
      op.inPtr = nullptr;    // tells backward there is no mask to apply
      return;
    }
    const float* x = op.inPtr;
    const double rate = op.rate;
    const double keepScale = op.keepScale;
    const float maskKeep = float(keepScale);
    for (int64_t i = 0; i < n; i++) {
      const bool keep = double(rng.Uniform()) >= rate;
      op.mask[i] = keep ? maskKeep : 0.0f;
      op.a[i] = keep ? float(double(x[i]) * keepScale) : 0.0f;
    }
    op.outPtr = op.a;
  }

  template <class Op, class W>
  BN_INLINE static float* Backward(Op& op, W&, float* d, float*, int64_t rows) {
    if (op.inPtr != nullptr) {
      const int64_t n = rows * op.out;
      for (int64_t k = 0; k < n; k++) d[k] *= op.mask[k];
    }
    return d;
  }
};

}  // namespace plan
}  // namespace blasnet
