/**
 * The model's parameters as one flat store: every layer's parameters (PyTorch names and layouts,
 * e.g. a dense layer's weight (out, in) then bias) in layer order, in one Float32Array, with the
 * gradients in a second of the same layout. Layers hold views (Layer.bind); training plans share
 * the buffers zero-copy, so they are never replaced, only written into.
 *
 * getWeights / setWeights copy a layer's parameters out and in, validating everything first.
 */
import { constants } from "node:buffer";
import { Matrix, describe } from "../core/matrix.js";
import { bytesText } from "../core/format.js";
import { Rng } from "../core/rng.js";
import { sharedFloat32 } from "../core/shared.js";
import type { Kernels } from "../backend/backend.js";
import type { Layer } from "./layers.js";
import { isFloat32Array } from "../core/typed-arrays.js";

/** One parameterized layer's weights (copies). */
export interface LayerWeights {
  /** Index of the layer in `model.layers`. */
  layer: number;
  /** "dense_0", ... */
  name: string;
  /** The layer's weight: (outFeatures, inFeatures) for dense (other kinds: first dimension x the rest). */
  weight: Matrix;
  /** (outFeatures), or null without bias. */
  bias: Float32Array | null;
  /** Other values the layer keeps, by PyTorch name: batch norm's running_mean and running_var. */
  buffers?: Record<string, Float32Array>;
}

/** What setWeights takes per parameterized layer. */
export interface WeightsInput {
  weight: Matrix | Float32Array;
  bias?: Float32Array | null;
  /** Batch norm's running_mean and running_var (each optional: left as they are when absent). */
  buffers?: Record<string, Float32Array>;
}

/** Allocate the flat parameter and gradient buffers, bind every layer to them and initialize them from `seed`. */
export function allocateParameters(layers: readonly Layer[], seed: number): { params: Float32Array; grads: Float32Array } {
  const P = layers.reduce((n, l) => n + l.paramCount(), 0);
  let params: Float32Array;
  let grads: Float32Array;
  try {
    if (P > MAX_PARAMETERS) throw new RangeError("too many");
    params = sharedFloat32(P);
    grads = sharedFloat32(P);
  } catch (e) {
    if (e instanceof RangeError) throw tooManyParameters(layers, P);
    throw e;
  }
  let offset = 0;
  for (const l of layers) offset = l.bind(params, grads, offset);
  const rng = new Rng(seed);
  layers.forEach((l, i) => l.initialize(rng, layers[i + 1]));
  return { params, grads };
}

/**
 * The most parameters a model may have: blasnet keeps them in one buffer, and caps it at the
 * largest buffer Node guarantees (buffer.constants.MAX_LENGTH bytes), so that a too-large model is
 * refused with a message instead of an engine error or an attempt to allocate many gigabytes.
 */
const MAX_PARAMETERS = Math.floor(constants.MAX_LENGTH / 4);

/** The error for a model whose parameters cannot be allocated: how many, how many bytes, and which layer. */
function tooManyParameters(layers: readonly Layer[], P: number): RangeError {
  const count = (n: number): string => n.toLocaleString("en-US");
  const biggest = layers.map((l, i) => ({ i, n: l.paramCount(), name: l.name || l.kind() })).sort((a, b) => b.n - a.n)[0]!;
  return new RangeError(
    `The model has ${count(P)} parameters (layer ${biggest.i}, ${biggest.name}, has ${count(biggest.n)}): ${bytesText(4 * P)} of float32 weights, ` +
      `as much again for their gradients, and more for optimizer state. ` +
      (P > MAX_PARAMETERS ? `blasnet keeps the parameters in one buffer of at most ${count(MAX_PARAMETERS)} values (${bytesText(4 * MAX_PARAMETERS)}). ` : "This machine could not allocate that memory. ") +
      `Use fewer or narrower layers (a dense layer has inFeatures x outFeatures + outFeatures parameters)`,
  );
}

/**
 * The parameter ranges [begin, end) the optimizer leaves alone, ascending, adjacent ones merged: the
 * training plan's `frozen`. They are every parameter of a frozen layer (`layer.trainable = false`,
 * or inside a frozen residual block) and the parameters declared `trainable: false` (batch norm's
 * running statistics).
 */
export function frozenRanges(layers: readonly Layer[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const visit = (l: Layer, frozen: boolean): void => {
    if (l.children().length > 0) {
      for (const c of l.children()) visit(c, frozen || !l.trainable);
      return;
    }
    for (const p of l.params) {
      if (!frozen && l.trainable && p.trainable !== false) continue;
      const end = p.offset + p.value.length;
      const last = out[out.length - 1];
      if (last && last[1] === p.offset) last[1] = end;
      else out.push([p.offset, end]);
    }
  };
  for (const l of layers) visit(l, false);
  return out;
}

/**
 * The layers that hold parameters of their own, with the index in the model of the layer they
 * belong to: a residual block's body layers stand for the block.
 */
function parameterized(layers: readonly Layer[]): [number, Layer][] {
  const leaves = (l: Layer): Layer[] => (l.children().length > 0 ? l.children().flatMap(leaves) : l.params.length > 0 ? [l] : []);
  return layers.flatMap((l, i) => leaves(l).map((leaf): [number, Layer] => [i, leaf]));
}

/**
 * Throws, naming the parameter, when `params` holds NaN or Infinity (one pass of the backend's
 * firstNonFinite). fit checks the weights it starts from: setWeights refuses non-finite
 * values, but model.params and the layers' views of it can be written directly, and the training
 * loop would otherwise blame the first update for what was there before it.
 */
export function checkParamsFinite(layers: readonly Layer[], params: Float32Array, kernels: Pick<Kernels, "firstNonFinite">): void {
  const at = kernels.firstNonFinite(params, 0, params.length);
  if (at < 0) return;
  for (const [index, l] of parameterized(layers)) {
    for (const p of l.params) {
      if (at < p.offset || at >= p.offset + p.value.length) continue;
      // The flat index within the parameter as one index per dimension: weight[3, 1].
      const place: number[] = [];
      let rest = at - p.offset;
      for (let d = p.shape.length - 1; d >= 0; d--) {
        place.unshift(rest % p.shape[d]!);
        rest = Math.floor(rest / p.shape[d]!);
      }
      throw new RangeError(
        `Cannot start fit(): the weights are not finite before training: ${l.path}.${p.name}[${place.join(", ")}] (layer ${index}, ${l.name}) is ${params[at]}. ` +
          "It was written into model.params (or a layer's weight or bias view of it): restore the weights (model.setWeights, loadModel or a checkpoint) before calling fit",
      );
    }
  }
}

/** Copies of every parameterized layer's weight and bias (and batch norm's running statistics, as `buffers`). */
export function getWeights(layers: readonly Layer[]): LayerWeights[] {
  return parameterized(layers).map(([i, l]) => {
    const [w, b, ...rest] = l.params;
    const rows = w!.shape[0]!;
    const out: LayerWeights = { layer: i, name: l.name, weight: new Matrix(w!.value.slice(), rows, w!.value.length / rows), bias: b ? b.value.slice() : null };
    if (rest.length > 0) out.buffers = Object.fromEntries(rest.map((p) => [p.name, p.value.slice()]));
    return out;
  });
}

/** Set every parameterized layer's weight and bias, in the order getWeights returns them; checks all before writing any. */
export function setWeights(layers: readonly Layer[], weights: readonly WeightsInput[]): void {
  const targets = parameterized(layers).map(([, l]) => l);
  if (!Array.isArray(weights) || weights.length !== targets.length) {
    throw new RangeError(`setWeights expects ${targets.length} entries (one per layer with parameters) but received ${describe(weights)}`);
  }
  targets.forEach((l, i) => {
    const w = weights[i]!;
    const [pw, pb] = l.params;
    const wd = w?.weight instanceof Matrix ? w.weight.data : w?.weight;
    if (!isFloat32Array(wd)) throw new TypeError(`setWeights[${i}].weight: expected a Matrix or Float32Array but received ${describe(w?.weight)}`);
    const rows = pw!.shape[0]!;
    const cols = pw!.value.length / rows;
    if (w.weight instanceof Matrix && (w.weight.rows !== rows || w.weight.cols !== cols)) {
      throw new RangeError(`setWeights[${i}].weight (${l.name}) is ${w.weight.rows}x${w.weight.cols}; expected ${rows}x${cols} (outFeatures x inFeatures)`);
    }
    if (wd.length !== pw!.value.length) throw new RangeError(`setWeights[${i}].weight (${l.name}) has ${wd.length} values; expected ${pw!.value.length}`);
    checkFiniteArray(wd, `setWeights[${i}].weight`);
    const b = w.bias ?? null;
    if (pb) {
      if (!isFloat32Array(b) || b.length !== pb.value.length) {
        throw new RangeError(`setWeights[${i}].bias (${l.name}): expected a Float32Array of ${pb.value.length} values but received ${describe(b)}`);
      }
      checkFiniteArray(b, `setWeights[${i}].bias`);
    } else if (b !== null) {
      throw new RangeError(`setWeights[${i}].bias: layer ${l.name} has no bias (useBias: false) but a bias was given`);
    }
    for (const [name, v] of Object.entries(w.buffers ?? {}) as [string, unknown][]) {
      const p = l.params.slice(2).find((q) => q.name === name);
      if (!p) throw new RangeError(`setWeights[${i}].buffers.${name}: layer ${l.name} has ${l.params.length > 2 ? `only ${l.params.slice(2).map((q) => q.name).join(", ")}` : "no buffers"}`);
      if (!isFloat32Array(v) || v.length !== p.value.length) {
        throw new RangeError(`setWeights[${i}].buffers.${name} (${l.name}): expected a Float32Array of ${p.value.length} values but received ${describe(v)}`);
      }
      checkFiniteArray(v, `setWeights[${i}].buffers.${name}`);
    }
  });
  targets.forEach((l, i) => {
    const w = weights[i]!;
    l.params[0]!.value.set(w.weight instanceof Matrix ? w.weight.data : w.weight);
    if (l.params[1]) l.params[1].value.set(w.bias!);
    for (const [name, v] of Object.entries(w.buffers ?? {}) as [string, Float32Array][]) l.params.find((q) => q.name === name)!.value.set(v);
  });
}

function checkFiniteArray(a: Float32Array, name: string): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]!)) throw new RangeError(`${name}[${i}] is ${a[i]}; weights must be finite`);
  }
}
