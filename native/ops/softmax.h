// Softmax over rows, one definition: the per-kernel entry points (kernels.cc) and the fused plan
// (plan_steps.cc: softmax layers) both call SoftmaxForward / SoftmaxBackward, and the cross-entropy
// losses (losses.h) use the same row helpers. Sums in double; exp is fast_math.h's; a row's max
// skips NaN (std::max keeps its first argument when the second is NaN).
//
// Plain C++ (no N-API), always inlined into each caller's per-ISA clone. Shapes: x, y, dx, dy are
// (rows, cols) row-major; y may equal x and dx may equal dy.
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>

#include "../fast_math.h"

#ifndef BN_OP_INLINE
#define BN_OP_INLINE inline __attribute__((always_inline))
#endif

namespace blasnet {
namespace ops {

// Largest value of x (cols); NaN values are skipped. Sixteen independent running maxima (a float
// max reduction is not vectorized without -ffinite-math-only, and `omp simd reduction(max)` is
// not in every target clone): the lanes vectorize, with no reordering of any one chain.
BN_OP_INLINE float row_max(const float* x, int cols) {
  constexpr int kLanes = 16;
  float acc[kLanes];
  for (int l = 0; l < kLanes; l++) acc[l] = -std::numeric_limits<float>::infinity();
  int j = 0;
  for (; j + kLanes <= cols; j += kLanes) {
    for (int l = 0; l < kLanes; l++) acc[l] = std::max(acc[l], x[j + l]);
  }
  float m = -std::numeric_limits<float>::infinity();
  for (; j < cols; j++) m = std::max(m, x[j]);
  for (int l = 0; l < kLanes; l++) m = std::max(m, acc[l]);
  return m;
}

// y (cols) = exp(x - m); y may equal x.
BN_OP_INLINE void exp_shift(float* y, const float* x, int cols, float m) {
  for (int j = 0; j < cols; j++) y[j] = fastmath::Exp(x[j] - m);
}

BN_OP_INLINE double sum_double(const float* y, int cols) {
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (int j = 0; j < cols; j++) s += double(y[j]);
  return s;
}

// y = exp(x - m), returning the sum in double. y may equal x. (Two loops: GCC vectorizes each in
// every target clone, but not the fused form.)
BN_OP_INLINE double exp_shift_sum(float* y, const float* x, int cols, float m) {
  exp_shift(y, x, cols, m);
  return sum_double(y, cols);
}

// The sum of exp(x - m) without an output, through a small stack buffer.
BN_OP_INLINE double exp_shift_sum_ro(const float* x, int cols, float m) {
  constexpr int kChunk = 256;
  float tmp[kChunk];
  double s = 0.0;
  for (int j0 = 0; j0 < cols; j0 += kChunk) {
    const int w = std::min(kChunk, cols - j0);
    exp_shift(tmp, x + j0, w, m);
    s += sum_double(tmp, w);
  }
  return s;
}

// Rows with few columns (a classifier's 10 logits) spend more on per-row loop set-up than on
// arithmetic, so they go in blocks: row maxima, then ONE vectorized exp over the whole block, then
// the row sums.
constexpr int kSmallCols = 64;
constexpr int kBlockRows = 256;
constexpr int kBlockValues = 4096;

BN_OP_INLINE int block_rows(int rows_left, int cols) {
  return std::min(std::min(rows_left, kBlockRows), std::max(1, kBlockValues / std::max(cols, 1)));
}

// e (nr,cols) = exp(x - rowmax) for a block of rows (e may equal x); maxes (nr) = the row maxima,
// sums (nr) = the row sums of e, in double.
BN_OP_INLINE void exp_rows_small(float* e, const float* x, int nr, int cols, float* maxes, double* sums) {
  for (int i = 0; i < nr; i++) {
    const float* xi = x + int64_t(i) * cols;
    float* ei = e + int64_t(i) * cols;
    float m = -std::numeric_limits<float>::infinity();
    for (int j = 0; j < cols; j++) m = std::max(m, xi[j]);
    maxes[i] = m;
    for (int j = 0; j < cols; j++) ei[j] = xi[j] - m;
  }
  const int total = nr * cols;
  for (int k = 0; k < total; k++) e[k] = fastmath::Exp(e[k]);
  for (int i = 0; i < nr; i++) {
    const float* ei = e + int64_t(i) * cols;
    double s = 0.0;
    for (int j = 0; j < cols; j++) s += double(ei[j]);
    sums[i] = s;
  }
}


// y (rows,cols) = row-wise softmax of x (rows,cols), max-subtracted; y may equal x.
BN_OP_INLINE void SoftmaxForward(float* y, const float* x, int rows, int cols) {
  if (cols < kSmallCols) {
    float maxes[kBlockRows];
    double sums[kBlockRows];
    for (int r0 = 0; r0 < rows;) {
      const int nr = block_rows(rows - r0, cols);
      float* yb = y + int64_t(r0) * cols;
      exp_rows_small(yb, x + int64_t(r0) * cols, nr, cols, maxes, sums);
      for (int i = 0; i < nr; i++) {
        const float inv = float(1.0 / sums[i]);
        float* yi = yb + int64_t(i) * cols;
        for (int j = 0; j < cols; j++) yi[j] *= inv;
      }
      r0 += nr;
    }
    return;
  }
  for (int r = 0; r < rows; r++) {
    const float* xr = x + int64_t(r) * cols;
    float* yr = y + int64_t(r) * cols;
    const float m = row_max(xr, cols);
    const float inv = float(1.0 / exp_shift_sum(yr, xr, cols, m));
    for (int j = 0; j < cols; j++) yr[j] *= inv;
  }
}

// dx (rows,cols) = y * (dy - rowsum(dy * y)); dx may equal dy.
BN_OP_INLINE void SoftmaxBackward(float* dx, const float* dy, const float* y, int rows, int cols) {
  for (int r = 0; r < rows; r++) {
    const float* dyr = dy + int64_t(r) * cols;
    const float* yr = y + int64_t(r) * cols;
    float* dxr = dx + int64_t(r) * cols;
    double dot = 0.0;
#pragma omp simd reduction(+ : dot)
    for (int j = 0; j < cols; j++) dot += double(dyr[j]) * double(yr[j]);
    const float d = float(dot);
    for (int j = 0; j < cols; j++) dxr[j] = yr[j] * (dyr[j] - d);
  }
}

}  // namespace ops
}  // namespace blasnet
