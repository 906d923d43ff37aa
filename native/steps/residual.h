// The fused plan's residual blocks, y = x + f(x): the residualStart and residualEnd steps, which pair
// like parentheses around the body f (one file for the pair: each reads the other's state).
// residualStart is the identity (its input stays where it is: the end reads it there);
// residualEnd adds it. Backward: the end keeps dy (the gradient around the body) and passes it into
// the body; the start adds the kept dy to what came through the body. Their partner index and the
// kept buffer are common Op fields (both kinds use them).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

#include "../ops/conv.h"  // Add
#include "../plan_isa.h"
#include "../rng.h"
#include "step.h"

namespace blasnet {
namespace plan {

// The pairing of the two kinds, checked in one place. Within the spec (afterLast false, from a
// residualEnd's Validate): the end closes the innermost open residualStart, whose width the body must
// keep. After the last step (afterLast true, from plan_validate.cc): no residualStart is left open.
inline PlanError CheckResidualPartner(ValidateContext& c, bool afterLast) {
  if (c.open.empty()) return afterLast ? PlanError{} : Range("Invalid " + c.at + ": a residualEnd without a residualStart before it");
  const auto [start, width] = c.open.back();
  const std::string startAt = "spec.layers[" + std::to_string(start) + "]";
  if (afterLast) return Range("Invalid " + startAt + ": a residualStart without its residualEnd");
  if (width != c.width) {
    return Range("Invalid " + c.at + ": the residual body ends with " + Num(double(c.width)) + " values per sample but its residualStart (" + startAt + ") passed on " +
                 Num(double(width)) + "; a residual body must keep the width");
  }
  c.open.pop_back();
  return {};
}

struct ResidualStartStep {
  struct Desc {};
  struct Fields {};

  template <class D, class R>
  static void Parse(D&, R&) {}

  template <class L>
  static PlanError Validate(const L&, ValidateContext& c) {
    c.open.push_back({c.index, c.width});
    return {};
  }

  template <class Op, class L, class C>
  static void Compile(Op& op, const L&, C& c) {
    op.out = c.width;
    c.open.push_back(c.ws.ops.size());
  }

  template <class Op, class W>
  BN_INLINE static void Forward(Op& op, W&, int64_t, bool, Rng&) {
    op.outPtr = op.inPtr;
  }

  template <class Op, class W>
  BN_INLINE static float* Backward(Op& op, W&, float* d, float*, int64_t rows) {
    ops::Add(d, d, op.kept, rows * op.out);
    return d;
  }
};

struct ResidualEndStep {
  struct Desc {};
  struct Fields {};

  template <class D, class R>
  static void Parse(D&, R&) {}

  template <class L>
  static PlanError Validate(const L&, ValidateContext& c) {
    return CheckResidualPartner(c, false);
  }

  template <class Op, class L, class C>
  static void Compile(Op& op, const L&, C& c) {
    op.out = c.width;
    op.partner = c.open.back();
    c.open.pop_back();
    c.ws.ops[op.partner].partner = c.ws.ops.size();
    op.a = c.ws.Alloc(c.B * op.out);
    op.kept = c.ws.Alloc(c.B * op.out);
    c.ws.ops[op.partner].kept = op.kept;
  }

  template <class Op, class W>
  BN_INLINE static void Forward(Op& op, W& ws, int64_t rows, bool, Rng&) {
    ops::Add(op.a, op.inPtr, ws.ops[op.partner].inPtr, rows * op.out);
    op.outPtr = op.a;
  }

  template <class Op, class W>
  BN_INLINE static float* Backward(Op& op, W&, float* d, float*, int64_t rows) {
    std::memcpy(op.kept, d, size_t(rows * op.out) * sizeof(float));
    return d;
  }
};

}  // namespace plan
}  // namespace blasnet
