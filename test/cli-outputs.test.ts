/**
 * What the command line writes: every output file (history.json, loss.svg, split.json, predictions,
 * ONNX) replaces a link planted at its name instead of writing through it, errors name the file the
 * user asked for (not a temporary file), and class names in prediction CSVs cannot run as
 * spreadsheet formulas.
 */
import { lstat, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { main } from "../lib/cli/program.js";
import { csvField } from "../lib/cli/predict.js";
import { saveModel } from "../lib/io/model-file.js";
import { dense, softmax } from "../lib/nn/layers.js";
import { Sequential } from "../lib/nn/sequential.js";
import { tempDir } from "./helpers.js";

const dir = tempDir("blasnet-cli-outputs-");

/** Run the CLI in this process; its exit code and what it wrote. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
  const err = vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
  try {
    return { code: await main(["node", "blasnet", "--backend", "js", ...args]), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/** A file outside the output directory that a planted link points at. */
async function victim(name: string): Promise<string> {
  const p = join(dir, `victim-${name}`);
  await writeFile(p, "precious");
  return p;
}

describe("output files are never written through a planted link", () => {
  it("train --out: history.json, loss.svg and split.json replace the links", async () => {
    const csv = join(dir, "reg.csv");
    await writeFile(csv, "a,b,y\n" + Array.from({ length: 40 }, (_, i) => `${i % 7},${i % 5},${(i % 7) - (i % 5)}`).join("\n") + "\n");
    const out = join(dir, "trained");
    await mkdir(out, { recursive: true });
    const victims: Record<string, string> = {};
    for (const f of ["history.json", "loss.svg", "split.json", "model.json", "model.safetensors"]) {
      victims[f] = await victim(f);
      await symlink(victims[f]!, join(out, f));
    }
    const r = await cli(["train", csv, "--target", "y", "--hidden", "4", "--epochs", "2", "--val", "0.25", "--out", out, "--verbose", "0"]);
    expect(r.code, r.stderr).toBe(0);
    for (const [f, v] of Object.entries(victims)) {
      expect(await readFile(v, "utf8"), f).toBe("precious");
      expect((await lstat(join(out, f))).isSymbolicLink(), f).toBe(false);
    }
    expect(JSON.parse(await readFile(join(out, "history.json"), "utf8")).loss).toHaveLength(2);
    expect(await readFile(join(out, "loss.svg"), "utf8")).toMatch(/^<svg/);

    // predict --out over a planted link.
    const predicted = join(dir, "predicted.csv");
    const v = await victim("predicted.csv");
    await symlink(v, predicted);
    const p = await cli(["predict", out, csv, "--out", predicted]);
    expect(p.code, p.stderr).toBe(0);
    expect(await readFile(v, "utf8")).toBe("precious");
    expect((await readFile(predicted, "utf8")).split("\n")[0]).toBe("y_pred");

    // export-onnx over a planted link.
    const onnx = join(dir, "model.onnx");
    const vo = await victim("model.onnx");
    await symlink(vo, onnx);
    const o = await cli(["export-onnx", out, onnx]);
    expect(o.code, o.stderr).toBe(0);
    expect(await readFile(vo, "utf8")).toBe("precious");
    expect((await lstat(onnx)).isSymbolicLink()).toBe(false);

    // export-onnx failing (the target is a directory) names the target, not its temporary file.
    const taken = join(dir, "taken.onnx");
    await mkdir(taken);
    const f = await cli(["export-onnx", out, taken]);
    expect(f.code, f.stderr).toBe(1);
    expect(f.stderr).toContain(JSON.stringify(taken));
    expect(f.stderr).not.toMatch(/\.tmp/);
  }, 60_000);
});

describe("prediction CSVs are safe to open in a spreadsheet", () => {
  it("csvField neutralizes formulas but keeps numbers and plain text", () => {
    expect(csvField("=1+2")).toBe("'=1+2");
    expect(csvField("+cmd")).toBe("'+cmd");
    expect(csvField("-2+3")).toBe("'-2+3");
    expect(csvField("@SUM(A1)")).toBe("'@SUM(A1)");
    expect(csvField('=HYPERLINK("http://x","y")')).toBe(`"'=HYPERLINK(""http://x"",""y"")"`);
    expect(csvField("\tx")).toBe("'\tx");
    expect(csvField("-1")).toBe("-1");
    expect(csvField("+2.5e3")).toBe("+2.5e3");
    expect(csvField("cat")).toBe("cat");
    expect(csvField("a,b")).toBe('"a,b"');
  });

  it("predict writes class names that begin with = + - @ so that they do not run", async () => {
    const classes = ["=1+2", "@SUM(A1)", "-cmd", "+x"];
    const model = new Sequential([dense(4), softmax()], { inputSize: 1, seed: 3, backend: "js" });
    model.compile({ loss: "crossEntropy", optimizer: "sgd" });
    // Output k wins for input k: the bias decides.
    const modelDir = join(dir, "classes-model");
    const csv = join(dir, "classes.csv");
    await writeFile(csv, "x\n1\n");
    for (let k = 0; k < classes.length; k++) {
      const bias = new Float32Array(4);
      bias[k] = 5;
      model.setWeights([{ weight: new Float32Array(4), bias }]);
      await saveModel(model, modelDir, { data: { featureNames: ["x"], targetNames: ["label"], classNames: classes } });
      const r = await cli(["predict", modelDir, csv]);
      expect(r.code, r.stderr).toBe(0);
      const [header, row] = r.stdout.trim().split("\n");
      expect(header).toBe("label_pred,p_=1+2,p_@SUM(A1),p_-cmd,p_+x");
      expect(row!.split(",")[0]).toBe(`'${classes[k]}`);
    }
  });
});
