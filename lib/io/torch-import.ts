/**
 * PyTorch import: `importTorch(dir)` rebuilds a blasnet model from a directory holding blasnet.json
 * (the architecture, as exportTorch wrote it and train_ddp.py copies it) and model.safetensors (the
 * state_dict of model.py's module: what train_ddp.py saves, or any matching module's).
 *
 * The tensors must be exactly the module's: every key present, none extra, each float32 with the
 * shape the architecture gives it. Every error names the file and the tensor.
 */
import { join } from "node:path";
import type { Backend } from "../backend/backend.js";
import type { BackendName } from "../backend/index.js";
import { describe } from "../core/matrix.js";
import { checkOptions } from "../core/options.js";
import { Sequential, type NormalizationInput, type SequentialConfig } from "../nn/sequential.js";
import { MAX_MANIFEST_BYTES } from "./model-dir.js";
import type { DataInfo } from "./model-file.js";
import { openRegularFile, readExactly } from "../core/regular-file.js";
import { ModelFileError, readSafetensors, type SafetensorsContent } from "./safetensors.js";
import { TORCH_MANIFEST_FILE, TORCH_MANIFEST_FORMAT, TORCH_MANIFEST_VERSION, TORCH_WEIGHTS_FILE, torchStateDict } from "./torch-export.js";
import { NORMALIZATION_BUFFERS } from "./torch-spec.js";

/** Options of importTorch. */
export interface TorchImportOptions {
  /** Backend of the imported model. */
  backend?: Backend | BackendName;
}

async function readManifest(path: string): Promise<{ config: SequentialConfig; data: DataInfo }> {
  const file = await openRegularFile(path, (problem) =>
    problem === "was not found"
      ? new ModelFileError(path, `not found: a directory for import-torch holds ${TORCH_MANIFEST_FILE} and ${TORCH_WEIGHTS_FILE} (as export-torch and train_ddp.py write them)`)
      : new ModelFileError(path, `${TORCH_MANIFEST_FILE} ${problem}`),
  );
  let text: string;
  try {
    if (file.size > MAX_MANIFEST_BYTES) throw new ModelFileError(path, `${TORCH_MANIFEST_FILE} is ${file.size} bytes, more than the ${MAX_MANIFEST_BYTES}-byte limit`);
    const bytes = await readExactly(file, 0, file.size, (problem) => new ModelFileError(path, `${TORCH_MANIFEST_FILE} ${problem}`));
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (e) {
    if (e instanceof ModelFileError) throw e;
    throw new ModelFileError(path, "not valid UTF-8 text");
  } finally {
    await file.handle.close();
  }
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (e) {
    throw new ModelFileError(path, `not valid JSON (${(e as Error).message})`);
  }
  const man = m as Record<string, unknown> | null;
  if (man === null || typeof man !== "object" || man["format"] !== TORCH_MANIFEST_FORMAT) {
    throw new ModelFileError(path, `not written by blasnet export-torch: "format" is ${describe(man?.["format"])}, expected "${TORCH_MANIFEST_FORMAT}"`);
  }
  const version = man["formatVersion"];
  if (typeof version !== "number" || !Number.isInteger(version) || version < 1 || version > TORCH_MANIFEST_VERSION) {
    throw new ModelFileError(path, `"formatVersion" is ${describe(version)}; this blasnet reads 1 to ${TORCH_MANIFEST_VERSION} (upgrade blasnet for a newer export)`);
  }
  const config = man["model"];
  if (config === null || typeof config !== "object" || Array.isArray(config)) throw new ModelFileError(path, `"model" must be the model config object`);
  const data = (man["data"] ?? {}) as Record<string, unknown>;
  if (data === null || typeof data !== "object") throw new ModelFileError(path, `"data" must be an object`);
  for (const k of ["featureNames", "targetNames", "classNames"]) {
    const v = data[k];
    if (v !== undefined && (!Array.isArray(v) || !v.every((s) => typeof s === "string"))) throw new ModelFileError(path, `"data.${k}" must be an array of strings`);
  }
  return { config: config as SequentialConfig, data: data as DataInfo };
}

/** Check `st` holds exactly the tensors of `model`'s module, with their shapes. */
function checkTensors(st: SafetensorsContent, model: Sequential, file: string, manifest: string): void {
  const expected = new Map(torchStateDict(model).map(([name, t]) => [name, t.shape]));
  for (const [name, shape] of expected) {
    const t = st.tensors.get(name);
    if (!t) {
      throw new ModelFileError(file, `missing tensor "${name}" (float32, shape [${shape.join(", ")}]) that the architecture in ${manifest} needs; save the whole state_dict of model.py's module`);
    }
    if (t.shape.length !== shape.length || t.shape.some((d, k) => d !== shape[k])) {
      throw new ModelFileError(file, `tensor "${name}" has shape [${t.shape.join(", ")}] but the architecture in ${manifest} needs [${shape.join(", ")}]`);
    }
    const std = name.endsWith("_std");
    const bad = t.data.findIndex((v) => !Number.isFinite(v) || (std && v <= 0));
    if (bad >= 0) {
      throw new ModelFileError(file, `tensor "${name}" holds ${t.data[bad]} at index ${bad}; expected finite values${std ? " > 0 (a standard deviation)" : ""} (did training diverge?)`);
    }
  }
  for (const name of st.tensors.keys()) {
    if (expected.has(name)) continue;
    const hint = name.startsWith("module.")
      ? ": keys starting with \"module.\" come from the DistributedDataParallel wrapper; save the state_dict of the wrapped module (ddp.module)"
      : `; the module has ${[...expected.keys()].join(", ")}`;
    throw new ModelFileError(file, `unexpected tensor "${name}": the architecture in ${manifest} has no place for it${hint}`);
  }
}

/** `importTorch`, with the CSV column names blasnet.json records. */
export async function importTorchWithData(dir: string, options: TorchImportOptions = {}): Promise<{ model: Sequential; data: DataInfo }> {
  if (typeof dir !== "string" || dir === "") throw new TypeError(`importTorch expects a directory path but received ${describe(dir)}`);
  checkOptions(options, ["backend"], "importTorch");
  const manifestPath = join(dir, TORCH_MANIFEST_FILE);
  const weightsPath = join(dir, TORCH_WEIGHTS_FILE);
  const { config, data } = await readManifest(manifestPath);
  let model: Sequential;
  try {
    model = Sequential.fromConfig(config, options.backend ? { backend: options.backend } : {});
  } catch (e) {
    throw new ModelFileError(manifestPath, `invalid model config: ${(e as Error).message}`);
  }
  let st: SafetensorsContent;
  try {
    // Batch norm's step counter (int64 in a state_dict PyTorch saved itself): blasnet does not keep it.
    st = await readSafetensors(weightsPath, { skip: (name) => name.endsWith(".num_batches_tracked") });
  } catch (e) {
    if (e instanceof ModelFileError && /has dtype/.test(e.message)) {
      throw new ModelFileError(weightsPath, `${e.message.slice(weightsPath.length + 2)}: convert the module with .float() before saving its state_dict`);
    }
    throw e;
  }
  checkTensors(st, model, weightsPath, manifestPath);
  const tensor = (name: string): Float32Array => st.tensors.get(name)!.data;
  try {
    // Every tensor was checked (name, shape, finite) above: write each layer's parameters.
    model.layers.forEach((l, i) => {
      for (const p of l.params) p.value.set(tensor(`layers.${i}.${p.name}`));
    });
    if (model.normalization) {
      const norm: Record<string, Float32Array> = {};
      for (const [key, field] of NORMALIZATION_BUFFERS) if (st.tensors.has(key)) norm[field] = tensor(key);
      model.setNormalization(norm as unknown as NormalizationInput);
    }
  } catch (e) {
    throw new ModelFileError(weightsPath, (e as Error).message);
  }
  return { model, data };
}

/**
 * Load what train_ddp.py (or any matching module's state_dict saved as safetensors next to the
 * export's blasnet.json) wrote in `dir`: a blasnet model with those weights and standardization,
 * compiled as the exported model was. It predicts what the PyTorch module computes.
 */
export async function importTorch(dir: string, options: TorchImportOptions = {}): Promise<Sequential> {
  return (await importTorchWithData(dir, options)).model;
}
