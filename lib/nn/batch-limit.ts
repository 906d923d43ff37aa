/**
 * How many samples one batch of a model may hold. A training plan makes its arrays for a whole
 * batch (the batch of inputs, every layer's output, conv2d's unrolled input), and one typed array,
 * like the native plan, indexes at most 2^31 - 1 values: a batch whose largest array would hold
 * more failed inside the plan (V8's "Invalid typed array length: 17179869184", or the native plan's
 * spec.layers message). predict, predictAsync and evaluate make their batches no larger than what
 * fits (their outputs do not depend on the batch size); fit's batchSize is part of how it trains, so
 * there a batch too large is an error saying how many values it needs and which batchSize fits.
 */
import { bytesText, countText } from "../core/format.js";
import { MAX_SAMPLE_VALUES, type Layer } from "./layers/layer.js";
import { inferenceBatch } from "./model-spec.js";

/** A model's largest plan array, per sample, and what it is ("the unrolled input of layer 0 (conv2d_0)"). */
interface SampleArray {
  values: number;
  what: string;
}

/** Computed once per model: its layers' shapes are fixed when it is built. */
const largest = new WeakMap<readonly Layer[], SampleArray>();

function largestSampleArray(layers: readonly Layer[], inputSize: number): SampleArray {
  let found = largest.get(layers);
  if (found) return found;
  let best: SampleArray = { values: inputSize, what: "the inputs" };
  const visit = (l: Layer, where: string): void => {
    const a = l.sampleArray();
    if (a.values > best.values) best = { values: a.values, what: `the ${a.what} of ${where} (${l.name})` };
    l.children().forEach((c, j) => visit(c, `${where}'s layer ${j}`));
  };
  layers.forEach((l, i) => visit(l, `layer ${i}`));
  largest.set(layers, (found = best));
  return found;
}

/** The error for a batch of `rows` samples whose largest array does not fit. */
function tooLarge(rows: number, a: SampleArray): RangeError {
  const fits = Math.floor(MAX_SAMPLE_VALUES / a.values);
  const n = rows * a.values;
  const need = `${countText(n)} values (${bytesText(4 * n)} of float32) in one array, ${a.what}; an array holds at most ${countText(MAX_SAMPLE_VALUES)}`;
  if (fits === 0) return new RangeError(`One sample of this model needs ${need}: use smaller inputs, fewer channels or a larger stride`);
  return new RangeError(`A batch of ${countText(rows)} samples of this model needs ${need}: use a batchSize of at most ${countText(fits)}`);
}

/** Throws, saying how large and what fits, unless a plan for batches of `rows` samples can be made. */
export function checkBatchRows(layers: readonly Layer[], inputSize: number, rows: number): void {
  const a = largestSampleArray(layers, inputSize);
  if (rows * a.values > MAX_SAMPLE_VALUES) throw tooLarge(rows, a);
}

/**
 * The batch size of an inference pass from its batchSize option (see inferenceBatch), made no
 * larger than a plan's arrays can hold.
 */
export function inferenceRows(layers: readonly Layer[], inputSize: number, batchSize: unknown): number {
  const b = inferenceBatch(batchSize);
  const fits = Math.floor(MAX_SAMPLE_VALUES / largestSampleArray(layers, inputSize).values);
  if (fits === 0) checkBatchRows(layers, inputSize, 1);
  return Math.min(b, fits);
}

/**
 * The batch size of a pass over `rows` samples: `batchSize`, or for fewer rows the power of two at
 * or above them, so that one image is not run in a plan made for 256 (its arrays 256 times the
 * size) while row counts below batchSize still share a few plans.
 */
export function passRows(batchSize: number, rows: number): number {
  return rows >= batchSize ? batchSize : Math.min(batchSize, 2 ** Math.ceil(Math.log2(Math.max(rows, 1))));
}
