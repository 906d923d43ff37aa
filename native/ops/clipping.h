// Gradient clipping, one definition: by value (Clip) and by global L2 norm (SumSquares, then
// Scale), used by the per-kernel entry points (kernels.cc: clip, sumSquares, scale) and by the
// fused plan's update (plan_steps.cc).
//
// Plain C++ (no N-API), always inlined into each caller's per-ISA clone.
#pragma once
#include <algorithm>
#include <cstdint>

#ifndef BN_OP_INLINE
#define BN_OP_INLINE inline __attribute__((always_inline))
#endif

namespace blasnet {
namespace ops {

/// Sum of squares of x (n), accumulated in double.
BN_OP_INLINE double SumSquares(const float* x, int64_t n) {
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; i++) s += double(x[i]) * double(x[i]);
  return s;
}

/// x (n) *= s (the product in double, rounded once).
BN_OP_INLINE void Scale(float* x, int64_t n, double s) {
  for (int64_t i = 0; i < n; i++) x[i] = float(double(x[i]) * s);
}

/// x (n) = min(max(x, lo), hi); NaN stays NaN.
BN_OP_INLINE void Clip(float* x, int64_t n, float lo, float hi) {
  for (int64_t i = 0; i < n; i++) x[i] = std::min(std::max(x[i], lo), hi);
}

}  // namespace ops
}  // namespace blasnet
