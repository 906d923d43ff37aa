// The losses, one definition each: mean over the batch and (when grad is not null) the gradient
// of that mean. The per-kernel entry points (kernels.cc) and the fused plan (plan_steps.cc) both call
// these. Sums in double; the gradients in float.
//
// Optional per-row weights w (rows; nullptr: all 1), Keras' sample weights: the loss is
// sum_r w_r loss_r / rows (divided by the rows, not the weights' sum) and row r's gradient is
// scaled by w_r. The element-wise losses take `cols` values per row (n = rows * cols).
//
// Plain C++ (no N-API), always inlined into each caller's per-ISA clone.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "../fast_math.h"

// Losses: the regression ones (element-wise, the regressionLoss kernel) first, then the rest.
// Their math is below (codes: the contract with lib/ops/losses.ts).
#define BN_REGRESSION_LOSSES(X) \
  X(mse, 0)                     \
  X(mae, 1)                     \
  X(huber, 2)
#define BN_LOSSES(X)        \
  BN_REGRESSION_LOSSES(X)   \
  X(crossEntropy, 3)        \
  X(crossEntropyDense, 4)   \
  X(bce, 5)

namespace blasnet {
#define BN_ENUMERATOR(name, code, ...) name = code,
enum class RegressionLoss : int { BN_REGRESSION_LOSSES(BN_ENUMERATOR) };
enum class Loss : int { BN_LOSSES(BN_ENUMERATOR) };
#undef BN_ENUMERATOR
}  // namespace blasnet
#include "softmax.h"

#ifndef BN_OP_INLINE
#define BN_OP_INLINE inline __attribute__((always_inline))
#endif

namespace blasnet {
namespace ops {

// RegressionLossMean with weights w (n / cols rows): each value's term and gradient times its row's
// weight, in double as the TypeScript kernel computes them.
BN_OP_INLINE double WeightedRegressionLossMean(RegressionLoss kind, float* grad, const float* pred, const float* target,
                                               int64_t n, double delta, const float* w, int64_t cols) {
  double total = 0.0;
  const double inv_n = 1.0 / double(n);
  for (int64_t i = 0; i < n; i++) {
    const double wr = w[i / cols];
    const double d = double(pred[i]) - double(target[i]);
    const double a = std::fabs(d);
    switch (kind) {
      case RegressionLoss::mse:
        total += wr * d * d;
        if (grad) grad[i] = float(2.0 * inv_n * wr * d);
        break;
      case RegressionLoss::mae:
        total += wr * a;
        if (grad) grad[i] = d > 0.0 ? float(inv_n * wr) : (d < 0.0 ? float(-inv_n * wr) : 0.0f);
        break;
      case RegressionLoss::huber:
        if (a <= delta) {
          total += wr * 0.5 * d * d;
          if (grad) grad[i] = float(inv_n * wr * d);
        } else {
          total += wr * delta * (a - 0.5 * delta);
          if (grad) grad[i] = d > 0.0 ? float(inv_n * wr * delta) : float(-inv_n * wr * delta);
        }
        break;
    }
  }
  return total * inv_n;
}

// Mean over n of e(pred - target) (MSE d^2, MAE |d|, Huber with `delta`); pred, target, grad are (n).
// grad (nullable) = d(mean)/d(pred); MAE's gradient at d = 0 is 0; NaN stays NaN. n = 0 gives NaN.
BN_OP_INLINE double RegressionLossMean(RegressionLoss kind, float* grad, const float* pred, const float* target, int64_t n,
                       double delta, const float* w = nullptr, int64_t cols = 1) {
  if (w) return WeightedRegressionLossMean(kind, grad, pred, target, n, delta, w, cols);
  double total = 0.0;
  const float inv_n = float(1.0 / double(n));
  switch (kind) {
    case RegressionLoss::mse:
#pragma omp simd reduction(+ : total)
      for (int64_t i = 0; i < n; i++) {
        const double d = double(pred[i]) - double(target[i]);
        total += d * d;
      }
      if (grad) {
        const float g = 2.0f * inv_n;
        for (int64_t i = 0; i < n; i++) grad[i] = g * (pred[i] - target[i]);
      }
      break;
    case RegressionLoss::mae:
#pragma omp simd reduction(+ : total)
      for (int64_t i = 0; i < n; i++) total += std::fabs(double(pred[i]) - double(target[i]));
      if (grad) {
        for (int64_t i = 0; i < n; i++) {
          const float d = pred[i] - target[i];
          grad[i] = d > 0.0f ? inv_n : (d < 0.0f ? -inv_n : 0.0f);
        }
      }
      break;
    case RegressionLoss::huber: {
      const double dd = delta;
      const float df = float(delta);
#pragma omp simd reduction(+ : total)
      for (int64_t i = 0; i < n; i++) {
        const double d = double(pred[i]) - double(target[i]);
        const double a = std::fabs(d);
        total += a <= dd ? 0.5 * d * d : dd * (a - 0.5 * dd);
      }
      if (grad) {
        for (int64_t i = 0; i < n; i++) {
          const float d = pred[i] - target[i];
          const float c = std::min(std::max(d, -df), df);
          grad[i] = c * inv_n;
        }
      }
      break;
    }
  }
  return total / double(n);
}

// Mean over rows of logsumexp(z) - z[label]; logits (rows,cols), labels (rows) each in [0, cols).
// grad (rows,cols) (nullable, may equal logits) = (softmax(z) - onehot) / rows.
BN_OP_INLINE double SoftmaxCrossEntropy(float* grad, const float* logits, const int32_t* labels, int rows, int cols,
                                        const float* w = nullptr) {
  double total = 0.0;
  const float inv_rows = float(1.0 / double(rows));
  if (cols < kSmallCols) {
    float maxes[kBlockRows];
    double sums[kBlockRows];
    double z_label[kBlockRows];
    float scratch[kBlockValues];
    for (int r0 = 0; r0 < rows;) {
      const int nr = block_rows(rows - r0, cols);
      const float* zb = logits + int64_t(r0) * cols;
      // Read the labelled logits before grad (which may alias logits) is written.
      for (int i = 0; i < nr; i++) z_label[i] = zb[int64_t(i) * cols + labels[r0 + i]];
      float* e = grad ? grad + int64_t(r0) * cols : scratch;
      exp_rows_small(e, zb, nr, cols, maxes, sums);
      for (int i = 0; i < nr; i++) {
        const float wr = w ? w[r0 + i] : 1.0f;
        total += double(wr) * ((double(maxes[i]) + std::log(sums[i])) - z_label[i]);
        if (grad) {
          float* g = e + int64_t(i) * cols;
          const float scale_row = float(1.0 / sums[i]) * inv_rows * wr;
          for (int j = 0; j < cols; j++) g[j] *= scale_row;
          g[labels[r0 + i]] -= inv_rows * wr;
        }
      }
      r0 += nr;
    }
    return total / double(rows);
  }
  for (int r = 0; r < rows; r++) {
    const float* z = logits + int64_t(r) * cols;
    const int label = labels[r];
    const double z_label = z[label];  // read before grad (which may alias logits) is written
    const float wr = w ? w[r] : 1.0f;
    const float m = row_max(z, cols);
    double s;
    if (grad) {
      float* g = grad + int64_t(r) * cols;
      s = exp_shift_sum(g, z, cols, m);
      const float scale_row = float(1.0 / s) * inv_rows * wr;
      for (int j = 0; j < cols; j++) g[j] *= scale_row;
      g[label] -= inv_rows * wr;
    } else {
      s = exp_shift_sum_ro(z, cols, m);
    }
    total += double(wr) * ((double(m) + std::log(s)) - z_label);
  }
  return total / double(rows);
}


// For the dense cross-entropy of one row: sum_j t_j and sum_j t_j z_j in double, skipping t_j = 0
// (a -inf logit of zero weight then adds 0, not NaN).
BN_OP_INLINE void target_sums(const float* t, const float* z, int cols, double* t_sum, double* tz) {
  double a = 0.0;
  double b = 0.0;
  for (int j = 0; j < cols; j++) {
    if (t[j] != 0.0f) {
      a += double(t[j]);
      b += double(t[j]) * double(z[j]);
    }
  }
  *t_sum = a;
  *tz = b;
}


// Mean over rows of -sum_j t_j log softmax(z)_j; logits and targets (rows,cols).
// grad (rows,cols) (nullable, may equal logits) = (softmax(z) - t) / rows.
BN_OP_INLINE double SoftmaxCrossEntropyDense(float* grad, const float* logits, const float* targets, int rows, int cols,
                                             const float* w = nullptr) {
  double total = 0.0;
  const float inv_rows = float(1.0 / double(rows));
  // Row loss: -sum_j t_j (z_j - lse) = lse sum_j t_j - sum_j t_j z_j, with both sums read before
  // grad (which may alias logits) is written.
  if (cols < kSmallCols) {
    float maxes[kBlockRows];
    double sums[kBlockRows];
    double t_sums[kBlockRows];
    double tzs[kBlockRows];
    float scratch[kBlockValues];
    for (int r0 = 0; r0 < rows;) {
      const int nr = block_rows(rows - r0, cols);
      const float* zb = logits + int64_t(r0) * cols;
      const float* tb = targets + int64_t(r0) * cols;
      for (int i = 0; i < nr; i++) target_sums(tb + int64_t(i) * cols, zb + int64_t(i) * cols, cols, &t_sums[i], &tzs[i]);
      float* e = grad ? grad + int64_t(r0) * cols : scratch;
      exp_rows_small(e, zb, nr, cols, maxes, sums);
      for (int i = 0; i < nr; i++) {
        const float wr = w ? w[r0 + i] : 1.0f;
        total += double(wr) * ((double(maxes[i]) + std::log(sums[i])) * t_sums[i] - tzs[i]);
        if (grad) {
          float* g = e + int64_t(i) * cols;
          const float* t = tb + int64_t(i) * cols;
          const float scale_row = float(1.0 / sums[i]);
          const float row_scale = inv_rows * wr;
          for (int j = 0; j < cols; j++) g[j] = (g[j] * scale_row - t[j]) * row_scale;
        }
      }
      r0 += nr;
    }
    return total / double(rows);
  }
  for (int r = 0; r < rows; r++) {
    const float* z = logits + int64_t(r) * cols;
    const float* t = targets + int64_t(r) * cols;
    const float m = row_max(z, cols);
    double t_sum;
    double tz;
    target_sums(t, z, cols, &t_sum, &tz);
    const float wr = w ? w[r] : 1.0f;
    double s;
    if (grad) {
      float* g = grad + int64_t(r) * cols;
      s = exp_shift_sum(g, z, cols, m);
      const float scale_row = float(1.0 / s);
      const float row_scale = inv_rows * wr;
      for (int j = 0; j < cols; j++) g[j] = (g[j] * scale_row - t[j]) * row_scale;
    } else {
      s = exp_shift_sum_ro(z, cols, m);
    }
    total += double(wr) * ((double(m) + std::log(s)) * t_sum - tz);
  }
  return total / double(rows);
}

// Mean over n of max(z,0) - z t + log(1 + exp(-|z|)); logits z (n), targets t (n).
// grad (n) (nullable) = (sigmoid(z) - t) / n.
BN_OP_INLINE double BceWithLogits(float* grad, const float* logits, const float* targets, int64_t n,
                                  const float* w = nullptr, int64_t cols = 1) {
  double total = 0.0;
  for (int64_t i = 0; i < n; i++) {
    const double z = logits[i];
    const double t = targets[i];
    const double e = std::max(z, 0.0) - z * t + std::log1p(std::exp(-std::fabs(z)));
    total += w ? double(w[i / cols]) * e : e;
  }
  if (grad) {
    const float inv_n = float(1.0 / double(n));
    if (w) {
      for (int64_t i = 0; i < n; i++) grad[i] = (fastmath::Sigmoid(logits[i]) - targets[i]) * (inv_n * w[i / cols]);
    } else {
      for (int64_t i = 0; i < n; i++) grad[i] = (fastmath::Sigmoid(logits[i]) - targets[i]) * inv_n;
    }
  }
  return total / double(n);
}

}  // namespace ops
}  // namespace blasnet
