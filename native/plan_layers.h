// Each step kind's forward and backward pass in the fused plan, one function each; the step loop
// (plan_steps.cc) dispatches to them by one switch over LayerKind (no default case: a kind without
// its functions does not build). The math of each op is defined once, in ops/*.h; these are the
// plan's arrangements of it (GEMMs accumulating onto the bias, activations fused into the pass
// that follows a GEMM, ...).
//
// Forward: reads op.inPtr (rows, op.in), sets op.outPtr (rows, op.out).
// Backward: d (rows, op.out) holds dL/d(output); the function leaves dL/d(input) in d or in
// `other` and returns which (the caller ping-pongs the two delta buffers).
// Inlined into the step loop, so compiled per ISA with it.
#pragma once
#include <cblas.h>

#include <cstdint>
#include <cstring>

#include "ops/activations.h"
#include "ops/softmax.h"
#include "plan_activations.h"
#include "plan_gemm.h"
#include "plan_isa.h"
#include "plan_workspace.h"
#include "rng.h"

namespace blasnet {
namespace plan {

// --- dense (with the activation after it fused in) ----------------------------------------------
// x (rows, in), W (out, in), z = x W^T + b (rows, out), a = f(z).

BN_INLINE void DenseForward(Op& op, int64_t rows) {
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

BN_INLINE float* DenseBackward(Op& op, float* d, float* other, int64_t rows) {
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

// --- activation (one not fused into a dense step) -----------------------------------------------

BN_INLINE void ActivationStepForward(Op& op, int64_t rows) {
  if (op.act == Activation::linear) {
    op.outPtr = op.inPtr;
  } else {
    ActForward(op.act, op.a, op.inPtr, rows * op.out, op.alpha);
    op.outPtr = op.a;
  }
}

BN_INLINE float* ActivationStepBackward(Op& op, float* d, int64_t rows) {
  ActBackward(op.act, d, op.inPtr, op.outPtr, rows * op.out, op.alpha);
  return d;
}

// --- softmax ------------------------------------------------------------------------------------

BN_INLINE void SoftmaxStepForward(Op& op, int64_t rows) {
  ops::SoftmaxForward(op.a, op.inPtr, int(rows), int(op.out));
  op.outPtr = op.a;
}

BN_INLINE float* SoftmaxStepBackward(Op& op, float* d, int64_t rows) {
  ops::SoftmaxBackward(d, d, op.a, int(rows), int(op.out));
  return d;
}

// --- dropout (inverted: kept values scaled by 1 / (1 - rate)) -----------------------------------

BN_INLINE void DropoutForward(Op& op, int64_t rows, bool training, Rng& rng) {
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

BN_INLINE float* DropoutBackward(Op& op, float* d, int64_t rows) {
  if (op.inPtr != nullptr) {
    const int64_t n = rows * op.out;
    for (int64_t k = 0; k < n; k++) d[k] *= op.mask[k];
  }
  return d;
}

}  // namespace plan
}  // namespace blasnet
