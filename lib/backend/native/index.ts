/**
 * The native backend: the addon's kernels (C++ over OpenBLAS) as a `Backend`.
 *
 * Most kernels are the addon's functions themselves, with no JavaScript wrapper in between; only
 * the activation, loss and optimizer kinds are mapped from names to the native integer codes. The addon checks
 * every argument (types, lengths against shapes, scalar ranges) and throws TypeError / RangeError.
 */
import os from "node:os";
import type { Backend, ElementwiseActivation, RegressionLoss } from "../backend.js";
import { ACTIVATIONS } from "../../ops/activations.js";
import { REGRESSION_LOSSES } from "../../ops/losses.js";
import type { Hyper } from "../../optim/optimizer.js";
import { optimizerDef } from "../../optim/index.js";
import type { NativeAddon } from "./binding.js";
import { loadAddon } from "./loader.js";
import { createNativeFusedPlan, hasFusedPlan } from "./fused-plan.js";

/** The native backend. Throws (with the reason and the fix) when the addon cannot be loaded. */
export function createNativeBackend(): Backend {
  return createNativeBackendFrom(loadAddon());
}

/** The backend over a given addon object (injectable, for tests). */
export function createNativeBackendFrom(addon: NativeAddon): Backend {
  const cpu = `${os.cpus()[0]?.model?.trim() || "unknown CPU"} (kernels: ${addon.simdLevel()})`;
  const backend: Backend = {
    name: "native",
    gemm: addon.gemm,
    biasAdd: addon.biasAdd,
    biasGrad: addon.biasGrad,
    activationForward: (act, y, x, n, alpha) => addon.activationForward(activationCode(act), y, x, n, alpha),
    activationBackward: (act, dx, dy, x, y, n, alpha) =>
      addon.activationBackward(activationCode(act), dx, dy, x, y, n, alpha),
    softmaxForward: addon.softmaxForward,
    softmaxBackward: addon.softmaxBackward,
    regressionLoss: (kind, grad, pred, target, n, delta, weights) =>
      addon.regressionLoss(lossCode(kind), grad, pred, target, n, delta, weights ?? null),
    softmaxCrossEntropy: (grad, logits, labels, rows, cols, weights) => addon.softmaxCrossEntropy(grad, logits, labels, rows, cols, weights ?? null),
    softmaxCrossEntropyDense: (grad, logits, targets, rows, cols, weights) =>
      addon.softmaxCrossEntropyDense(grad, logits, targets, rows, cols, weights ?? null),
    bceWithLogits: (grad, logits, targets, n, weights) => addon.bceWithLogits(grad, logits, targets, n, weights ?? null),
    optimizerStep: (kind, param, grad, state, n, lr, step, h) => optimizerStep(addon, kind, param, grad, state, n, lr, step, h),
    argmaxRows: addon.argmaxRows,
    sum: addon.sum,
    sumSquares: addon.sumSquares,
    firstNonFinite: addon.firstNonFinite,
    scale: addon.scale,
    clip: addon.clip,
    add: addon.add,
    im2col: addon.im2col,
    col2im: addon.col2im,
    swapAxes01: addon.swapAxes01,
    channelBiasAdd: addon.channelBiasAdd,
    channelBiasGrad: addon.channelBiasGrad,
    maxPool2dForward: addon.maxPool2dForward,
    maxPool2dBackward: addon.maxPool2dBackward,
    avgPool2dForward: addon.avgPool2dForward,
    avgPool2dBackward: addon.avgPool2dBackward,
    batchNormStats: addon.batchNormStats,
    batchNormForward: addon.batchNormForward,
    batchNormBackward: addon.batchNormBackward,
    layerNormForward: addon.layerNormForward,
    layerNormBackward: addon.layerNormBackward,
    setThreads: (n) => addon.setThreads(n),
    getThreads: () => addon.getThreads(),
    info: () => ({ backend: "native", blas: addon.blasConfig(), threads: addon.getThreads(), cpu }),
    ...(hasFusedPlan(addon) && { createFusedPlan: (spec, buffers) => createNativeFusedPlan(addon, spec, buffers) }),
  };
  return backend;
}

function activationCode(act: ElementwiseActivation): number {
  const code: unknown = Object.hasOwn(ACTIVATIONS, act) ? ACTIVATIONS[act].code : undefined;
  if (typeof code !== "number") {
    throw new RangeError(
      `Unknown activation ${show(act)} for argument 'act'; expected one of ${Object.keys(ACTIVATIONS).join(", ")}`,
    );
  }
  return code;
}

function lossCode(kind: RegressionLoss): number {
  const code: unknown = (REGRESSION_LOSSES as Record<string, unknown>)[kind];
  if (typeof code !== "number") {
    throw new RangeError(
      `Unknown regression loss ${show(kind)} for argument 'kind'; expected one of ${Object.keys(REGRESSION_LOSSES).join(", ")}`,
    );
  }
  return code;
}

function show(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : typeof v === "number" ? String(v) : typeof v;
}

/** Scratch for the hyperparameters of one optimizerStep call (the addon reads them synchronously). */
const hyperScratch = new Float64Array(4);

/** The optimizer step: its code from the registry, hyperparameters as a Float64Array. */
function optimizerStep(
  addon: NativeAddon,
  kind: string,
  param: Float32Array,
  grad: Float32Array,
  state: Float32Array,
  n: number,
  lr: number,
  step: number,
  h: Hyper,
): void {
  const code = optimizerDef(kind).code;
  let hyper: Float64Array;
  if (h instanceof Float64Array) {
    hyper = h;
  } else if (h.length === hyperScratch.length) {
    for (let i = 0; i < h.length; i++) hyperScratch[i] = h[i]!;
    hyper = hyperScratch;
  } else {
    hyper = Float64Array.from(h); // the addon names the expected length
  }
  addon.optimizerStep(code, param, grad, state, n, lr, step, hyper);
}
