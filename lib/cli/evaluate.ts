/** `blasnet evaluate model/ data.csv`: loss and metrics of a saved model on labelled data. */
import type { Command } from "commander";
import type { MetricName } from "../train/metrics.js";
import { loadForData } from "./model-data.js";
import { UserError, userInputAsync } from "./errors.js";

export async function runEvaluate(modelDir: string, file: string, opts: { json?: boolean }, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const { model, data } = await loadForData(modelDir, file, true);
  if (!model.loss) throw new UserError(`${modelDir}/model.json has no loss (the model was saved uncompiled)`);
  const classification = model.loss.name === "crossEntropy" || model.loss.name === "binaryCrossEntropy";
  const metrics: MetricName[] = classification ? ["accuracy"] : ["mse", "mae", "rmse", "r2"];
  const y = data.labels ?? data.y!;
  const r = await userInputAsync(file, () => model.evaluate(data.x, y, { metrics }));
  const result = { rows: data.x.rows, ...r };
  if (opts.json) {
    out.write(JSON.stringify(result) + "\n");
    return;
  }
  const lossNote = model.normalization?.targetStd ? " (on standardized targets)" : "";
  const lines = [`rows      ${data.x.rows}`, `loss      ${r.loss.toPrecision(6)}  ${model.loss.name}${lossNote}`];
  for (const m of metrics) lines.push(`${m.padEnd(9)} ${r[m]!.toPrecision(6)}`);
  out.write(lines.join("\n") + "\n");
}

export function registerEvaluate(program: Command): void {
  program
    .command("evaluate")
    .description("evaluate a saved model on a CSV file with the model's feature and target columns")
    .argument("<model-dir>", "directory written by blasnet train")
    .argument("<data.csv>", "labelled data")
    .option("--json", "print the results as one JSON line")
    .action(async (modelDir: string, file: string, opts: { json?: boolean }) => {
      await runEvaluate(modelDir, file, opts);
    });
}
