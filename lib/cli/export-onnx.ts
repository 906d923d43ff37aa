/** `blasnet export-onnx model/ model.onnx`: the saved model as ONNX (same outputs as predict). */
import type { Command } from "commander";
import { loadModelWithManifest } from "../io/model-file.js";
import { parseInteger } from "./errors.js";

export async function runExportOnnx(modelDir: string, file: string, opts: { opset: number }, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const { model, manifest } = await loadModelWithManifest(modelDir);
  const { exportOnnx } = await import("../io/onnx.js"); // protobufjs only when exporting
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(manifest.data ?? {})) if (v) metadata[k] = JSON.stringify(v);
  await exportOnnx(model, file, { opset: opts.opset, metadata });
  out.write(
    `wrote ${file}: input "input" (batch, ${model.inputSize}) float32 raw features -> output "output" (batch, ${model.outputSize}), opset ${opts.opset}\n`,
  );
}

export function registerExportOnnx(program: Command): void {
  program
    .command("export-onnx")
    .description("export a saved model to ONNX (standardization and output transform included)")
    .argument("<model-dir>", "directory written by blasnet train")
    .argument("<model.onnx>", "file to write")
    .option("--opset <n>", "ONNX opset (13-22; from 20 GELU uses the Gelu op)", parseInteger(13, 22), 17)
    .action(async (modelDir: string, file: string, opts: { opset: number }) => {
      await runExportOnnx(modelDir, file, opts);
    });
}
