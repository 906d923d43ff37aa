// The fused plan's softmax step over each sample's features (ops/softmax.h).
#pragma once
#include <cstdint>

#include "../ops/softmax.h"
#include "../plan_isa.h"
#include "../rng.h"
#include "step.h"

namespace blasnet {
namespace plan {

struct SoftmaxStep {
  struct Desc {};
  struct Fields {};

  template <class D, class R>
  static void Parse(D&, R&) {}

  template <class L>
  static PlanError Validate(const L&, ValidateContext&) {
    return {};
  }

  template <class Op, class L, class C>
  static void Compile(Op& op, const L&, C& c) {
    op.out = c.width;
    op.a = c.ws.Alloc(c.B * op.out);
  }

  template <class Op, class W>
  BN_INLINE static void Forward(Op& op, W&, int64_t rows, bool, Rng&) {
    ops::SoftmaxForward(op.a, op.inPtr, int(rows), int(op.out));
    op.outPtr = op.a;
  }

  template <class Op, class W>
  BN_INLINE static float* Backward(Op& op, W&, float* d, float*, int64_t rows) {
    ops::SoftmaxBackward(d, d, op.a, int(rows), int(op.out));
    return d;
  }
};

}  // namespace plan
}  // namespace blasnet
