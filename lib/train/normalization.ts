/**
 * Stored standardization: inputs become (x - inputMean) / inputStd per feature, regression targets
 * (y - targetMean) / targetStd, and predict maps regression outputs back by y · targetStd + targetMean.
 */
import { describe } from "../core/matrix.js";
import { isArrayLike } from "../core/typed-arrays.js";

/**
 * A model's stored standardization (model.normalization), float32, validated; see this file's header for
 * how it is applied.
 */
export interface Normalization {
  /** Subtracted from each input feature (inputSize values). */
  inputMean: Float32Array;
  /** Each input feature is divided by this after the mean is subtracted (inputSize values, all > 0). */
  inputStd: Float32Array;
  /** Regression only: subtracted from each target in training, added back to predictions (one per output). */
  targetMean?: Float32Array;
  /**
   * Regression only: targets are divided by it in training, predictions multiplied (one per output, all >
   * 0).
   */
  targetStd?: Float32Array;
}

/**
 * What model.setNormalization takes: the same four fields as any array of numbers (readCsv's
 * standardization() result works as is).
 */
export type NormalizationInput = {
  /** Mean of each input feature (inputSize values). */
  inputMean: ArrayLike<number>;
  /** Standard deviation of each input feature (inputSize values, all > 0). */
  inputStd: ArrayLike<number>;
  /** Regression only: mean of each target (one per output). */
  targetMean?: ArrayLike<number>;
  /** Regression only: standard deviation of each target (one per output, all > 0). */
  targetStd?: ArrayLike<number>;
};

/** Validated float32 copies of `n` for a model with `inputs` input and `outputs` output features. */
export function checkNormalization(n: NormalizationInput, inputs: number, outputs: number): Normalization {
  if (n === null || typeof n !== "object") {
    throw new TypeError(`setNormalization expects { inputMean, inputStd, targetMean?, targetStd? } or null but received ${describe(n)}`);
  }
  const vec = (v: ArrayLike<number> | undefined, name: string, len: number, std: boolean): Float32Array => {
    if (!isArrayLike(v)) {
      throw new TypeError(`normalization.${name}: expected an array of ${len} numbers but received ${describe(v)}`);
    }
    if (v.length !== len) throw new RangeError(`normalization.${name} has ${v.length} values; expected ${len}`);
    const out = Float32Array.from(v);
    out.forEach((x, i) => {
      if (!Number.isFinite(x) || (std && x <= 0)) {
        throw new RangeError(`normalization.${name}[${i}] is ${x}; expected a finite number${std ? " > 0" : ""}`);
      }
    });
    return out;
  };
  const norm: Normalization = {
    inputMean: vec(n.inputMean, "inputMean", inputs, false),
    inputStd: vec(n.inputStd, "inputStd", inputs, true),
  };
  if ((n.targetMean === undefined) !== (n.targetStd === undefined)) {
    throw new TypeError("normalization: give both targetMean and targetStd, or neither");
  }
  if (n.targetMean !== undefined) {
    norm.targetMean = vec(n.targetMean, "targetMean", outputs, false);
    norm.targetStd = vec(n.targetStd, "targetStd", outputs, true);
  }
  return norm;
}

/** A copy of `n` whose arrays are the caller's own (what model.normalization returns). */
export function copyNormalization(n: Normalization): Normalization {
  const c: Normalization = { inputMean: n.inputMean.slice(), inputStd: n.inputStd.slice() };
  if (n.targetMean && n.targetStd) {
    c.targetMean = n.targetMean.slice();
    c.targetStd = n.targetStd.slice();
  }
  return c;
}

/** The JSON form config() stores. */
export function normalizationConfig(n: Normalization): { inputMean: number[]; inputStd: number[]; targetMean?: number[]; targetStd?: number[] } {
  const c: { inputMean: number[]; inputStd: number[]; targetMean?: number[]; targetStd?: number[] } = {
    inputMean: Array.from(n.inputMean),
    inputStd: Array.from(n.inputStd),
  };
  if (n.targetMean && n.targetStd) {
    c.targetMean = Array.from(n.targetMean);
    c.targetStd = Array.from(n.targetStd);
  }
  return c;
}
