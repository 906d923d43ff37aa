/**
 * The native addon's shape, declared once (build/Release/blasnet.node, built from native/*.cc).
 *
 * The per-kernel functions mirror `Kernels` in ../backend.ts argument for argument, except that
 * activation, regression-loss and optimizer kinds are passed as their integer codes (the codes of
 * `kinds()`, which the loader checks against lib/backend/native/kind-table.ts) and optimizer hyperparameters as a
 * Float64Array; the convolution, pooling and normalization kernels take exactly the arguments of
 * `Kernels` (the geometry as a `Window2d` object, which the addon reads before the typed arrays).
 * Every function checks its arguments and throws a TypeError or RangeError that names the argument; none allocates or copies: typed arrays are read and written in place.
 * The fused training plan registers its own entries (native/plan_binding.cc); they are typed as
 * `NativeFusedPlanBinding` (FusedPlan, which `hasFusedPlan` checks an addon for) and `NativePlanTestHooks`
 * (hooks for the native tests only) in fused-plan.ts.
 */
import type { Kernels } from "../backend.js";
import type { Window2d } from "../../ops/window.js";

export interface NativeKernelBinding {
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
  biasAdd(y: Float32Array, bias: Float32Array, rows: number, cols: number): void;
  biasGrad(db: Float32Array, dy: Float32Array, rows: number, cols: number, beta: number): void;
  activationForward(act: number, y: Float32Array, x: Float32Array, n: number, alpha: number): void;
  activationBackward(
    act: number,
    dx: Float32Array,
    dy: Float32Array,
    x: Float32Array,
    y: Float32Array,
    n: number,
    alpha: number,
  ): void;
  softmaxForward(y: Float32Array, x: Float32Array, rows: number, cols: number): void;
  softmaxBackward(dx: Float32Array, dy: Float32Array, y: Float32Array, rows: number, cols: number): void;
  regressionLoss(
    kind: number,
    grad: Float32Array | null,
    pred: Float32Array,
    target: Float32Array,
    n: number,
    delta: number,
    weights: Float32Array | null,
  ): number;
  softmaxCrossEntropy(
    grad: Float32Array | null,
    logits: Float32Array,
    labels: Int32Array,
    rows: number,
    cols: number,
    weights: Float32Array | null,
  ): number;
  softmaxCrossEntropyDense(
    grad: Float32Array | null,
    logits: Float32Array,
    targets: Float32Array,
    rows: number,
    cols: number,
    weights: Float32Array | null,
  ): number;
  bceWithLogits(grad: Float32Array | null, logits: Float32Array, targets: Float32Array, n: number, weights: Float32Array | null): number;
  /**
   * One step of optimizer `code` (native/ops/optimizers.h) in place over param and grad (n) and
   * state (slots · n, slot s at [s·n, (s+1)·n)); `step` is the 1-based step number and `hyper` the
   * optimizer's hyperparameters in the order `kinds().optimizers[name].hyper` lists them. Checks
   * lengths (state against the slots the addon's table gives for these hyperparameters),
   * finiteness and integers, not the hyperparameters' ranges (the TypeScript optimizers do, once).
   */
  optimizerStep(
    code: number,
    param: Float32Array,
    grad: Float32Array,
    state: Float32Array,
    n: number,
    lr: number,
    step: number,
    hyper: Float64Array,
  ): void;
  argmaxRows(out: Int32Array, x: Float32Array, rows: number, cols: number): void;
  sum(x: Float32Array, n: number): number;
  sumSquares(x: Float32Array, n: number): number;
  firstNonFinite(x: Float32Array, start: number, end: number): number;
  scale(x: Float32Array, n: number, s: number): void;
  clip(x: Float32Array, n: number, lo: number, hi: number): void;
  add(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void;
  im2col(cols: Float32Array, x: Float32Array, rows: number, g: Window2d): void;
  col2im(dx: Float32Array, cols: Float32Array, rows: number, g: Window2d): void;
  swapAxes01(out: Float32Array, x: Float32Array, a: number, b: number, c: number): void;
  channelBiasAdd(y: Float32Array, bias: Float32Array, rows: number, channels: number, spatial: number): void;
  channelBiasGrad(db: Float32Array, dy: Float32Array, rows: number, channels: number, spatial: number): void;
  maxPool2dForward(y: Float32Array, argmax: Int32Array, x: Float32Array, rows: number, g: Window2d): void;
  maxPool2dBackward(dx: Float32Array, dy: Float32Array, argmax: Int32Array, rows: number, g: Window2d): void;
  avgPool2dForward(y: Float32Array, x: Float32Array, rows: number, g: Window2d): void;
  avgPool2dBackward(dx: Float32Array, dy: Float32Array, rows: number, g: Window2d): void;
  batchNormStats(mean: Float32Array, variance: Float32Array, x: Float32Array, rows: number, channels: number, spatial: number): void;
  batchNormForward: Kernels["batchNormForward"];
  batchNormBackward: Kernels["batchNormBackward"];
  layerNormForward: Kernels["layerNormForward"];
  layerNormBackward: Kernels["layerNormBackward"];

  /** openblas_set_num_threads; n an integer in [1, 1024]. */
  setThreads(n: number): void;
  /** openblas_get_num_threads. */
  getThreads(): number;
  /** openblas_get_config(), plus " (core: <openblas_get_corename()>)". */
  blasConfig(): string;
  /** The ISA the element-wise kernels dispatch to on this CPU, e.g. "avx512 (x86-64-v4)". */
  simdLevel(): string;

  /**
   * Every kind list of the addon with its codes (native/ops/kinds.h), in the shape of
   * `nativeKindTable()` (kind-table.ts); the loader refuses an addon whose table differs.
   */
  kinds(): NativeKindTable;

  /** out[i] = the i-th nextUint32() of `new Rng(seed)` (native/rng.h, the twin of core/rng.ts). */
  rngFill(seed: number, out: Uint32Array): void;
  /** out[i] = uniform() drawn from `state` (4 words, as Rng.getState()), which is advanced in place. */
  rngUniform(state: Uint32Array, out: Float32Array): void;
}

/** The addon's kind lists: name -> code (optimizers: code and hyperparameter names in order). */
export interface NativeKindTable {
  activations: Record<string, number>;
  losses: Record<string, number>;
  optimizers: Record<string, { code: number; hyper: string[] }>;
  layers: Record<string, number>;
}

/** Entries registered by native/plan_binding.cc (the fused training plan), untyped here; see fused-plan.ts. */
export interface NativePlanBinding {
  [name: string]: unknown;
}

export type NativeAddon = NativeKernelBinding & NativePlanBinding;

/** The kernel entry points every addon build must export (checked by the loader). */
export const REQUIRED_EXPORTS = [
  "gemm",
  "biasAdd",
  "biasGrad",
  "activationForward",
  "activationBackward",
  "softmaxForward",
  "softmaxBackward",
  "regressionLoss",
  "softmaxCrossEntropy",
  "softmaxCrossEntropyDense",
  "bceWithLogits",
  "optimizerStep",
  "argmaxRows",
  "sum",
  "sumSquares",
  "firstNonFinite",
  "scale",
  "clip",
  "add",
  "im2col",
  "col2im",
  "swapAxes01",
  "channelBiasAdd",
  "channelBiasGrad",
  "maxPool2dForward",
  "maxPool2dBackward",
  "avgPool2dForward",
  "avgPool2dBackward",
  "batchNormStats",
  "batchNormForward",
  "batchNormBackward",
  "layerNormForward",
  "layerNormBackward",
  "setThreads",
  "getThreads",
  "blasConfig",
  "simdLevel",
  "kinds",
  "rngFill",
  "rngUniform",
] as const satisfies readonly (keyof NativeKernelBinding)[];
