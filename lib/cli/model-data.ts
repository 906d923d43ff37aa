/** Shared by evaluate and predict: a saved model and a CSV read with the model's columns. */
import { readCsv, type CsvDataset } from "../data/csv.js";
import { loadModelWithManifest, type ModelManifest } from "../io/model-file.js";
import type { Sequential } from "../nn/sequential.js";
import { UserError } from "./errors.js";

export async function loadForData(
  modelDir: string,
  file: string,
  needTarget: boolean,
): Promise<{ model: Sequential; manifest: ModelManifest; data: CsvDataset }> {
  const { model, manifest } = await loadModelWithManifest(modelDir);
  const info = manifest.data ?? {};
  if (!info.featureNames) {
    throw new UserError(`${modelDir}/model.json has no feature column names (the model was not trained from a CSV file): use the library API for it`);
  }
  if (needTarget && !info.targetNames) throw new UserError(`${modelDir}/model.json has no target column names`);
  const data = await readCsv(file, {
    features: info.featureNames,
    target: info.targetNames ?? [],
    requireTarget: needTarget,
    ...(info.classNames ? { classNames: info.classNames } : { categorical: false }),
  });
  return { model, manifest, data };
}
