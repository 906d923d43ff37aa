// What the fused plan's two norm steps (batch_norm.h, layer_norm.h) share: eps and an affine part,
// gamma at weightOffset and beta at biasOffset, n values each (channels for batch norm, the
// normalized size for layer norm). Read, checked and compiled here once, so both steps take eps by
// the same rule (finite and > 0, as the layer factories in lib/nn/layers/) and give the same messages.
#pragma once
#include <cstdint>
#include <string>

#include "step.h"

namespace blasnet {
namespace plan {

// A norm step's number hyperparameter (eps, momentum): `ok` says whether `v` is allowed; the message
// names the field and says what was expected.
inline PlanError NormHyper(const std::string& name, double v, bool ok, const char* expected) {
  if (!ok) return Range("Invalid " + name + ": " + Num(v) + "; expected " + expected);
  return {};
}

struct NormAffine {
  template <class D, class R>
  static void Parse(D& d, R& r) {
    d.eps = r.Number("eps");
    d.weightOffset = r.Int("weightOffset");
    d.biasOffset = r.Int("biasOffset");
  }

  template <class L>
  static PlanError Validate(const L& l, ValidateContext& c, int64_t n) {
    const std::string& at = c.at;
    if (auto e = NormHyper(at + ".eps", l.eps, IsFinite(l.eps) && l.eps > 0, "a finite number > 0"); !e.ok()) return e;
    if (auto e = ParamRangeIn(c.ranges, at + ".weightOffset", l.weightOffset, n, c.paramCount, false); !e.ok()) return e;
    return ParamRangeIn(c.ranges, at + ".biasOffset", l.biasOffset, n, c.paramCount, false);
  }

  template <class Op, class L, class C>
  static void Compile(Op& op, const L& l, C& c, int64_t n) {
    op.eps = l.eps;
    op.w = c.params + l.weightOffset;
    op.dw = c.grads + l.weightOffset;
    op.b = c.params + l.biasOffset;
    op.db = c.grads + l.biasOffset;
    c.own.push_back({l.weightOffset, l.weightOffset + n});
    c.own.push_back({l.biasOffset, l.biasOffset + n});
  }
};

}  // namespace plan
}  // namespace blasnet
