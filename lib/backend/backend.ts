/**
 * The kernel interface: the one boundary every model computation crosses.
 *
 * Two implementations give the same numbers: `lib/backend/ts/` (plain TypeScript, the reference and
 * the fallback) and `lib/backend/native/` (C++ over OpenBLAS). Conventions, as in llm.c:
 *
 * - Matrices are row-major, packed `Float32Array`s. Shapes are given as plain integers after the
 *   buffers, and every kernel's comment states every shape.
 * - Outputs come first, then inputs, then sizes, then scalars.
 * - Everything works in place on caller-owned buffers: no kernel allocates or returns an array.
 *   A buffer may be a `subarray` view; kernels read only the first `n` (or `rows*cols`) values.
 * - Images are NCHW (rows, C, H, W), a sample contiguous, as PyTorch; a window's geometry (kernel,
 *   stride, padding, dilation, output size) is a `Window2d` (lib/ops/window.ts) named `g`.
 * - Loss kernels return the mean loss and write the gradient of that mean; pass `null` for the
 *   gradient to compute only the value.
 *
 * Validation: the TypeScript layers above validate user input; the native binding validates again
 * (types, lengths against shapes, finite scalars) so that no call can crash the process.
 */
import type { ActivationName } from "../ops/activations.js";
import type { RegressionLoss } from "../ops/losses.js";
import type { Window2d } from "../ops/window.js";
import type { Hyper } from "../optim/optimizer.js";
import type { OptimizerName } from "../optim/index.js";
import type { PlanBuffers, PlanSpec, TrainPlan } from "./plan.js";

/** The element-wise activations (lib/ops/activations.ts is their one list). */
export type ElementwiseActivation = ActivationName;
export type { RegressionLoss } from "../ops/losses.js";

/**
 * The kernel interface every backend implements: the one boundary all computation crosses. Plain functions
 * over flat Float32Arrays that write into the outputs they are handed (outputs first, then inputs, then
 * sizes; each states its shapes). The TypeScript kernels (lib/backend/ts) are the reference; the native
 * ones (OpenBLAS and C++) are tested against them.
 */
export interface Kernels {
  /**
   * General matrix multiply: C = alpha * op(A) * op(B) + beta * C.
   * op(A) is (m,k): A is stored (m,k), or (k,m) when `transA`.
   * op(B) is (k,n): B is stored (k,n), or (n,k) when `transB`.
   * C is (m,n). beta = 0 overwrites C (NaN in C does not propagate); alpha = 0 or k = 0 gives
   * C = beta * C without reading A or B.
   */
  gemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float32Array,
    b: Float32Array,
    beta: number,
    c: Float32Array,
  ): void;

  /** y (rows,cols) += bias (cols), broadcast over rows. */
  biasAdd(y: Float32Array, bias: Float32Array, rows: number, cols: number): void;

  /** db (cols) = beta * db + column sums of dy (rows,cols). beta is 0 (overwrite) or 1 (accumulate). */
  biasGrad(db: Float32Array, dy: Float32Array, rows: number, cols: number, beta: number): void;

  /**
   * y (n) = f(x) element-wise; y may be x. `alpha` is the negative slope of leakyRelu (ignored by
   * the others). GELU is the tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
   */
  activationForward(act: ElementwiseActivation, y: Float32Array, x: Float32Array, n: number, alpha: number): void;

  /**
   * dx (n) = dy * f'(x), given the forward input x and output y = f(x) (each kernel uses whichever
   * is cheaper: sigmoid and tanh use y, the others x). dx may be dy.
   */
  activationBackward(
    act: ElementwiseActivation,
    dx: Float32Array,
    dy: Float32Array,
    x: Float32Array,
    y: Float32Array,
    n: number,
    alpha: number,
  ): void;

  /** y (rows,cols) = softmax over each row of x (rows,cols), by the max-subtracted form. y may be x. */
  softmaxForward(y: Float32Array, x: Float32Array, rows: number, cols: number): void;

  /** dx (rows,cols) = y * (dy - rowsum(dy * y)), the softmax Jacobian-vector product. dx may be dy. */
  softmaxBackward(dx: Float32Array, dy: Float32Array, y: Float32Array, rows: number, cols: number): void;

  /**
   * Mean over all n elements of e(pred - target): MSE (d^2), MAE (|d|), Huber (d^2/2 inside
   * |d| <= delta, delta (|d| - delta/2) outside). grad (n) = d(mean)/d(pred), or skipped if null.
   * MAE's gradient at d = 0 is 0.
   *
   * Every loss takes optional per-row weights (Keras' sample weights) as its last argument: the
   * loss becomes sum_r w_r loss_r / rows (divided by the rows, not the weights' sum) and row r's
   * gradient is scaled by w_r. For the element-wise losses (this one and bceWithLogits) the rows
   * are weights.length and n must be a whole number of them.
   */
  regressionLoss(
    kind: RegressionLoss,
    grad: Float32Array | null,
    pred: Float32Array,
    target: Float32Array,
    n: number,
    delta: number,
    weights?: Float32Array | null,
  ): number;

  /**
   * Softmax cross-entropy from logits (rows,cols) and class indices labels (rows), each in
   * [0, cols): mean over rows of logsumexp(z) - z[label]. grad (rows,cols) = (softmax(z) - onehot) / rows.
   */
  softmaxCrossEntropy(
    grad: Float32Array | null,
    logits: Float32Array,
    labels: Int32Array,
    rows: number,
    cols: number,
    weights?: Float32Array | null,
  ): number;

  /**
   * Softmax cross-entropy against target distributions (rows,cols) (one-hot or soft rows summing
   * to 1): mean over rows of -sum_j t_j log softmax(z)_j. grad = (softmax(z) - t) / rows.
   */
  softmaxCrossEntropyDense(
    grad: Float32Array | null,
    logits: Float32Array,
    targets: Float32Array,
    rows: number,
    cols: number,
    weights?: Float32Array | null,
  ): number;

  /**
   * Binary cross-entropy from logits z (n) and targets t (n) in [0, 1], in the stable form
   * max(z,0) - z t + log(1 + exp(-|z|)); mean over n. grad = (sigmoid(z) - t) / n.
   */
  bceWithLogits(grad: Float32Array | null, logits: Float32Array, targets: Float32Array, n: number, weights?: Float32Array | null): number;

  /**
   * One optimizer update in place over n parameters: param and grad (n), state (slots · n, slot s at
   * [s·n, (s+1)·n)), as the optimizer's definition in lib/optim states it (PyTorch semantics).
   * `step` is the 1-based number of this update; `hyper` the hyperparameters after the learning
   * rate, in the definition's order (e.g. sgd: momentum, dampening, nesterov (0 or 1), weightDecay).
   */
  optimizerStep(
    kind: OptimizerName,
    param: Float32Array,
    grad: Float32Array,
    state: Float32Array,
    n: number,
    lr: number,
    step: number,
    hyper: Hyper,
  ): void;

  /** out (rows) = index of the largest value of each row of x (rows,cols); the first on ties. */
  argmaxRows(out: Int32Array, x: Float32Array, rows: number, cols: number): void;

  /** Sum of x (n), accumulated in double precision. */
  sum(x: Float32Array, n: number): number;

  /** Sum of squares of x (n), accumulated in double precision (gradient norms). */
  sumSquares(x: Float32Array, n: number): number;

  /**
   * Index of the first NaN or ±Infinity in x[start, end), or -1 if every value there is finite
   * (±0, subnormals and ±FLT_MAX are finite). start and end are integers with
   * 0 <= start <= end <= x.length; the result is an index into x itself, not relative to start.
   * The input check of fit / evaluate / predict calls it over chunks of the data.
   */
  firstNonFinite(x: Float32Array, start: number, end: number): number;

  /** x (n) *= s. */
  scale(x: Float32Array, n: number, s: number): void;

  /** x (n) = min(max(x, lo), hi). */
  clip(x: Float32Array, n: number, lo: number, hi: number): void;

  /** out (n) = a (n) + b (n); out may be a or b (residual blocks). */
  add(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void;

  // --- Convolution (im2col + GEMM), pooling and normalization. Geometry g: lib/ops/window.ts. ---
  // Output (oh, ow), tap (i, j) reads x at h = oh*strideH - padTop + i*dilationH,
  // w = ow*strideW - padLeft + j*dilationW; positions outside [0,H)x[0,W) are padding.
  // g.outH / g.outW must be what PyTorch's formula gives for some bottom / right padding in
  // [0, max(padTop, dilationH*(kernelH-1))] (and likewise for W); both backends check it.

  /**
   * x is (rows, C, H, W), cols is (C*kH*kW, rows*outH*outW):
   * cols[(c*kH + i)*kW + j][n*outH*outW + oh*outW + ow] = x[n, c, h, w], 0 in the padding.
   * A convolution is then W (outC, C*kH*kW) x cols.
   */
  im2col(cols: Float32Array, x: Float32Array, rows: number, g: Window2d): void;

  /**
   * The adjoint of im2col: cols is (C*kH*kW, rows*outH*outW), dx is (rows, C, H, W); each input
   * position gets the sum of the cols entries im2col copies from it. Overwrites dx.
   */
  col2im(dx: Float32Array, cols: Float32Array, rows: number, g: Window2d): void;

  /**
   * x is (a, b, c), out is (b, a, c): out[j][i][k] = x[i][j][k]; out must not share memory with x.
   * Converts the GEMM's (outC, rows*HW) to NCHW (rows, outC, HW) and back.
   */
  swapAxes01(out: Float32Array, x: Float32Array, a: number, b: number, c: number): void;

  /** y is (rows, C, S), bias is (C): y[n, c, s] += bias[c]. */
  channelBiasAdd(y: Float32Array, bias: Float32Array, rows: number, channels: number, spatial: number): void;

  /** dy is (rows, C, S), db is (C): db[c] = sum over n and s of dy[n, c, s], in double. Overwrites db. */
  channelBiasGrad(db: Float32Array, dy: Float32Array, rows: number, channels: number, spatial: number): void;

  /**
   * x is (rows, C, H, W); y and argmax are (rows, C, outH, outW): y = the largest x of each window
   * (padding never wins), argmax = h*W + w of the first largest within its channel plane. NaN wins
   * (propagates, as PyTorch): the first NaN of a window. A window with no position inside the input
   * (only with padding or dilation beyond the input) gives y = -Infinity and argmax = -1.
   */
  maxPool2dForward(y: Float32Array, argmax: Int32Array, x: Float32Array, rows: number, g: Window2d): void;

  /**
   * dy and argmax are (rows, C, outH, outW), dx is (rows, C, H, W): dx = 0, then
   * dx[n, c, argmax] += dy[n, c, oh, ow] (argmax -1 skipped). Overwrites dx.
   */
  maxPool2dBackward(dx: Float32Array, dy: Float32Array, argmax: Int32Array, rows: number, g: Window2d): void;

  /**
   * x is (rows, C, H, W), y is (rows, C, outH, outW): the sum of each window's taps inside the input
   * divided by kH*kW (padding counts as zeros: PyTorch's count_include_pad=True). Global average
   * pooling is the window over the whole plane (kH = H, kW = W, stride 1, no padding, out 1x1).
   */
  avgPool2dForward(y: Float32Array, x: Float32Array, rows: number, g: Window2d): void;

  /** dy is (rows, C, outH, outW), dx is (rows, C, H, W): the adjoint of avgPool2dForward. Overwrites dx. */
  avgPool2dBackward(dx: Float32Array, dy: Float32Array, rows: number, g: Window2d): void;

  /**
   * x is (rows, C, S); mean and variance are (C): per channel, the mean and the biased variance of
   * its m = rows*S values, accumulated in double by two passes (m = 0 gives NaN).
   */
  batchNormStats(mean: Float32Array, variance: Float32Array, x: Float32Array, rows: number, channels: number, spatial: number): void;

  /**
   * x and y are (rows, C, S); mean, variance, gamma, beta are (C):
   * y = gamma[c] * (x - mean[c]) / sqrt(variance[c] + eps) + beta[c]. The batch statistics
   * (training) or the running ones (inference). y may be x.
   */
  batchNormForward(
    y: Float32Array,
    x: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    rows: number,
    channels: number,
    spatial: number,
    eps: number,
  ): void;

  /**
   * dy, x and dx are (rows, C, S); mean, variance, gamma, dgamma, dbeta are (C). With
   * invStd = 1/sqrt(variance + eps), xhat = (x - mean)*invStd, m = rows*S:
   * dgamma[c] = sum dy*xhat, dbeta[c] = sum dy (overwritten);
   * batchStats (mean and variance are x's own): dx = gamma*invStd/m * (m*dy - sum(dy) - xhat*sum(dy*xhat));
   * otherwise (fixed running statistics): dx = dy*gamma*invStd. dx may be null (not needed) or dy.
   */
  batchNormBackward(
    dx: Float32Array | null,
    dgamma: Float32Array,
    dbeta: Float32Array,
    dy: Float32Array,
    x: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    gamma: Float32Array,
    rows: number,
    channels: number,
    spatial: number,
    eps: number,
    batchStats: boolean,
  ): void;

  /**
   * x and y are (groups, size); gamma and beta are (size); mean and invStd are (groups), written:
   * each group's mean and 1/sqrt(biased variance + eps). y = gamma[j]*(x - mean)*invStd + beta[j].
   * y may be x.
   */
  layerNormForward(
    y: Float32Array,
    mean: Float32Array,
    invStd: Float32Array,
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    groups: number,
    size: number,
    eps: number,
  ): void;

  /**
   * dy, x and dx are (groups, size); mean and invStd (groups) are layerNormForward's; gamma, dgamma
   * and dbeta are (size): dgamma[j] = sum over groups of dy*xhat, dbeta[j] = sum of dy (overwritten);
   * with g = dy*gamma, dx = invStd/size * (size*g - sum(g) - xhat*sum(g*xhat)). dx may be null or dy.
   */
  layerNormBackward(
    dx: Float32Array | null,
    dgamma: Float32Array,
    dbeta: Float32Array,
    dy: Float32Array,
    x: Float32Array,
    mean: Float32Array,
    invStd: Float32Array,
    gamma: Float32Array,
    groups: number,
    size: number,
  ): void;
}

/** What `backendInfo()` reports. */
export interface BackendInfo {
  /** The backend in use: "native" (OpenBLAS addon) or "js" (TypeScript kernels). */
  backend: "native" | "js";
  /** OpenBLAS build string (`openblas_get_config`), or "none (TypeScript kernels)". */
  blas: string;
  /** BLAS threads in use (1 for the TypeScript backend). */
  threads: number;
  /** CPU model and the SIMD extensions relevant to kernels. */
  cpu: string;
  /** Why native is not in use, when it is not. */
  fallbackReason?: string;
}

/** A backend: the kernels plus what it is and how many threads it uses. */
export interface Backend extends Kernels {
  /** "native" (the OpenBLAS addon) or "js" (the TypeScript kernels). */
  readonly name: "native" | "js";
  /** Set the BLAS threads (an integer >= 1). The TypeScript backend, single-threaded, only records it. */
  setThreads(n: number): void;
  /** The thread count last set (for the TypeScript backend, what was asked; info() reports the 1 it uses). */
  getThreads(): number;
  /** What the backend is: name, BLAS build, threads, CPU, and why native is not in use when it is not. */
  info(): BackendInfo;
  /**
   * A plan that runs whole training steps in one call (the native backend: in C++, off the main
   * thread). Backends without one train through `PlanExecutor` over their kernels.
   */
  createFusedPlan?(spec: PlanSpec, buffers: PlanBuffers): TrainPlan;
}
