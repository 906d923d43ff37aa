// The native kernels (see kernels.h). No N-API here.
//
// Vectorization: no -march flag is used, so the library runs on any x86-64. The hot element-wise
// kernels carry BLASNET_CLONES: GCC compiles each one for baseline x86-64 (SSE2), x86-64-v3 (AVX2 +
// FMA) and x86-64-v4 (AVX-512) and picks one at load time (an ifunc). Reductions use
// `#pragma omp simd reduction(...)` (-fopenmp-simd, no OpenMP runtime), which lets the compiler
// reorder just those sums. exp, sigmoid and tanh are fast_math.h's (shared with the fused plan):
// polynomials the compiler vectorizes, within its measured bounds (1.7e-7 relative error), giving
// the same values as the fused plan's on the same CPU.
#include "kernels.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "fast_math.h"
#include "ops/activations.h"
#include "ops/optimizers.h"

// -DBLASNET_NO_CLONES builds the baseline version only (as plan.cc): scripts/check-baseline-build.sh
// uses it to test the code a CPU without AVX2 runs.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__ELF__) && \
    !defined(BLASNET_NO_CLONES)
#define BLASNET_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#define BLASNET_CLONE_LEVELS 1
#elif defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 6 && defined(__ELF__) && \
    !defined(BLASNET_NO_CLONES)
#define BLASNET_CLONES __attribute__((target_clones("default", "avx2", "avx512f")))
#define BLASNET_CLONE_LEVELS 2
#else
#define BLASNET_CLONES
#define BLASNET_CLONE_LEVELS 0
#endif

#define BLASNET_INLINE inline __attribute__((always_inline))

namespace blasnet {

namespace {

// The fused plan's fast float32 math (fast_math.h): branch-free, so loops calling it vectorize.
using fastmath::Exp;
using fastmath::Sigmoid;

}  // namespace

const char* SimdLevel() {
#if BLASNET_CLONE_LEVELS == 1
  if (__builtin_cpu_supports("x86-64-v4")) return "avx512 (x86-64-v4)";
  if (__builtin_cpu_supports("x86-64-v3")) return "avx2 (x86-64-v3)";
  return "sse2 (x86-64 baseline)";
#elif BLASNET_CLONE_LEVELS == 2
  if (__builtin_cpu_supports("avx512f")) return "avx512f";
  if (__builtin_cpu_supports("avx2")) return "avx2";
  return "sse2 (x86-64 baseline)";
#elif defined(__x86_64__) && defined(BLASNET_NO_CLONES)
  return "sse2 (x86-64 baseline only: BLASNET_NO_CLONES)";
#else
  return "compiler default (no per-ISA dispatch)";
#endif
}

// ---------------------------------------------------------------------------------------------
// GEMM

BLASNET_CLONES
static void scale_or_zero(float* c, int64_t count, float beta) {
  if (beta == 0.0f) {
    for (int64_t i = 0; i < count; i++) c[i] = 0.0f;
  } else if (beta != 1.0f) {
    for (int64_t i = 0; i < count; i++) c[i] *= beta;
  }
}

void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, const float* b,
          float beta, float* c) {
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.0f) {
    // op(A) op(B) is an empty sum, or scaled by 0: C = beta * C, and A and B are not read (so NaN
    // in them does not reach C), as the BLAS reference does.
    scale_or_zero(c, int64_t(m) * n, beta);
    return;
  }
  const int lda = trans_a ? m : k;
  const int ldb = trans_b ? k : n;
  if (beta == 0.0f) {
    // The BLAS standard lets beta = 0 skip reading C; zero it ourselves so NaN never survives,
    // whatever the BLAS build does, and then accumulate onto the zeros (beta = 1): OpenBLAS's
    // threaded driver would otherwise run its own beta = 0 pass over C again, which costs more than
    // this one (see GemmWeightGrad in plan.cc for the measurement).
    scale_or_zero(c, int64_t(m) * n, 0.0f);
    beta = 1.0f;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k,
              alpha, a, lda, b, ldb, beta, c, n);
}

// ---------------------------------------------------------------------------------------------
// Bias

BLASNET_CLONES
void bias_add(float* y, const float* bias, int rows, int cols) {
  for (int r = 0; r < rows; r++) {
    float* yr = y + int64_t(r) * cols;
    for (int j = 0; j < cols; j++) yr[j] += bias[j];
  }
}

BLASNET_CLONES
void bias_grad(float* db, const float* dy, int rows, int cols, float beta) {
  // Column sums in double, a block of columns at a time (a small stack accumulator, no allocation).
  constexpr int kBlock = 256;
  double acc[kBlock];
  for (int j0 = 0; j0 < cols; j0 += kBlock) {
    const int w = std::min(kBlock, cols - j0);
    for (int j = 0; j < w; j++) acc[j] = 0.0;
    for (int r = 0; r < rows; r++) {
      const float* dyr = dy + int64_t(r) * cols + j0;
      for (int j = 0; j < w; j++) acc[j] += double(dyr[j]);
    }
    float* dbj = db + j0;
    if (beta == 0.0f) {
      for (int j = 0; j < w; j++) dbj[j] = float(acc[j]);
    } else {
      for (int j = 0; j < w; j++) dbj[j] = float(double(beta) * double(dbj[j]) + acc[j]);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Activations

namespace {

template <Activation A>
BLASNET_INLINE void activation_forward_loop(float* y, const float* x, int64_t n, float alpha) {
  for (int64_t i = 0; i < n; i++) y[i] = ops::ActivationForward<A>(x[i], alpha);
}

template <Activation A>
BLASNET_INLINE void activation_backward_loop(float* dx, const float* dy, const float* x, const float* y, int64_t n,
                                             float alpha) {
  for (int64_t i = 0; i < n; i++) dx[i] = ops::ActivationBackward<A>(dy[i], x[i], y[i], alpha);
}

}  // namespace

BLASNET_CLONES
void activation_forward(Activation act, float* y, const float* x, int64_t n, float alpha) {
  switch (act) {
#define BN_CASE(name, code)                                                \
  case Activation::name:                                                   \
    activation_forward_loop<Activation::name>(y, x, n, alpha);             \
    return;
    BN_ACTIVATIONS(BN_CASE)
#undef BN_CASE
  }
}

BLASNET_CLONES
void activation_backward(Activation act, float* dx, const float* dy, const float* x, const float* y, int64_t n,
                         float alpha) {
  switch (act) {
#define BN_CASE(name, code)                                                \
  case Activation::name:                                                   \
    activation_backward_loop<Activation::name>(dx, dy, x, y, n, alpha);    \
    return;
    BN_ACTIVATIONS(BN_CASE)
#undef BN_CASE
  }
}

// ---------------------------------------------------------------------------------------------
// Softmax

namespace {

// Largest value of x (cols); NaN values are skipped. Sixteen independent running maxima (a float
// max reduction is not vectorized without -ffinite-math-only, and `omp simd reduction(max)` is
// not in every target clone): the lanes vectorize, with no reordering of any one chain.
BLASNET_INLINE float row_max(const float* x, int cols) {
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
BLASNET_INLINE void exp_shift(float* y, const float* x, int cols, float m) {
  for (int j = 0; j < cols; j++) y[j] = Exp(x[j] - m);
}

BLASNET_INLINE double sum_double(const float* y, int cols) {
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (int j = 0; j < cols; j++) s += double(y[j]);
  return s;
}

// y = exp(x - m), returning the sum in double. y may equal x. (Two loops: GCC vectorizes each in
// every target clone, but not the fused form.)
BLASNET_INLINE double exp_shift_sum(float* y, const float* x, int cols, float m) {
  exp_shift(y, x, cols, m);
  return sum_double(y, cols);
}

// The sum of exp(x - m) without an output, through a small stack buffer.
BLASNET_INLINE double exp_shift_sum_ro(const float* x, int cols, float m) {
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

BLASNET_INLINE int block_rows(int rows_left, int cols) {
  return std::min(std::min(rows_left, kBlockRows), std::max(1, kBlockValues / std::max(cols, 1)));
}

// e (nr,cols) = exp(x - rowmax) for a block of rows (e may equal x); maxes (nr) = the row maxima,
// sums (nr) = the row sums of e, in double.
BLASNET_INLINE void exp_rows_small(float* e, const float* x, int nr, int cols, float* maxes, double* sums) {
  for (int i = 0; i < nr; i++) {
    const float* xi = x + int64_t(i) * cols;
    float* ei = e + int64_t(i) * cols;
    float m = -std::numeric_limits<float>::infinity();
    for (int j = 0; j < cols; j++) m = std::max(m, xi[j]);
    maxes[i] = m;
    for (int j = 0; j < cols; j++) ei[j] = xi[j] - m;
  }
  const int total = nr * cols;
  for (int k = 0; k < total; k++) e[k] = Exp(e[k]);
  for (int i = 0; i < nr; i++) {
    const float* ei = e + int64_t(i) * cols;
    double s = 0.0;
    for (int j = 0; j < cols; j++) s += double(ei[j]);
    sums[i] = s;
  }
}

}  // namespace

BLASNET_CLONES
void softmax_forward(float* y, const float* x, int rows, int cols) {
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

BLASNET_CLONES
void softmax_backward(float* dx, const float* dy, const float* y, int rows, int cols) {
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

// ---------------------------------------------------------------------------------------------
// Losses

BLASNET_CLONES
double regression_loss(RegressionLoss kind, float* grad, const float* pred, const float* target, int64_t n,
                       double delta) {
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

BLASNET_CLONES
double softmax_cross_entropy(float* grad, const float* logits, const int32_t* labels, int rows, int cols) {
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
        total += (double(maxes[i]) + std::log(sums[i])) - z_label[i];
        if (grad) {
          float* g = e + int64_t(i) * cols;
          const float scale_row = float(1.0 / sums[i]) * inv_rows;
          for (int j = 0; j < cols; j++) g[j] *= scale_row;
          g[labels[r0 + i]] -= inv_rows;
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
    const float m = row_max(z, cols);
    double s;
    if (grad) {
      float* g = grad + int64_t(r) * cols;
      s = exp_shift_sum(g, z, cols, m);
      const float scale_row = float(1.0 / s) * inv_rows;
      for (int j = 0; j < cols; j++) g[j] *= scale_row;
      g[label] -= inv_rows;
    } else {
      s = exp_shift_sum_ro(z, cols, m);
    }
    total += (double(m) + std::log(s)) - z_label;
  }
  return total / double(rows);
}

namespace {

// For the dense cross-entropy of one row: sum_j t_j and sum_j t_j z_j in double, skipping t_j = 0
// (a -inf logit of zero weight then adds 0, not NaN).
BLASNET_INLINE void target_sums(const float* t, const float* z, int cols, double* t_sum, double* tz) {
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

}  // namespace

BLASNET_CLONES
double softmax_cross_entropy_dense(float* grad, const float* logits, const float* targets, int rows, int cols) {
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
        total += (double(maxes[i]) + std::log(sums[i])) * t_sums[i] - tzs[i];
        if (grad) {
          float* g = e + int64_t(i) * cols;
          const float* t = tb + int64_t(i) * cols;
          const float scale_row = float(1.0 / sums[i]);
          for (int j = 0; j < cols; j++) g[j] = (g[j] * scale_row - t[j]) * inv_rows;
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
    double s;
    if (grad) {
      float* g = grad + int64_t(r) * cols;
      s = exp_shift_sum(g, z, cols, m);
      const float scale_row = float(1.0 / s);
      for (int j = 0; j < cols; j++) g[j] = (g[j] * scale_row - t[j]) * inv_rows;
    } else {
      s = exp_shift_sum_ro(z, cols, m);
    }
    total += (double(m) + std::log(s)) * t_sum - tz;
  }
  return total / double(rows);
}

BLASNET_CLONES
double bce_with_logits(float* grad, const float* logits, const float* targets, int64_t n) {
  double total = 0.0;
  for (int64_t i = 0; i < n; i++) {
    const double z = logits[i];
    const double t = targets[i];
    total += std::max(z, 0.0) - z * t + std::log1p(std::exp(-std::fabs(z)));
  }
  if (grad) {
    const float inv_n = float(1.0 / double(n));
    for (int64_t i = 0; i < n; i++) grad[i] = (Sigmoid(logits[i]) - targets[i]) * inv_n;
  }
  return total / double(n);
}

// ---------------------------------------------------------------------------------------------
// Optimizers

// The update rules and their arithmetic: ops/optimizers.h (shared with the fused plan).
BLASNET_CLONES
void optimizer_step(Optimizer kind, float* param, const float* grad, float* state, int64_t n, double lr,
                    int64_t step, const double* hyper) {
  ops::OptimizerStep(kind, param, grad, state, n, n, lr, step, hyper);
}

// ---------------------------------------------------------------------------------------------
// Reductions and small element-wise helpers

void argmax_rows(int32_t* out, const float* x, int rows, int cols) {
  for (int r = 0; r < rows; r++) {
    const float* xr = x + int64_t(r) * cols;
    int best = 0;
    float bv = xr[0];
    for (int j = 1; j < cols; j++) {
      if (xr[j] > bv) {
        bv = xr[j];
        best = j;
      }
    }
    out[r] = best;
  }
}

BLASNET_CLONES
double sum(const float* x, int64_t n) {
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; i++) s += double(x[i]);
  return s;
}

BLASNET_CLONES
double sum_squares(const float* x, int64_t n) {
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; i++) s += double(x[i]) * double(x[i]);
  return s;
}

BLASNET_CLONES
int64_t first_non_finite(const float* x, int64_t n) {
  // A float is NaN or +-inf exactly when its exponent field is all ones. (bits & 0x7f800000) +
  // 0x00800000 carries into bit 31 for exponent 0xff only, so OR-ing that over a block and testing
  // bit 31 checks the whole block with one integer OR per value (it vectorizes); a flagged block
  // is scanned again for the exact index. 4096 values (16 KiB) is still in L1 for the rescan.
  constexpr int64_t kBlock = 4096;
  constexpr uint32_t kExponent = 0x7f800000u;
  for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
    const float* xb = x + i0;
    const int64_t len = std::min(kBlock, n - i0);
    uint32_t acc = 0;
#pragma omp simd reduction(| : acc)
    for (int64_t i = 0; i < len; i++) acc |= (fastmath::AsBits(xb[i]) & kExponent) + 0x00800000u;
    if (acc & 0x80000000u) {
      for (int64_t i = 0; i < len; i++) {
        if ((fastmath::AsBits(xb[i]) & kExponent) == kExponent) return i0 + i;
      }
    }
  }
  return -1;
}

BLASNET_CLONES
void scale(float* x, int64_t n, double s) {
  for (int64_t i = 0; i < n; i++) x[i] = float(double(x[i]) * s);
}

BLASNET_CLONES
void clip(float* x, int64_t n, float lo, float hi) {
  for (int64_t i = 0; i < n; i++) x[i] = std::min(std::max(x[i], lo), hi);
}

}  // namespace blasnet
