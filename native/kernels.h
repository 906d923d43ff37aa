// The native kernels: plain C++ over raw float buffers, no N-API, so they can be tested and timed
// alone and called directly by the fused plan (native/plan_steps.cc).
//
// Same semantics and argument order as `Kernels` in lib/backend/backend.ts: outputs first, then
// inputs, then sizes, then scalars. Matrices are row-major and packed. Every kernel trusts its
// arguments (the binding in kernel_binding.cc checks them): buffers hold at least the values the
// shapes need, dimensions are >= 0 and every element count fits in 2^31-1.
//
// Element-wise loops are compiled once per ISA (baseline x86-64, AVX2, AVX-512) and dispatched at
// load time; GEMM goes to OpenBLAS (cblas_sgemm).
#pragma once
#include <cstdint>

#include "ops/kinds.h"
#include "ops/window.h"

namespace blasnet {

// C (m,n) = alpha * op(A) * op(B) + beta * C; op(A) is (m,k): A is stored (m,k), or (k,m) when
// trans_a; op(B) is (k,n): B is stored (k,n), or (n,k) when trans_b. beta = 0 overwrites C (NaN in
// C does not propagate). m, n or k = 0 never reaches BLAS (k = 0: C = beta * C).
void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, const float* b,
          float beta, float* c);

// y (rows,cols) += bias (cols), broadcast over rows.
void bias_add(float* y, const float* bias, int rows, int cols);

// db (cols) = beta * db + column sums of dy (rows,cols), summed in double. beta is 0 or 1.
void bias_grad(float* db, const float* dy, int rows, int cols, float beta);

// y (n) = f(x); y may equal x. alpha: leakyRelu's negative slope. The math: ops/activations.h.
void activation_forward(Activation act, float* y, const float* x, int64_t n, float alpha);

// dx (n) = dy * f'(x), from the forward input x (n) and output y (n); dx may equal dy.
// sigmoid and tanh read y; the others read x.
void activation_backward(Activation act, float* dx, const float* dy, const float* x, const float* y,
                         int64_t n, float alpha);

// y (rows,cols) = row-wise softmax of x (rows,cols), max-subtracted; y may equal x.
void softmax_forward(float* y, const float* x, int rows, int cols);

// dx (rows,cols) = y * (dy - rowsum(dy * y)), from dy (rows,cols) and y (rows,cols); dx may equal dy.
void softmax_backward(float* dx, const float* dy, const float* y, int rows, int cols);

// Mean over n of e(pred - target) (MSE d^2, MAE |d|, Huber with `delta`); pred, target, grad are (n).
// grad (nullable) = d(mean)/d(pred); MAE's gradient at d = 0 is 0. n = 0 gives NaN (0/0).
// Each loss takes optional per-row weights w (nullable; ops/losses.h): the element-wise ones with
// `cols` values per row.
double regression_loss(RegressionLoss kind, float* grad, const float* pred, const float* target, int64_t n,
                       double delta, const float* w, int64_t cols);

// Mean over rows of logsumexp(z) - z[label]; logits (rows,cols), labels (rows) each in [0, cols).
// grad (rows,cols) (nullable) = (softmax(z) - onehot) / rows.
double softmax_cross_entropy(float* grad, const float* logits, const int32_t* labels, int rows, int cols, const float* w);

// Mean over rows of -sum_j t_j log softmax(z)_j; logits and targets (rows,cols).
// grad (rows,cols) (nullable) = (softmax(z) - t) / rows.
double softmax_cross_entropy_dense(float* grad, const float* logits, const float* targets, int rows, int cols,
                                   const float* w);

// Mean over n of max(z,0) - z t + log(1 + exp(-|z|)); logits z (n), targets t (n).
// grad (n) (nullable) = (sigmoid(z) - t) / n.
double bce_with_logits(float* grad, const float* logits, const float* targets, int64_t n, const float* w, int64_t cols);

// One optimizer step (ops/optimizers.h), in place over param and grad (n) and the optimizer's
// state: OptimizerSlots(kind, hyper) slots of n values, slot s at state + s * n. step: the 1-based
// step number; hyper: kOptimizerHyperCount values in kinds.h's order.
void optimizer_step(Optimizer kind, float* param, const float* grad, float* state, int64_t n, double lr,
                    int64_t step, const double* hyper);

// out (rows) = index of the largest value in each row of x (rows,cols), the first on ties.
// cols >= 1 when rows > 0.
void argmax_rows(int32_t* out, const float* x, int rows, int cols);

// Sum of x (n), accumulated in double.
double sum(const float* x, int64_t n);

// Sum of squares of x (n), accumulated in double.
double sum_squares(const float* x, int64_t n);

// Index (in [0, n)) of the first NaN or +-inf in x (n), or -1 if every value is finite. Decided on
// the bits (exponent field all ones), so +-0, subnormals and +-FLT_MAX are finite whatever the
// floating-point mode. Unlike the other kernels, n may exceed 2^31-1.
int64_t first_non_finite(const float* x, int64_t n);

// x (n) *= s (the product in double, rounded once).
void scale(float* x, int64_t n, double s);

// x (n) = min(max(x, lo), hi).
void clip(float* x, int64_t n, float lo, float hi);

// --- Convolution, pooling, normalization: the math is ops/conv.h, ops/pool.h, ops/norm.h. ---
// x, dx (rows, C, H, W); y, dy, argmax (rows, C, outH, outW); cols (C*kH*kW, rows*outH*outW).
using ops::Window2d;

// out (n) = a (n) + b (n); out may equal a or b.
void add(float* out, const float* a, const float* b, int64_t n);

// cols[(c*kH + i)*kW + j][n*outH*outW + oh*outW + ow] = x[n, c, h, w] (0 in the padding).
void im2col(float* cols, const float* x, int rows, const Window2d& g);

// dx = the adjoint of im2col applied to cols (overwrites dx).
void col2im(float* dx, const float* cols, int rows, const Window2d& g);

// out (b, a, c) = x (a, b, c) with the first two axes swapped; out must not overlap x.
void swap_axes01(float* out, const float* x, int64_t a, int64_t b, int64_t c);

// y (rows, C, S) += bias (C).
void channel_bias_add(float* y, const float* bias, int rows, int channels, int64_t spatial);

// db (C) = sum over rows and S of dy (rows, C, S), in double (overwrites db).
void channel_bias_grad(float* db, const float* dy, int rows, int channels, int64_t spatial);

// y = window maxima, argmax = h*W + w of the first (NaN wins; -1 for a window with no input tap).
void max_pool2d_forward(float* y, int32_t* argmax, const float* x, int rows, const Window2d& g);

// dx = 0, then dx[n, c, argmax] += dy (argmax in [-1, H*W), -1 skipped).
void max_pool2d_backward(float* dx, const float* dy, const int32_t* argmax, int rows, const Window2d& g);

// y = window sums of the taps inside the input / (kH*kW).
void avg_pool2d_forward(float* y, const float* x, int rows, const Window2d& g);

// dx = the adjoint of avg_pool2d_forward applied to dy (overwrites dx).
void avg_pool2d_backward(float* dx, const float* dy, int rows, const Window2d& g);

// mean, variance (C) of x (rows, C, S) per channel (biased; double, two passes).
void batch_norm_stats(float* mean, float* variance, const float* x, int rows, int channels, int64_t spatial);

// y = gamma (x - mean) / sqrt(variance + eps) + beta per channel; y may equal x.
void batch_norm_forward(float* y, const float* x, const float* mean, const float* variance, const float* gamma,
                        const float* beta, int rows, int channels, int64_t spatial, double eps);

// dgamma, dbeta (C) and dx (nullable; may equal dy) of batch_norm_forward.
void batch_norm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* mean,
                         const float* variance, const float* gamma, int rows, int channels, int64_t spatial,
                         double eps, bool batch_stats);

// y (groups, size) normalized per group; mean, inv_std (groups) written; y may equal x.
void layer_norm_forward(float* y, float* mean, float* inv_std, const float* x, const float* gamma, const float* beta,
                        int groups, int64_t size, double eps);

// dgamma, dbeta (size) and dx (nullable; may equal dy) of layer_norm_forward.
void layer_norm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* mean,
                         const float* inv_std, const float* gamma, int groups, int64_t size);

// The instruction set the element-wise kernels dispatch to on this CPU: "avx512", "avx2" or "sse2".
const char* SimdLevel();

}  // namespace blasnet
