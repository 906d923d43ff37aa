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
#include "ops/clipping.h"
#include "ops/conv.h"
#include "ops/norm.h"
#include "ops/pool.h"
#include "ops/losses.h"
#include "ops/optimizers.h"

// -DBLASNET_NO_CLONES builds the baseline version only (as plan_steps.cc): scripts/check-baseline-build.sh
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
    // this one (see GemmWeightGrad in plan_gemm.h for the measurement).
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
// Softmax and losses: the math is ops/softmax.h and ops/losses.h (shared with the fused plan).

BLASNET_CLONES
void softmax_forward(float* y, const float* x, int rows, int cols) { ops::SoftmaxForward(y, x, rows, cols); }

BLASNET_CLONES
void softmax_backward(float* dx, const float* dy, const float* y, int rows, int cols) {
  ops::SoftmaxBackward(dx, dy, y, rows, cols);
}

BLASNET_CLONES
double regression_loss(RegressionLoss kind, float* grad, const float* pred, const float* target, int64_t n,
                       double delta, const float* w, int64_t cols) {
  return ops::RegressionLossMean(kind, grad, pred, target, n, delta, w, cols);
}

BLASNET_CLONES
double softmax_cross_entropy(float* grad, const float* logits, const int32_t* labels, int rows, int cols, const float* w) {
  return ops::SoftmaxCrossEntropy(grad, logits, labels, rows, cols, w);
}

BLASNET_CLONES
double softmax_cross_entropy_dense(float* grad, const float* logits, const float* targets, int rows, int cols,
                                   const float* w) {
  return ops::SoftmaxCrossEntropyDense(grad, logits, targets, rows, cols, w);
}

BLASNET_CLONES
double bce_with_logits(float* grad, const float* logits, const float* targets, int64_t n, const float* w, int64_t cols) {
  return ops::BceWithLogits(grad, logits, targets, n, w, cols);
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
double sum_squares(const float* x, int64_t n) { return ops::SumSquares(x, n); }

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
void scale(float* x, int64_t n, double s) { ops::Scale(x, n, s); }

BLASNET_CLONES
void clip(float* x, int64_t n, float lo, float hi) { ops::Clip(x, n, lo, hi); }

// ---------------------------------------------------------------------------------------------
// Convolution, pooling and normalization: the math is ops/conv.h, ops/pool.h and ops/norm.h
// (shared with the fused plan).

BLASNET_CLONES
void add(float* out, const float* a, const float* b, int64_t n) { ops::Add(out, a, b, n); }

BLASNET_CLONES
void im2col(float* cols, const float* x, int rows, const Window2d& g) {
  ops::Im2col(cols, int64_t(rows) * g.outH * g.outW, x, rows, g);
}

BLASNET_CLONES
void col2im(float* dx, const float* cols, int rows, const Window2d& g) {
  ops::Col2im(dx, cols, int64_t(rows) * g.outH * g.outW, rows, g);
}

BLASNET_CLONES
void swap_axes01(float* out, const float* x, int64_t a, int64_t b, int64_t c) { ops::SwapAxes01(out, x, a, b, c); }

BLASNET_CLONES
void channel_bias_add(float* y, const float* bias, int rows, int channels, int64_t spatial) {
  ops::ChannelBiasAdd(y, bias, rows, channels, spatial);
}

BLASNET_CLONES
void channel_bias_grad(float* db, const float* dy, int rows, int channels, int64_t spatial) {
  ops::ChannelBiasGrad(db, dy, rows, channels, spatial);
}

BLASNET_CLONES
void max_pool2d_forward(float* y, int32_t* argmax, const float* x, int rows, const Window2d& g) {
  ops::MaxPool2dForward(y, argmax, x, rows, g);
}

BLASNET_CLONES
void max_pool2d_backward(float* dx, const float* dy, const int32_t* argmax, int rows, const Window2d& g) {
  ops::MaxPool2dBackward(dx, dy, argmax, rows, g);
}

BLASNET_CLONES
void avg_pool2d_forward(float* y, const float* x, int rows, const Window2d& g) { ops::AvgPool2dForward(y, x, rows, g); }

BLASNET_CLONES
void avg_pool2d_backward(float* dx, const float* dy, int rows, const Window2d& g) {
  ops::AvgPool2dBackward(dx, dy, rows, g);
}

BLASNET_CLONES
void batch_norm_stats(float* mean, float* variance, const float* x, int rows, int channels, int64_t spatial) {
  ops::BatchNormStats(mean, variance, x, rows, channels, spatial);
}

BLASNET_CLONES
void batch_norm_forward(float* y, const float* x, const float* mean, const float* variance, const float* gamma,
                        const float* beta, int rows, int channels, int64_t spatial, double eps) {
  ops::BatchNormForward(y, x, mean, variance, gamma, beta, rows, channels, spatial, eps);
}

BLASNET_CLONES
void batch_norm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* mean,
                         const float* variance, const float* gamma, int rows, int channels, int64_t spatial,
                         double eps, bool batch_stats) {
  ops::BatchNormBackward(dx, dgamma, dbeta, dy, x, mean, variance, gamma, rows, channels, spatial, eps, batch_stats);
}

BLASNET_CLONES
void layer_norm_forward(float* y, float* mean, float* inv_std, const float* x, const float* gamma, const float* beta,
                        int groups, int64_t size, double eps) {
  ops::LayerNormForward(y, mean, inv_std, x, gamma, beta, groups, size, eps);
}

BLASNET_CLONES
void layer_norm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* mean,
                         const float* inv_std, const float* gamma, int groups, int64_t size) {
  ops::LayerNormBackward(dx, dgamma, dbeta, dy, x, mean, inv_std, gamma, groups, size);
}

}  // namespace blasnet
