/** `blasnet import-torch trained/ model/`: what train_ddp.py saved, back as a blasnet model directory. */
import type { Command } from "commander";
import { saveModel } from "../io/model-file.js";
import { importTorchWithData } from "../io/torch-import.js";

export async function runImportTorch(torchDir: string, modelDir: string, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const { model, data } = await importTorchWithData(torchDir);
  await saveModel(model, modelDir, { data });
  out.write(`wrote ${modelDir} (model.json, model.safetensors) from ${torchDir}: ${model.parameterCount().toLocaleString("en-US")} parameters\n`);
}

export function registerImportTorch(program: Command): void {
  program
    .command("import-torch")
    .description("read what train_ddp.py (or any state_dict of export-torch's module) saved and write a blasnet model directory")
    .argument("<torch-dir>", "directory with blasnet.json and model.safetensors")
    .argument("<model-dir>", "directory to write the blasnet model into")
    .action(async (torchDir: string, modelDir: string) => {
      await runImportTorch(torchDir, modelDir);
    });
}
