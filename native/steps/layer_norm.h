// The fused plan's layer normalization step over groups of `size` consecutive values (the sample's
// last dimensions; ops/norm.h): gamma, beta (size) at weightOffset, biasOffset; the mean and 1/std
// of each group kept for the backward pass.
#pragma once
#include <cstdint>

#include "../ops/norm.h"
#include "../plan_isa.h"
#include "../rng.h"
#include "norm_affine.h"
#include "step.h"

namespace blasnet {
namespace plan {

struct LayerNormStep {
  struct Desc {
    int64_t size = 0;
  };
  struct Fields {
    int64_t size = 0;
  };

  template <class D, class R>
  static void Parse(D& d, R& r) {
    d.size = r.Int("size");
    NormAffine::Parse(d, r);
  }

  template <class L>
  static PlanError Validate(const L& l, ValidateContext& c) {
    const std::string& at = c.at;
    if (auto e = Dim(at + ".size", l.size); !e.ok()) return e;
    if (c.width % l.size != 0) return Range("Invalid " + at + ".size: " + Num(double(l.size)) + "; expected a divisor of the " + Num(double(c.width)) + " values per sample the previous layer produces");
    return NormAffine::Validate(l, c, l.size);
  }

  template <class Op, class L, class C>
  static void Compile(Op& op, const L& l, C& c) {
    op.out = c.width;
    op.size = l.size;
    NormAffine::Compile(op, l, c, l.size);
    op.mean = c.ws.Alloc(c.B * (c.width / l.size));
    op.variance = c.ws.Alloc(c.B * (c.width / l.size));
    op.a = c.ws.Alloc(c.B * op.out);
  }

  template <class Op, class W>
  BN_INLINE static void Forward(Op& op, W&, int64_t rows, bool, Rng&) {
    const int groups = int(rows * (op.out / op.size));
    ops::LayerNormForward(op.a, op.mean, op.variance, op.inPtr, op.w, op.b, groups, op.size, op.eps);
    op.outPtr = op.a;
  }

  template <class Op, class W>
  BN_INLINE static float* Backward(Op& op, W&, float* d, float*, int64_t rows) {
    const int groups = int(rows * (op.out / op.size));
    ops::LayerNormBackward(op.needDx ? d : nullptr, op.dw, op.db, d, op.inPtr, op.mean, op.variance, op.w, groups, op.size);
    return d;
  }
};

}  // namespace plan
}  // namespace blasnet
