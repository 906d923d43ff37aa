/**
 * The native backend: the addon's kernels (C++ over OpenBLAS) as a `Backend`.
 *
 * Most kernels are the addon's functions themselves, with no JavaScript wrapper in between; only
 * the activation and loss kinds are mapped from names to the native integer codes. The addon checks
 * every argument (types, lengths against shapes, scalar ranges) and throws TypeError / RangeError.
 */
import os from "node:os";
import type { Backend, ElementwiseActivation, RegressionLoss } from "../backend.js";
import { ACTIVATIONS } from "../../ops/activations.js";
import { REGRESSION_LOSSES } from "../../ops/losses.js";
import type { Hyper } from "../../optim/optimizer.js";
import { optimizerDef } from "../../optim/index.js";
import { describe } from "../../core/matrix.js";
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
    regressionLoss: (kind, grad, pred, target, n, delta) =>
      addon.regressionLoss(lossCode(kind), grad, pred, target, n, delta),
    softmaxCrossEntropy: addon.softmaxCrossEntropy,
    softmaxCrossEntropyDense: addon.softmaxCrossEntropyDense,
    bceWithLogits: addon.bceWithLogits,
    optimizerStep: (kind, param, grad, state, n, lr, step, h) => optimizerStep(addon, kind, param, grad, state, n, lr, step, h),
    argmaxRows: addon.argmaxRows,
    sum: addon.sum,
    sumSquares: addon.sumSquares,
    firstNonFinite: addon.firstNonFinite,
    scale: addon.scale,
    clip: addon.clip,
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

/**
 * The optimizer step over the addon's per-rule entries (until the addon takes the generic
 * optimizerStep): hyperparameters in the definitions' order (lib/optim).
 */
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
  const slots = optimizerDef(kind).slots(h).length;
  if (!(state instanceof Float32Array) || state.length < slots * n) {
    throw new RangeError(`Argument 'state' of optimizerStep must hold ${slots} slots x n = ${slots * n} values but received ${describe(state)}`);
  }
  const slot = (s: number): Float32Array => state.subarray(s * n, (s + 1) * n);
  switch (kind) {
    case "sgd":
      return addon.sgdUpdate(param, grad, h[0] !== 0 ? slot(0) : state, n, lr, h[0]!, h[1]!, h[2] === 1, h[3]!, step === 1);
    case "adam":
    case "adamw":
      return addon.adamUpdate(param, grad, slot(0), slot(1), n, lr, h[0]!, h[1]!, h[2]!, h[3]!, step, kind === "adamw");
    case "rmsprop":
      return addon.rmspropUpdate(param, grad, slot(0), slot(1), n, lr, h[0]!, h[1]!, h[2]!, h[3]!);
    default:
      throw new RangeError(`Unknown optimizer ${show(kind)} for argument 'kind'`);
  }
}
