/**
 * What a new Sequential model is made from, checked and built: the constructor's layers and options
 * (or a saved config's), each layer named after its place and built from the shape before it.
 */
import type { Backend } from "../backend/backend.js";
import type { BackendName } from "../backend/index.js";
import { describe } from "../core/matrix.js";
import { checkOptionKeys } from "../core/options.js";
import { Layer, layerFromConfig, type Shape } from "./layers.js";
import { checkSampleSize } from "./layers/layer.js";
import { checkInputShape, CONFIG_VERSION, type SequentialConfig, type SequentialOptions } from "./model-spec.js";

/** The constructor's arguments, checked: the layers (free, each a layer) and options. */
export function checkModelArgs(layers: Layer[], options: SequentialOptions): { inputShape: Shape; seed: number; backend: Backend | BackendName | undefined } {
  if (!Array.isArray(layers) || layers.length === 0) {
    throw new TypeError(`Sequential needs a non-empty array of layers, e.g. [dense(3, { activation: "sigmoid" }), dense(1)], but received ${describe(layers)}`);
  }
  if (options === null || typeof options !== "object") {
    throw new TypeError(`Sequential needs options { inputSize } but received ${describe(options)}`);
  }
  checkOptionKeys(options, ["inputSize", "inputShape", "seed", "backend"], "Sequential");
  const { seed = 0, backend } = options;
  const inputShape = checkInputShape(options.inputSize, options.inputShape);
  if (typeof seed !== "number" || !Number.isInteger(seed)) {
    throw new TypeError(`Invalid seed: expected an integer but received ${describe(seed)}`);
  }
  if (backend !== undefined && backend !== "native" && backend !== "js" && !(typeof backend === "object" && backend !== null && typeof backend.gemm === "function")) {
    throw new TypeError(`Invalid backend: expected "native", "js" or a Backend object but received ${describe(backend)}`);
  }
  layers.forEach((l, i) => {
    if (!(l instanceof Layer)) throw new TypeError(`Layer ${i} is ${describe(l)}; expected a layer such as dense(4) or relu()`);
    if (l.owned) throw new Error(`Layer ${i} (${l.name || l.kind()}) already belongs to another model: create a new layer for each model`);
    const first = layers.indexOf(l);
    if (first < i) throw new Error(`Layer ${i} (${l.kind()}) is the same layer object as layer ${first}: a layer has one place in a model; create a new layer for each place`);
  });
  return { inputShape, seed, backend };
}

/**
 * Make `layers` the model's: each is owned, named `<kind>_<i>` and built from the shape before it.
 * Returns the output shape; throws if no layer has parameters.
 */
export function chainLayers(layers: readonly Layer[], inputShape: Shape): Shape {
  let shape = inputShape;
  layers.forEach((l, i) => {
    l.owned = true;
    l.name = `${l.kind()}_${i}`;
    l.index = i;
    l.path = `layers.${i}`;
    try {
      shape = l.build(shape);
      checkSampleSize(shape);
    } catch (e) {
      if (e instanceof RangeError) throw new RangeError(`Layer ${i} (${l.name}): ${e.message}`);
      throw e;
    }
  });
  if (!layers.some((l) => l.paramCount() > 0)) {
    throw new TypeError("Sequential needs at least one layer with parameters, such as a dense layer (a model without parameters cannot be trained)");
  }
  return shape;
}

/** The layers of a saved config (Sequential.config()), after checking its format and version. */
export function layersOfConfig(config: SequentialConfig): Layer[] {
  if (config === null || typeof config !== "object") throw new TypeError(`Expected a model config object but received ${describe(config)}`);
  if (config.format !== "blasnet.sequential") throw new TypeError(`Not a blasnet model config: format is ${describe(config.format)}, expected "blasnet.sequential"`);
  if (typeof config.version !== "number" || config.version > CONFIG_VERSION) {
    throw new RangeError(`Model config version ${describe(config.version)} is newer than this blasnet supports (${CONFIG_VERSION}): upgrade blasnet`);
  }
  if (!Array.isArray(config.layers)) throw new TypeError(`Model config layers: expected an array but received ${describe(config.layers)}`);
  return config.layers.map((l, i) => layerFromConfig(l, i));
}
