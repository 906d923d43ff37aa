/**
 * The command line with data as people have it and flags as Keras / PyTorch users write them:
 * headerless files and a line of counts (scikit-learn's layout), missing cells, integer class
 * labels, a two-class text column with binaryCrossEntropy, every optimizer / schedule / early
 * stopping flag, misspelled flags, and `evaluate`'s classification report on the held-out rows.
 * Each command is a subprocess (tsx lib/cli/main.ts), as a user runs it.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Rng } from "../lib/core/rng.js";
import { OPTIMIZERS } from "../lib/optim/index.js";
import { OPTIMIZER_FLAGS } from "../lib/cli/train.js";
import { finished, tempDir, type Run } from "./helpers.js";

const TSX = createRequire(import.meta.url).resolve("tsx/cli");
const MAIN = resolve("lib/cli/main.ts");
const fixture = (name: string): string => resolve("test", "fixtures", name);
const dir = tempDir("blasnet-cli-data-");

function blasnet(args: string[]): Promise<Run> {
  return finished(
    spawn(process.execPath, [TSX, MAIN, ...args], {
      env: { ...process.env, BLASNET_BACKEND: "js", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
      cwd: dir,
    }),
  );
}

function expectUserError(r: Run, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr).toMatch(pattern);
}

const binCsv = join(dir, "bin.csv");

beforeAll(async () => {
  // Two classes as text; "yes" when a + b > 0, with a little noise.
  const rng = new Rng(7);
  let text = "a,b,answer\n";
  for (let i = 0; i < 160; i++) {
    const a = rng.normal();
    const b = rng.normal();
    text += `${a.toFixed(3)},${b.toFixed(3)},${a + b + 0.3 * rng.normal() > 0 ? "yes" : "no"}\n`;
  }
  await writeFile(binCsv, text);
});

describe("blasnet CLI: data as it comes", () => {
  it("a first line of counts and class names is not taken as the header; --skip-lines 1 --target -1 reads the file, and integer labels get a hint", async () => {
    const wrong = await blasnet(["train", fixture("counts-first.csv"), "--target", "4", "--epochs", "1"]);
    expectUserError(wrong, /counts-first\.csv:1: the first row mixes numbers and names .*--no-header.*--skip-lines 1/);
    const out = join(dir, "counts");
    const r = await blasnet(["train", fixture("counts-first.csv"), "--skip-lines", "1", "--target", "-1", "--epochs", "2", "--out", out, "--no-plot", "--verbose", "0"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/12 rows .* 4 features -> 1 target; mse/);
    expect(r.stdout).toMatch(/has no header row \(its first row is numbers\): columns are named by position, 0 to 4/);
    expect(r.stdout).toMatch(/note: target "4" has only 3 distinct integer values \(0, 1, 2\).*training a regression \(mse\).*--loss crossEntropy/);
    // Asked for classes, the same labels train a classifier in numeric order.
    const c = await blasnet(["train", fixture("counts-first.csv"), "--skip-lines", "1", "--target", "-1", "--loss", "crossEntropy", "--epochs", "2", "--out", out, "--no-plot", "--verbose", "0"]);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).not.toMatch(/distinct integer values/);
    expect(JSON.parse(await readFile(join(out, "model.json"), "utf8")).data.classNames).toEqual(["0", "1", "2"]);
  });

  it("--no-header, --delimiter and --missing", async () => {
    const out = join(dir, "nh");
    const r = await blasnet(["train", fixture("no-header.csv"), "--no-header", "--target", "2", "--epochs", "1", "--batch", "2", "--out", out, "--no-plot", "--verbose", "0"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/4 rows/);
    const semi = await blasnet(["train", fixture("semicolons.csv"), "--target", "y", "--epochs", "1", "--out", out, "--no-plot", "--verbose", "0"]);
    expectUserError(semi, /semicolons\.csv:1: the first row is a single column, and it contains ";".*--delimiter ";"/);
    const ok = await blasnet(["train", fixture("semicolons.csv"), "--delimiter", ";", "--target", "y", "--epochs", "1", "--out", out, "--no-plot", "--verbose", "0"]);
    expect(ok.code, ok.stderr).toBe(0);
    const missing = await blasnet(["train", fixture("with-missing.csv"), "--target", "y", "--epochs", "1", "--out", out, "--no-plot", "--verbose", "0"]);
    expectUserError(missing, /with-missing\.csv:3: missing value \("NA"\) in a feature; .*--missing drop.*--missing mean.*\(column "a"\)/);
    const drop = await blasnet(["train", fixture("with-missing.csv"), "--target", "y", "--missing", "drop", "--epochs", "1", "--out", out, "--no-plot", "--verbose", "0"]);
    expect(drop.code, drop.stderr).toBe(0);
    expect(drop.stdout).toMatch(/2 rows .*\n.*left out 3 row\(s\) with missing cells/);
    const mean = await blasnet(["train", fixture("with-missing.csv"), "--target", "y", "--missing", "mean", "--epochs", "1", "--out", out, "--no-plot", "--verbose", "0"]);
    expect(mean.stdout).toMatch(/filled 2 missing feature cell\(s\) with their column's mean/);
  });

  it("binaryCrossEntropy on a two-class text column: trains, evaluates (report with ROC AUC) and predicts class names", async () => {
    const out = join(dir, "bin");
    const t = await blasnet(["train", binCsv, "--target", "answer", "--loss", "binaryCrossEntropy", "--epochs", "20", "--val", "0.25", "--out", out, "--no-plot", "--verbose", "0"]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/2 features -> 2 classes \(no, yes; one output: the probability of yes\); binaryCrossEntropy/);
    // Printed names are the epoch log names: valLoss and valAccuracy, not "val accuracy".
    const final = t.stdout.split("\n").find((l) => l.startsWith("final"))!;
    expect(final).toMatch(/^final \(epoch 20\): loss [\d.]+, accuracy [\d.]+, valLoss [\d.]+, valAccuracy ([\d.]+)$/);
    const valAccuracy = Number(/valAccuracy ([\d.]+)/.exec(final)![1]);

    const e = await blasnet(["evaluate", out, binCsv, "--rows", "validation"]);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/rows\s+40 \(the validation rows/);
    expect(Number(/accuracy\s+([\d.]+)/.exec(e.stdout)![1])).toBeCloseTo(valAccuracy, 4);
    expect(e.stdout).toMatch(/confusion matrix \(rows: true class, columns: predicted class\)\n\s+no\s+yes\nno\s+\d+\s+\d+\nyes\s+\d+\s+\d+/);
    expect(e.stdout).toMatch(/\nno\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+\d+\nyes\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+\d+\nmacro avg .*\nweighted avg .*40\n/);
    expect(e.stdout).toMatch(/ROC AUC \(yes vs no\) 0\.\d{4}/);

    const j = await blasnet(["evaluate", out, binCsv, "--json"]);
    const report = JSON.parse(j.stdout) as { rows: number; classes: string[]; confusionMatrix: number[][]; perClass: Record<string, { support: number }>; rocAuc: number; accuracy: number };
    expect(report.rows).toBe(160);
    expect(report.classes).toEqual(["no", "yes"]);
    expect(report.confusionMatrix.flat().reduce((s, v) => s + v, 0)).toBe(160);
    expect(report.perClass["no"]!.support + report.perClass["yes"]!.support).toBe(160);
    expect(report.rocAuc).toBeGreaterThan(0.8);
    const right = report.confusionMatrix[0]![0]! + report.confusionMatrix[1]![1]!;
    expect(report.accuracy).toBeCloseTo(right / 160, 6);

    const p = await blasnet(["predict", out, binCsv]);
    expect(p.code, p.stderr).toBe(0);
    const lines = p.stdout.trim().split("\n");
    expect(lines[0]).toBe("answer_pred,p_yes");
    expect(lines[1]).toMatch(/^(yes|no),0?\.\d+|^(yes|no),[01](\.\d+)?(e-\d+)?$/);
    // More than two classes is not a binaryCrossEntropy target.
    const three = await blasnet(["train", fixture("counts-first.csv"), "--skip-lines", "1", "--target", "-1", "--loss", "binaryCrossEntropy", "--epochs", "1", "--out", out]);
    expectUserError(three, /binaryCrossEntropy needs 0\/1 targets but found 2/);
  });

  it("every option of every optimizer has a train flag", () => {
    for (const def of Object.values(OPTIMIZERS)) {
      for (const option of def.options) expect(Object.keys(OPTIMIZER_FLAGS), `${def.name}'s ${option}`).toContain(option);
    }
  });

  it("every optimizer hyperparameter, schedules, early stopping, dropout, metrics and clipping are flags", async () => {
    const out = join(dir, "flags");
    const r = await blasnet([
      "train", binCsv, "--target", "answer", "--optimizer", "sgd", "--lr", "0.05", "--momentum", "0.9", "--nesterov", "--weight-decay", "1e-4",
      "--schedule", "step", "--step-size", "2", "--gamma", "0.5", "--dropout", "0.1", "--metrics", "accuracy,macroF1,auc", "--clip-norm", "1",
      "--epochs", "30", "--val", "0.25", "--patience", "2", "--monitor", "valLoss", "--out", out, "--no-plot", "--verbose", "0",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const model = JSON.parse(await readFile(join(out, "model.json"), "utf8")).model;
    expect(model.compile.optimizer).toEqual({ name: "sgd", lr: { kind: "stepDecay", initial: 0.05, stepSize: 2, gamma: 0.5, per: "epoch" }, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 1e-4 });
    expect(model.compile.clipNorm).toBe(1);
    expect(model.layers.filter((l: { type: string }) => l.type === "dropout")).toHaveLength(2);
    const history = JSON.parse(await readFile(join(out, "history.json"), "utf8"));
    expect(Object.keys(history.valMetrics).sort()).toEqual(["accuracy", "auc", "macroF1"]);
    expect(r.stdout).toMatch(/valMacroF1 [\d.]+, valAuc [\d.]+/);
    if (history.loss.length < 30) expect(r.stdout).toMatch(/early stopping: valLoss did not improve for 2 epoch\(s\) after epoch \d+ .*the saved model has that epoch's weights/);

    const adam = await blasnet(["train", binCsv, "--target", "answer", "--optimizer", "adamw", "--betas", "0.8,0.99", "--eps", "1e-7", "--weight-decay", "0.02", "--schedule", "cosine", "--warmup-steps", "3", "--epochs", "2", "--out", out, "--no-plot", "--verbose", "0"]);
    expect(adam.code, adam.stderr).toBe(0);
    const opt = JSON.parse(await readFile(join(out, "model.json"), "utf8")).model.compile.optimizer;
    expect([opt.name, opt.betas, opt.eps, opt.weightDecay, opt.lr.kind, opt.lr.after.kind]).toEqual(["adamw", [0.8, 0.99], 1e-7, 0.02, "linearWarmup", "cosineDecay"]);

    expectUserError(await blasnet(["train", binCsv, "--target", "answer", "--betas", "0.9,0.99", "--optimizer", "sgd"]), /--betas applies to --optimizer adam or adamw, not sgd/);
    expectUserError(await blasnet(["train", binCsv, "--target", "answer", "--gamma", "0.5"]), /--gamma belongs to --schedule step; pass --schedule step/);
    expectUserError(await blasnet(["train", binCsv, "--target", "answer", "--monitor", "valLoss"]), /--monitor and --min-delta belong to early stopping: pass --patience/);
  });

  it("a misspelled or other library's flag suggests blasnet's", async () => {
    for (const [flag, right] of [["--batch-size", "--batch"], ["--validation_split", "--val"], ["--learning-rate", "--lr"], ["--weight_decay", "--weight-decay"]]) {
      const r = await blasnet(["train", binCsv, "--target", "answer", flag!, "3"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`unknown option '${flag}'\n(Did you mean ${right}?)`);
    }
  });
});
