// The fused plan's dense step (with the activation step right after it fused in): x (rows, in),
// W (out, in), z = x W^T + b (rows, out), a = f(z). Its math: a GEMM accumulating onto the bias
// rows (plan_gemm.h), the activation passes of plan_activations.h over ops/activations.h.
#pragma once
#include <cblas.h>

#include <cstdint>
#include <cstring>

#include "../ops/activations.h"
#include "../plan_activations.h"
#include "../plan_gemm.h"
#include "../plan_isa.h"
#include "../rng.h"
#include "step.h"

namespace blasnet {
namespace plan {

struct DenseStep {
  struct Desc {
    int64_t inFeatures = 0;
    int64_t outFeatures = 0;
  };
  struct Fields {
    float* wt = nullptr;  // (in, out) transpose scratch for the loop path, or null
  };

  template <class D, class R>
  static void Parse(D& d, R& r) {
    d.inFeatures = r.Int("inFeatures");
    d.outFeatures = r.Int("outFeatures");
    d.weightOffset = r.Int("weightOffset");
    d.biasOffset = r.Int("biasOffset");
  }

  template <class L>
  static PlanError Validate(const L& l, ValidateContext& c) {
    const std::string& at = c.at;
    const int64_t P = c.paramCount;
    if (l.inFeatures != c.width) return Range("Invalid " + at + ".inFeatures: " + Num(double(l.inFeatures)) + "; the previous layer produces " + Num(double(c.width)));
    if (auto e = Dim(at + ".outFeatures", l.outFeatures); !e.ok()) return e;
    const int64_t wn = l.inFeatures * l.outFeatures;
    if (l.weightOffset < 0 || l.weightOffset + wn > P) return Range("Invalid " + at + ".weightOffset: " + Num(double(l.weightOffset)) + "; the (" + Num(double(l.outFeatures)) + ", " + Num(double(l.inFeatures)) + ") weight must lie within the " + Num(double(P)) + " parameters");
    c.ranges.push_back({l.weightOffset, l.weightOffset + wn});
    if (l.biasOffset != -1) {
      if (l.biasOffset < 0 || l.biasOffset + l.outFeatures > P) return Range("Invalid " + at + ".biasOffset: " + Num(double(l.biasOffset)) + "; expected -1 or a bias of " + Num(double(l.outFeatures)) + " values within the " + Num(double(P)) + " parameters");
      c.ranges.push_back({l.biasOffset, l.biasOffset + l.outFeatures});
    }
    if (c.batchSize * l.outFeatures > kMax31 || wn > kMax31) return Range("Invalid " + at + ": batchSize x outFeatures and the weight size must each be below 2^31");
    c.width = l.outFeatures;
    return {};
  }

  template <class Op, class L, class C>
  static void Compile(Op& op, const L& l, C& c) {
    op.out = l.outFeatures;
    op.w = c.params + l.weightOffset;
    op.dw = c.grads + l.weightOffset;
    op.b = l.biasOffset >= 0 ? c.params + l.biasOffset : c.ws.Alloc(op.out);  // zeros
    op.db = l.biasOffset >= 0 ? c.grads + l.biasOffset : c.ws.Alloc(op.out);  // scratch
    c.own.push_back({l.weightOffset, l.weightOffset + l.inFeatures * l.outFeatures});
    if (l.biasOffset >= 0) c.own.push_back({l.biasOffset, l.biasOffset + l.outFeatures});
    if (op.in * op.out <= kLoopForwardMax) op.wt = c.ws.Alloc(op.in * op.out);
    c.FuseActivation(op);
    op.z = c.ws.Alloc(c.B * op.out);
    op.a = op.act == Activation::linear ? op.z : c.ws.Alloc(c.B * op.out);
  }

  template <class Op, class W>
  BN_INLINE static void Forward(Op& op, W&, int64_t rows, bool, Rng&) {
    const float* x = op.inPtr;
    if (UseLoops(rows, op.out, op.in)) {
      // Small: bias folded into the loop GEMM.
      Transpose(op.wt, op.w, op.out, op.in);
      LoopNN(op.z, x, op.wt, rows, op.out, op.in, op.b);
    } else {
      // z (rows, out) = bias rows + x (rows, in) * W^T (W stored (out, in); the GEMM accumulates
      // onto the bias, see GemmWeightGrad).
      for (int64_t r = 0; r < rows; r++) std::memcpy(op.z + r * op.out, op.b, size_t(op.out) * sizeof(float));
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rows), int(op.out), int(op.in), 1.0f, x, int(op.in), op.w,
                  int(op.in), 1.0f, op.z, int(op.out));
    }
    // Then the activation in one flat (vectorized) pass over all rows * out values of z.
    if (op.act != Activation::linear) ActForward(op.act, op.a, op.z, rows * op.out, op.alpha);
    op.outPtr = op.a;
  }

  template <class Op, class W>
  BN_INLINE static float* Backward(Op& op, W&, float* d, float* other, int64_t rows) {
    // For relu the output stands in for the pre-activation (same sign).
    const float* x = ops::ActivationBackwardReadsInput(op.act) ? op.z : op.a;
    if (op.out < 16) {
      // Narrow: flat (vectorized) derivative pass, then the column sums.
      ActBackward(op.act, d, x, op.a, rows * op.out, op.alpha);
      ColumnSums(op.db, d, rows, op.out);
    } else {
      ActBackBias(op.act, d, x, op.a, op.db, rows, op.out, op.alpha);
    }
    GemmWeightGrad(op.dw, d, op.inPtr, rows, op.out, op.in);
    if (!op.needDx) return d;
    GemmInputGrad(other, d, op.w, rows, op.out, op.in);
    return other;
  }
};

}  // namespace plan
}  // namespace blasnet
