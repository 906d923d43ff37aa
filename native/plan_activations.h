// The fused plan's activation passes: its loops over the per-element definitions in
// ops/activations.h (one definition per activation; these are the arrangements the step loop uses:
// flat passes, and the derivative fused with the bias gradient's column sums).
// Inlined into the step loop (plan_steps.cc), so compiled per ISA with it.
#pragma once
#include <cstdint>

#include "ops/activations.h"
#include "ops/kinds.h"
#include "plan_isa.h"

namespace blasnet {
namespace plan {

// ---------------------------------------------------------------------------------------------
// Activations: the loops of the fused plan over the per-element definitions in ops/activations.h.

// Fused backward prologue: d (rows, cols) = dA * f'(x, y) in place, and db = column sums of it.
template <Activation A>
BN_INLINE void ActBackBiasT(float* d, const float* x, const float* y, float* __restrict db, int64_t rows,
                            int64_t cols, float alpha) {
  for (int64_t j = 0; j < cols; j++) db[j] = 0.0f;
  for (int64_t i = 0; i < rows; i++) {
    float* di = d + i * cols;
    const float* xi = x + i * cols;
    const float* yi = y + i * cols;
    for (int64_t j = 0; j < cols; j++) {
      float g = di[j];
      if constexpr (A != Activation::linear) {
        g = ops::ActivationBackward<A>(g, xi[j], yi[j], alpha);
        di[j] = g;
      }
      db[j] += g;
    }
  }
}

BN_INLINE void ActBackBias(Activation act, float* d, const float* x, const float* y, float* db, int64_t rows,
                           int64_t cols, float alpha) {
  switch (act) {
#define BN_CASE(name, code) \
  case Activation::name: ActBackBiasT<Activation::name>(d, x, y, db, rows, cols, alpha); return;
    BN_ACTIVATIONS(BN_CASE)
#undef BN_CASE
  }
}

// db (cols) = column sums of d (rows, cols), for narrow d (the dense step calls it below 16
// columns): each column summed in a register, rows in order (see plan_gemm.h on why).
BN_INLINE void ColumnSums(float* __restrict db, const float* __restrict d, int64_t rows, int64_t cols) {
  for (int64_t j = 0; j < cols; j++) {
    float s = d[j];
    for (int64_t i = 1; i < rows; i++) s += d[i * cols + j];
    db[j] = s;
  }
}

template <Activation A>
BN_INLINE void ActForwardT(float* y, const float* x, int64_t n, float alpha) {
  for (int64_t i = 0; i < n; i++) y[i] = ops::ActivationForward<A>(x[i], alpha);
}

BN_INLINE void ActForward(Activation act, float* y, const float* x, int64_t n, float alpha) {
  switch (act) {
#define BN_CASE(name, code) \
  case Activation::name: ActForwardT<Activation::name>(y, x, n, alpha); return;
    BN_ACTIVATIONS(BN_CASE)
#undef BN_CASE
  }
}

template <Activation A>
BN_INLINE void ActBackwardT(float* d, const float* x, const float* y, int64_t n, float alpha) {
  if constexpr (A != Activation::linear) {
    for (int64_t i = 0; i < n; i++) d[i] = ops::ActivationBackward<A>(d[i], x[i], y[i], alpha);
  }
}

BN_INLINE void ActBackward(Activation act, float* d, const float* x, const float* y, int64_t n, float alpha) {
  switch (act) {
#define BN_CASE(name, code) \
  case Activation::name: ActBackwardT<Activation::name>(d, x, y, n, alpha); return;
    BN_ACTIVATIONS(BN_CASE)
#undef BN_CASE
  }
}

}  // namespace plan
}  // namespace blasnet
