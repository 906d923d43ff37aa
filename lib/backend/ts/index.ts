/**
 * The TypeScript backend: every kernel of `Kernels` in plain TypeScript over Float32Arrays.
 *
 * It is the executable definition the native backend is tested against, and the fallback when the
 * native addon cannot load. Single-threaded: `setThreads` records the number asked for (so that
 * code switching backends sees it back), and `info()` reports the one thread actually used.
 */
import { cpus } from "node:os";
import type { Backend, BackendInfo } from "../backend.js";
import { activationBackward, activationForward } from "./activations.js";
import { biasAdd, biasGrad } from "./bias.js";
import { gemm } from "./gemm.js";
import { bceWithLogits, regressionLoss, softmaxCrossEntropy, softmaxCrossEntropyDense } from "./losses.js";
import { optimizerStep } from "./optimizers.js";
import { argmaxRows, firstNonFinite, sum, sumSquares } from "./reductions.js";
import { softmaxBackward, softmaxForward } from "./softmax.js";
import { add, clip, scale } from "./vector.js";
import { channelBiasAdd, channelBiasGrad, col2im, im2col, swapAxes01 } from "./conv.js";
import { avgPool2dBackward, avgPool2dForward, maxPool2dBackward, maxPool2dForward } from "./pool.js";
import { batchNormBackward, batchNormForward, batchNormStats, layerNormBackward, layerNormForward } from "./norm.js";

/** A new TypeScript backend. The kernels are shared module functions; only the thread count is per instance. */
export function createTsBackend(): Backend {
  let threads = 1;
  return {
    name: "js",
    setThreads(n: number): void {
      if (!Number.isInteger(n) || n < 1) {
        throw new RangeError(`Invalid thread count: ${n}; expected a positive integer`);
      }
      threads = n;
    },
    getThreads(): number {
      return threads;
    },
    info(): BackendInfo {
      return { backend: "js", blas: "none (TypeScript kernels)", threads: 1, cpu: describeCpu() };
    },
    gemm,
    biasAdd,
    biasGrad,
    activationForward,
    activationBackward,
    softmaxForward,
    softmaxBackward,
    regressionLoss,
    softmaxCrossEntropy,
    softmaxCrossEntropyDense,
    bceWithLogits,
    optimizerStep,
    argmaxRows,
    sum,
    sumSquares,
    firstNonFinite,
    scale,
    clip,
    add,
    im2col,
    col2im,
    swapAxes01,
    channelBiasAdd,
    channelBiasGrad,
    maxPool2dForward,
    maxPool2dBackward,
    avgPool2dForward,
    avgPool2dBackward,
    batchNormStats,
    batchNormForward,
    batchNormBackward,
    layerNormForward,
    layerNormBackward,
  };
}

/** "<model> (<n> logical cores)"; the TypeScript kernels use no SIMD, so no extensions are listed. */
function describeCpu(): string {
  const list = cpus();
  const model = list.length > 0 ? list[0]!.model.trim() : "unknown CPU";
  return `${model} (${list.length} logical cores)`;
}
