/**
 * A saved model is a directory holding:
 *
 * - `model.json`, the manifest: format name and version, the blasnet version that wrote it, the
 *   model's config (architecture, seed, loss, optimizer, clipping), optional data column names
 *   (features, targets, class names), the name, byte size and SHA-256 of the weights file it
 *   belongs to, and, when optimizer state was saved, the training state (step, epoch, dropout
 *   generator state).
 * - the weights file model.json names (also reachable as `model.safetensors`), holding the tensors:
 *   each layer's parameters as `layers.{i}.{name}` for the layer at index i of `model.layers`
 *   (PyTorch's nn.Sequential naming and layouts: dense weight (out, in), conv2d weight
 *   (out, in, kh, kw), bias, batch norm's running_mean and running_var, a residual block's
 *   `layers.{i}.body.{j}.*`);
 *   `normalization.{inputMean|inputStd|targetMean|targetStd}` when the model standardizes (kept out
 *   of model.json, whose size is limited, so a model with a million features saves and loads); and
 *   `optimizer.{slot}.layers.{i}.{weight|bias}` when the optimizer state is saved (slots as PyTorch
 *   names them: momentum_buffer; exp_avg, exp_avg_sq; square_avg, momentum_buffer).
 *
 * How the files are replaced so that a kill at any instant leaves the old or the new model is in
 * model-dir.ts. Format 1 (blasnet 0.1: normalization inside model.json, weights always in
 * model.safetensors) is still read.
 *
 * Loading treats the files as hostile: sizes are checked against the files before anything is
 * read or allocated, the architecture must match the tensors exactly, and every error names the file.
 */
import { createHash } from "node:crypto";
import { stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import type { Backend } from "../backend/backend.js";
import type { BackendName } from "../backend/index.js";
import { describe } from "../core/matrix.js";
import { checkOptions } from "../core/options.js";
import { layerFromConfig, type Param } from "../nn/layers.js";
import type { Optimizer } from "../optim/index.js";
import { provideModelSaver, Sequential, type DataInfo, type ModelSaveOptions, type SequentialConfig } from "../nn/sequential.js";

export type { DataInfo } from "../nn/sequential.js";
import type { WriteFaults } from "./atomic-write.js";
import { MANIFEST_FILE, MAX_MANIFEST_BYTES, parseManifestText, readModelDir, sizeMismatch, WEIGHTS_FILE, writeModelDir } from "./model-dir.js";
import { decodeSafetensors, encodeSafetensors, ModelFileError, type Tensor } from "./safetensors.js";
import { blasnetVersion } from "./version.js";

/** The manifest's format name. */
export const MODEL_FORMAT = "blasnet-model";
/**
 * The manifest format version this blasnet writes and the newest it reads. 2: the weights file is
 * the one "weights.file" names, and normalization is stored as tensors ("normalizationTensors").
 */
export const MODEL_FORMAT_VERSION = 2;
export { MANIFEST_FILE, WEIGHTS_FILE };

/** The standardization arrays, stored as tensors `normalization.<name>`. */
const NORMALIZATION_KEYS = ["inputMean", "inputStd", "targetMean", "targetStd"] as const;
/** The most layers a manifest may describe. */
const MAX_LAYERS = 10_000;

/** What model.json holds. */
export interface ModelManifest {
  /** Always "blasnet-model": tells a blasnet manifest from other JSON. */
  format: typeof MODEL_FORMAT;
  /**
   * The file format's version (MODEL_FORMAT_VERSION when written); a newer one than this blasnet reads is
   * refused.
   */
  formatVersion: number;
  /** The blasnet version that wrote the file (informational). */
  blasnetVersion: string;
  /** The architecture, compile settings and standardization: what Sequential.fromConfig rebuilds. */
  model: SequentialConfig;
  /** Column and class names of the training data, when saved. */
  data?: DataInfo;
  /** The weights file (safetensors, named by its content), its size in bytes and SHA-256, checked on load. */
  weights: { file: string; bytes: number; sha256: string };
  /** Which standardization arrays the weights file holds (as `normalization.<name>`); format 2. */
  normalizationTensors?: string[];
  /** Present when the optimizer state was saved (checkpoints). */
  trainingState?: { step: number; epoch: number; rngState: number[]; optimizerSlots: string[] };
}

/** Options of saveModel and model.save. */
export interface SaveOptions extends ModelSaveOptions {
  /** @internal fault injection for tests. */
  faults?: WriteFaults;
}

const SAVE_OPTIONS = ["includeOptimizer", "data"];

/** Options of loadModel and loadModelWithManifest. */
export interface LoadOptions {
  /** Backend of the loaded model. */
  backend?: Backend | BackendName;
  /** Restore the saved optimizer/training state when present. Default true. */
  trainingState?: boolean;
  /**
   * Check the weights file against the size and SHA-256 in model.json. Default true; turn off only
   * when model.safetensors was replaced on purpose (or remove "sha256" from model.json).
   */
  verifyChecksum?: boolean;
}

const LOAD_OPTIONS = ["backend", "trainingState", "verifyChecksum"];

/** Every parameter of the model with its tensor name, `layers.{i}.{name}` (PyTorch's nn.Sequential naming and layout). */
function namedParams(model: Sequential): { key: string; param: Param }[] {
  return model.layers.flatMap((l, i) => l.params.map((param) => ({ key: `layers.${i}.${param.name}`, param })));
}

/** The tensors of a model (views, not copies), in parameter-buffer order, and the manifest. */
export function modelToFiles(model: Sequential, options: SaveOptions = {}, weightsFile = WEIGHTS_FILE): { manifest: ModelManifest; weights: Uint8Array } {
  // Refused while the native fused plan updates the weights on another thread: a copy then could mix steps.
  model._assertMay("save");
  const tensors: [string, Tensor][] = [];
  const params = namedParams(model);
  for (const { key, param } of params) tensors.push([key, { shape: param.shape, data: param.value }]);
  let trainingState: ModelManifest["trainingState"];
  if (options.includeOptimizer) {
    if (!model.optimizer) throw new Error("saveModel with includeOptimizer: the model is not compiled, so it has no optimizer state");
    const st = model.getTrainingState();
    const P = model.params.length;
    const names = [...model.optimizer.slotNames()];
    names.forEach((slot, s) => {
      const block = st.optimizerState.subarray(s * P, (s + 1) * P);
      for (const { key, param } of params) {
        tensors.push([`optimizer.${slot}.${key}`, { shape: param.shape, data: block.subarray(param.offset, param.offset + param.value.length) }]);
      }
    });
    trainingState = { step: st.step, epoch: st.epoch, rngState: Array.from(st.rngState), optimizerSlots: names };
  }
  const config = model.config();
  delete config.normalization;
  const norm = model.normalization;
  const normalizationTensors: string[] = [];
  for (const k of NORMALIZATION_KEYS) {
    const v = norm?.[k];
    if (!v) continue;
    tensors.push([`normalization.${k}`, { shape: [v.length], data: v }]);
    normalizationTensors.push(k);
  }
  const weights = encodeSafetensors(tensors, { format: "pt", producer: "blasnet" });
  const manifest: ModelManifest = {
    format: MODEL_FORMAT,
    formatVersion: MODEL_FORMAT_VERSION,
    blasnetVersion: blasnetVersion(),
    model: config,
    ...(options.data ? { data: cleanDataInfo(options.data) } : {}),
    weights: { file: weightsFile, bytes: weights.length, sha256: createHash("sha256").update(weights).digest("hex") },
    ...(normalizationTensors.length > 0 ? { normalizationTensors } : {}),
    ...(trainingState ? { trainingState } : {}),
  };
  return { manifest, weights };
}

/** model.json's text for `manifest`, refused (before anything is written) when loadModel could not read it back. */
export function manifestText(manifest: ModelManifest): string {
  const text = JSON.stringify(manifest, null, 2) + "\n";
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > MAX_MANIFEST_BYTES) {
    const d = manifest.data ?? {};
    const names = (["featureNames", "targetNames", "classNames"] as const).map((k) => `${k}: ${d[k]?.length ?? 0}`).join(", ");
    throw new RangeError(
      `saveModel: ${MANIFEST_FILE} would be ${bytes} bytes, more than the ${MAX_MANIFEST_BYTES}-byte limit loadModel accepts; ` +
        `its size comes from the column names stored with the model (${names}): store shorter names or leave out options.data`,
    );
  }
  return text;
}

function cleanDataInfo(d: DataInfo): DataInfo {
  const out: DataInfo = {};
  for (const k of ["featureNames", "targetNames", "classNames"] as const) {
    const v = d[k];
    if (v === undefined) continue;
    if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) throw new TypeError(`saveModel data.${k}: expected an array of strings but received ${describe(v)}`);
    out[k] = [...v];
  }
  return out;
}

/**
 * Save `model` to directory `dir` (created if needed) as model.json + model.safetensors, atomically.
 */
export async function saveModel(model: Sequential, dir: string, options: SaveOptions = {}): Promise<void> {
  if (!(model instanceof Sequential)) throw new TypeError(`saveModel expects a Sequential model but received ${describe(model)}`);
  if (typeof dir !== "string" || dir === "") throw new TypeError(`saveModel expects a directory path but received ${describe(dir)}`);
  checkNotUrl(dir, "saveModel");
  checkOptions(options, SAVE_OPTIONS, "saveModel", ["faults"]);
  const { manifest, weights } = modelToFiles(model, options);
  manifestText(manifest); // too big for loadModel: fail before writing anything
  await writeModelDir(dir, weights, (file) => manifestText({ ...manifest, weights: { ...manifest.weights, file } }), options.faults);
}

/**
 * Rebuild a model from a manifest's text and the weights' bytes (the pure half of `loadModel`;
 * `jsonFile` and `weightsFile` name the sources in errors).
 */
export function modelFromFiles(
  jsonText: string,
  weightBytes: Uint8Array,
  jsonFile: string,
  weightsFile: string,
  options: LoadOptions = {},
): { model: Sequential; manifest: ModelManifest } {
  const bad = (msg: string): never => {
    throw new ModelFileError(jsonFile, msg);
  };
  const m = parseManifestText(jsonText, jsonFile);
  if (m === null || typeof m !== "object" || Array.isArray(m)) bad("expected a JSON object");
  const man = m as Record<string, unknown>;
  if (man["format"] !== MODEL_FORMAT) bad(`not a blasnet model manifest: "format" is ${describe(man["format"])}, expected "${MODEL_FORMAT}"`);
  const fv = man["formatVersion"];
  if (typeof fv !== "number" || !Number.isInteger(fv) || fv < 1) bad(`"formatVersion" must be a positive integer, received ${describe(fv)}`);
  if ((fv as number) > MODEL_FORMAT_VERSION) {
    bad(
      `written by a newer blasnet (${describe(man["blasnetVersion"])}) in model format version ${fv}; this blasnet (${blasnetVersion()}) reads up to version ${MODEL_FORMAT_VERSION}: upgrade blasnet`,
    );
  }
  const w = man["weights"] as Record<string, unknown> | undefined;
  if (w === null || typeof w !== "object") bad(`"weights" must be an object { file, bytes, sha256 }`);
  if (options.verifyChecksum !== false) {
    if (typeof w!["bytes"] === "number" && w!["bytes"] !== weightBytes.length) throw sizeMismatch(weightsFile, weightBytes.length, jsonFile, w!["bytes"]);
    if (typeof w!["sha256"] === "string" && createHash("sha256").update(weightBytes).digest("hex") !== w!["sha256"]) {
      throw new ModelFileError(
        weightsFile,
        `SHA-256 does not match the one in ${jsonFile}: the weights are corrupt or from a different save (if you replaced them on purpose, remove "sha256" from ${jsonFile})`,
      );
    }
  }

  // Check the architecture's size against the weights file before building anything: a manifest
  // cannot make us allocate more than the weights file could fill.
  const config = man["model"] as SequentialConfig;
  if (config === null || typeof config !== "object" || Array.isArray(config)) bad(`"model" must be an object (the model config)`);
  if (!Array.isArray(config.layers)) bad(`"model.layers" must be an array`);
  if (config.layers.length > MAX_LAYERS) bad(`"model.layers" has ${config.layers.length} layers, more than ${MAX_LAYERS}`);
  if (!Number.isSafeInteger(config.inputSize) || config.inputSize < 1) bad(`"model.inputSize" must be a positive integer, received ${describe(config.inputSize)}`);
  // Build the layers' shapes (no parameters are allocated) and count what they need.
  let shape: readonly number[] = Array.isArray(config.inputShape) ? config.inputShape : [config.inputSize];
  let paramCount = 0;
  const budget = weightBytes.length / 4;
  config.layers.forEach((c, i) => {
    if (c === null || typeof c !== "object") bad(`"model.layers[${i}]" must be an object`);
    try {
      const layer = layerFromConfig(c, i);
      shape = layer.build(shape);
      paramCount += layer.paramCount();
    } catch (e) {
      bad(`"model.layers[${i}]": ${(e as Error).message}`);
    }
    if (paramCount > budget) {
      throw new ModelFileError(weightsFile, `holds at most ${Math.floor(budget)} float32 values but the architecture in ${jsonFile} needs more than ${Math.floor(budget)} (through layer ${i})`);
    }
  });

  const st = decodeSafetensors(weightBytes, weightsFile);
  const used = new Set<string>();
  const take = (name: string, shape: number[]): Float32Array => {
    const t = st.tensors.get(name);
    if (!t) throw new ModelFileError(weightsFile, `missing tensor "${name}" (shape [${shape.join(", ")}]) required by the architecture in ${jsonFile}`);
    if (t.shape.length !== shape.length || t.shape.some((d, k) => d !== shape[k])) {
      throw new ModelFileError(weightsFile, `tensor "${name}" has shape [${t.shape.join(", ")}] but the architecture in ${jsonFile} needs [${shape.join(", ")}]`);
    }
    used.add(name);
    return t.data;
  };

  // Format 2 keeps the standardization arrays in the weights file.
  const normTensors = man["normalizationTensors"];
  let fullConfig = config;
  if (normTensors !== undefined) {
    if (!Array.isArray(normTensors) || !normTensors.every((k) => (NORMALIZATION_KEYS as readonly unknown[]).includes(k))) {
      bad(`"normalizationTensors" must list some of ${NORMALIZATION_KEYS.join(", ")}, received ${describe(normTensors)}`);
    }
    if (config.normalization !== undefined) bad(`"model.normalization" and "normalizationTensors" are both present; expected one`);
    const norm: Record<string, number[]> = {};
    for (const k of normTensors as string[]) {
      const len = k.startsWith("input") ? config.inputSize : (st.tensors.get(`normalization.${k}`)?.shape[0] ?? 0);
      norm[k] = Array.from(take(`normalization.${k}`, [len]));
    }
    fullConfig = { ...config, normalization: norm as unknown as NonNullable<SequentialConfig["normalization"]> };
  }

  let model: Sequential;
  try {
    model = Sequential.fromConfig(fullConfig, options.backend ? { backend: options.backend } : {});
  } catch (e) {
    return bad(`invalid model config: ${(e as Error).message}`);
  }
  const modelParams = namedParams(model);
  // Every tensor is checked (name, shape, dtype) before any parameter is written.
  const values = modelParams.map(({ key, param }) => take(key, param.shape));
  modelParams.forEach(({ key, param }, k) => {
    const v = values[k]!;
    for (let j = 0; j < v.length; j++) {
      if (!Number.isFinite(v[j]!)) throw new ModelFileError(weightsFile, `tensor "${key}" value ${j} is ${v[j]}; weights must be finite`);
    }
    param.value.set(v);
  });

  const ts = man["trainingState"] as ModelManifest["trainingState"] | undefined;
  if (ts !== undefined) {
    if (ts === null || typeof ts !== "object") bad(`"trainingState" must be an object`);
    if (!Array.isArray(ts.optimizerSlots) || !ts.optimizerSlots.every((s) => typeof s === "string")) bad(`"trainingState.optimizerSlots" must be an array of names`);
    const P = model.params.length;
    const opt = model.optimizer;
    if (!opt) bad(`"trainingState" is present but "model.compile" (the optimizer) is missing`);
    const expected = [...opt!.slotNames()];
    if (ts.optimizerSlots.length !== expected.length || ts.optimizerSlots.some((s, k) => s !== expected[k])) {
      bad(`"trainingState.optimizerSlots" is [${ts.optimizerSlots.join(", ")}] but optimizer ${opt!.name} has [${expected.join(", ")}]`);
    }
    const state = new Float32Array(expected.length * P);
    expected.forEach((slot, s) => {
      const block = state.subarray(s * P, (s + 1) * P);
      for (const { key, param } of modelParams) block.set(take(`optimizer.${slot}.${key}`, param.shape), param.offset);
    });
    for (let k = 0; k < state.length; k++) {
      if (!Number.isFinite(state[k]!)) throw new ModelFileError(weightsFile, `optimizer state holds a non-finite value (${state[k]})`);
    }
    if (options.trainingState !== false) {
      const rng = ts.rngState;
      if (!Array.isArray(rng) || rng.length !== 4 || !rng.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) {
        bad(`"trainingState.rngState" must be four 32-bit unsigned integers`);
      }
      try {
        model.setTrainingState({ step: ts.step, epoch: ts.epoch, optimizerState: state, rngState: Uint32Array.from(rng) });
      } catch (e) {
        bad(`invalid "trainingState": ${(e as Error).message}`);
      }
    }
  }
  for (const name of st.tensors.keys()) {
    if (!used.has(name)) throw new ModelFileError(weightsFile, `unexpected tensor "${name}": the architecture in ${jsonFile} has no place for it`);
  }

  const data = man["data"];
  if (data !== undefined) {
    if (data === null || typeof data !== "object") bad(`"data" must be an object`);
    for (const k of ["featureNames", "targetNames", "classNames"] as const) {
      const v = (data as Record<string, unknown>)[k];
      if (v !== undefined && (!Array.isArray(v) || !v.every((s) => typeof s === "string"))) bad(`"data.${k}" must be an array of strings`);
    }
    const d = data as DataInfo;
    if (d.featureNames && d.featureNames.length !== model.inputSize) {
      bad(`"data.featureNames" lists ${d.featureNames.length} columns but the model takes ${model.inputSize} inputs`);
    }
    // binaryCrossEntropy on two classes has one output: the probability of the second class.
    const binary = d.classNames?.length === 2 && model.outputSize === 1 && model.loss?.name === "binaryCrossEntropy";
    if (d.classNames && d.classNames.length !== model.outputSize && !binary) {
      bad(`"data.classNames" lists ${d.classNames.length} classes but the model has ${model.outputSize} outputs`);
    }
  }
  return { model, manifest: man as unknown as ModelManifest };
}

/** A tfjs-style URL ("file://dir", "indexeddb://...") is not a directory: say so instead of making a folder named "file:". */
function checkNotUrl(dir: string, what: string): void {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(dir);
  if (m && m[1]!.length > 1) {
    const hint = m[1]!.toLowerCase() === "file" ? `; for this one: ${JSON.stringify(dir.slice(7) || ".")}` : "";
    throw new TypeError(`${what} takes a directory path, not a URL (${JSON.stringify(dir)}, as tfjs writes it)${hint}`);
  }
}

/** Load a model saved by `saveModel`, with its manifest (column names, versions, training state). */
export async function loadModelWithManifest(dir: string, options: LoadOptions = {}): Promise<{ model: Sequential; manifest: ModelManifest }> {
  checkOptions(options, LOAD_OPTIONS, "loadModelWithManifest");
  if (typeof dir !== "string" || dir === "") throw new TypeError(`loadModel expects a directory path but received ${describe(dir)}`);
  checkNotUrl(dir, "loadModel");
  // The model.json path (as tfjs' loadLayersModel takes it) names its directory.
  if (basename(dir) === MANIFEST_FILE && (await stat(dir).then((s) => s.isFile(), () => false))) dir = dirname(dir);
  const { jsonPath, jsonText, weightsPath, weightBytes } = await readModelDir(dir, options.verifyChecksum !== false);
  return modelFromFiles(jsonText, weightBytes, jsonPath, weightsPath, options);
}

/**
 * Load a model saved by `saveModel`: it predicts exactly as the saved one did. With a saved
 * training state (checkpoints), training resumes where it stopped:
 * `await model.fit(x, y, { epochs, initialEpoch: model.epoch })`.
 */
export async function loadModel(dir: string, options: LoadOptions = {}): Promise<Sequential> {
  checkOptions(options, LOAD_OPTIONS, "loadModel");
  return (await loadModelWithManifest(dir, options)).model;
}

// Sequential.save() saves through this module, without the model front importing the file code.
provideModelSaver(saveModel);
