/**
 * The native backend: the addon's kernels (C++ over OpenBLAS) as a `Backend`.
 *
 * Most kernels are the addon's functions themselves, with no JavaScript wrapper in between; only
 * the activation and loss kinds are mapped from names to the native integer codes. The addon checks
 * every argument (types, lengths against shapes, scalar ranges) and throws TypeError / RangeError.
 */
import os from "node:os";
import {
  ACTIVATIONS,
  REGRESSION_LOSSES,
  type Backend,
  type ElementwiseActivation,
  type RegressionLoss,
} from "../backend.js";
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
    sgdUpdate: addon.sgdUpdate,
    adamUpdate: addon.adamUpdate,
    rmspropUpdate: addon.rmspropUpdate,
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
  const code: unknown = (ACTIVATIONS as Record<string, unknown>)[act];
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
