// The fused plan's activation step (one not fused into the dense or conv2d step before it): a flat
// pass of plan_activations.h over ops/activations.h. Its kind and alpha are the common LayerDesc
// and Op fields (the steps that fuse it read them too).
#pragma once
#include <cstdint>

#include "../ops/activations.h"
#include "../plan_activations.h"
#include "../plan_isa.h"
#include "../rng.h"
#include "step.h"

namespace blasnet {
namespace plan {

struct ActivationStep {
  struct Desc {};
  struct Fields {};

  template <class D, class R>
  static void Parse(D& d, R& r) {
    d.activation = r.ActivationKind("activation");
    d.alpha = r.Number("alpha");
  }

  template <class L>
  static PlanError Validate(const L& l, ValidateContext& c) {
    if (!IsFinite(l.alpha)) return Range("Invalid " + c.at + ".alpha: " + Num(l.alpha) + "; expected a finite number");
    return {};
  }

  template <class Op, class L, class C>
  static void Compile(Op& op, const L& l, C& c) {
    op.out = c.width;
    op.act = l.activation;
    op.alpha = float(l.alpha);
    op.a = op.act == Activation::linear ? nullptr : c.ws.Alloc(c.B * op.out);
  }

  template <class Op, class W>
  BN_INLINE static void Forward(Op& op, W&, int64_t rows, bool, Rng&) {
    if (op.act == Activation::linear) {
      op.outPtr = op.inPtr;
    } else {
      ActForward(op.act, op.a, op.inPtr, rows * op.out, op.alpha);
      op.outPtr = op.a;
    }
  }

  template <class Op, class W>
  BN_INLINE static float* Backward(Op& op, W&, float* d, float*, int64_t rows) {
    ActBackward(op.act, d, op.inPtr, op.outPtr, rows * op.out, op.alpha);
    return d;
  }
};

}  // namespace plan
}  // namespace blasnet
