/** `blasnet export-torch model/ torch/`: the saved model as a PyTorch module, weights and a DDP training script. */
import type { Command } from "commander";
import { loadModelWithManifest } from "../io/model-file.js";
import { exportTorch } from "../io/torch-export.js";
import { userInputAsync } from "./errors.js";

export async function runExportTorch(modelDir: string, outDir: string, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const { model, manifest } = await loadModelWithManifest(modelDir);
  await userInputAsync(modelDir, () => exportTorch(model, outDir, { data: manifest.data ?? {} }));
  out.write(
    `wrote ${outDir}: model.py (nn.Module: raw features (N, ${model.inputSize}) -> what predict returns, (N, ${model.outputSize})), ` +
      `model.safetensors, train_ddp.py, blasnet.json, README.md\n`,
  );
}

export function registerExportTorch(program: Command): void {
  program
    .command("export-torch")
    .description("export a saved model to PyTorch: model.py (nn.Module), model.safetensors, train_ddp.py (DistributedDataParallel), README.md")
    .argument("<model-dir>", "directory written by blasnet train")
    .argument("<out-dir>", "directory to write (created if needed)")
    .action(async (modelDir: string, outDir: string) => {
      await runExportTorch(modelDir, outDir);
    });
}
