/**
 * The command line end to end, as a user runs it: each command is a subprocess (tsx
 * lib/cli/main.ts) on a small generated CSV. train -> evaluate -> predict -> export-onnx, plus the
 * error cases and exit codes.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { existsSync, readFileSync } from "node:fs";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import * as ort from "onnxruntime-node";
import { Rng } from "../lib/core/rng.js";
import { Matrix } from "../lib/core/matrix.js";
import { loadModel } from "../lib/io/model-file.js";
import { buildProgram } from "../lib/cli/program.js";
import { finished, maxAbsDiff, tempDir, type Run } from "./helpers.js";

const TSX = createRequire(import.meta.url).resolve("tsx/cli");
const MAIN = resolve("lib/cli/main.ts");

function blasnet(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return finished(
    spawn(process.execPath, [TSX, MAIN, ...args], {
      env: { ...process.env, BLASNET_BACKEND: "js", NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
      cwd: dir, // a default --out (./model) never lands in the repository
    }),
  );
}

/** A user mistake: exit 1, exactly one line on stderr, no stack trace. */
function expectUserError(r: Run, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(lines[0]).toMatch(pattern);
}

const dir = tempDir("blasnet-cli-");
const regCsv = join(dir, "reg.csv");
const clsCsv = join(dir, "cls.csv");
const N = 200;

beforeAll(async () => {
  const rng = new Rng(42);
  let reg = "id,x1,x2,x3,y\n";
  let cls = "a,b,kind\n";
  for (let i = 0; i < N; i++) {
    const x1 = 10 + 3 * rng.normal();
    const x2 = -2 + rng.normal();
    const x3 = 100 * rng.uniform();
    reg += `${i},${x1.toFixed(4)},${x2.toFixed(4)},${x3.toFixed(3)},${(0.5 * x1 - 3 * Math.sin(x2) + 0.02 * x3).toFixed(4)}\n`;
    const a = rng.normal();
    const b = rng.normal();
    const kind = a + b > 0.5 ? "round" : a - b > 0 ? '"flat, wide"' : "tall";
    cls += `${a.toFixed(4)},${b.toFixed(4)},${kind}\n`;
  }
  await writeFile(regCsv, reg);
  await writeFile(clsCsv, cls);
});

describe("blasnet CLI", () => {
  it("every command has --help (in-process), and the program lists them", () => {
    const program = buildProgram();
    expect(program.commands.map((c) => c.name())).toEqual(["train", "evaluate", "predict", "export-onnx", "export-torch", "import-torch", "info", "bench"]);
    for (const c of program.commands) expect(c.helpInformation()).toMatch(new RegExp(`^Usage: blasnet ${c.name()} `));
    expect(program.commands[0]!.helpInformation()).toMatch(/--target <columns>[\s\S]*--hidden <sizes>[\s\S]*--val <fraction>[\s\S]*--out <dir>/);
  });

  it("train -> evaluate -> predict -> export-onnx on a regression CSV", async () => {
    const model = join(dir, "reg-model");
    const t = await blasnet([
      "train", regCsv, "--target", "y", "--ignore", "id", "--hidden", "16,16", "--activation", "tanh",
      "--loss", "mse", "--optimizer", "adam", "--lr", "1e-2", "--epochs", "15", "--batch", "16", "--val", "0.2", "--out", model,
    ]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/^blasnet train: 200 rows .* \(160 training, 40 validation\), 3 features -> 1 target; mse, adam lr 0.01/);
    expect(t.stdout).toMatch(/final \(epoch 15\): loss [\d.]+, mae [\d.]+, r2 [\d.-]+, valLoss/);
    expect(t.stdout).toMatch(/[┼┤]/); // the terminal chart
    // Not a TTY: one progress line per epoch, on stderr.
    expect(t.stderr.split("\n").filter((l) => /^Epoch \d+\/15 - /.test(l))).toHaveLength(15);
    for (const f of ["model.json", "model.safetensors", "loss.svg", "history.json"]) expect(existsSync(join(model, f))).toBe(true);
    const svg = await readFile(join(model, "loss.svg"), "utf8");
    expect(svg).toMatch(/^<svg[\s\S]*epoch[\s\S]*<\/svg>$/);
    const history = JSON.parse(await readFile(join(model, "history.json"), "utf8"));
    expect(history.loss).toHaveLength(15);
    expect(history.loss[14]).toBeLessThan(history.loss[0] / 3);
    const manifest = JSON.parse(await readFile(join(model, "model.json"), "utf8"));
    expect(manifest.data).toEqual({ featureNames: ["x1", "x2", "x3"], targetNames: ["y"] });
    expect(manifest.normalizationTensors).toContain("targetMean");

    const e = await blasnet(["evaluate", model, regCsv]);
    expect(e.code, e.stderr).toBe(0);
    const r2 = Number(/^r2\s+([\d.-]+)$/m.exec(e.stdout)![1]);
    expect(r2).toBeGreaterThan(0.8);

    const p = await blasnet(["predict", model, regCsv]);
    expect(p.code, p.stderr).toBe(0);
    const lines = p.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("y_pred");
    expect(lines).toHaveLength(N + 1);
    const cliPred = Float32Array.from(lines.slice(1), Number);
    // Same as the library's predict on the same raw features.
    const raw = regRows(await readFile(regCsv, "utf8"));
    const lib = (await loadModel(model, { backend: "js" })).predict(raw);
    expect(maxAbsDiff(cliPred, lib.data)).toBe(0);

    const onnxPath = join(dir, "reg.onnx");
    const o = await blasnet(["export-onnx", model, onnxPath]);
    expect(o.code, o.stderr).toBe(0);
    expect(o.stdout).toMatch(/wrote .*reg\.onnx: input "input" \(batch, 3\)/);
    const session = await ort.InferenceSession.create(onnxPath);
    const out = await session.run({ input: new ort.Tensor("float32", raw.data, [raw.rows, raw.cols]) });
    await session.release();
    expect(maxAbsDiff(out["output"]!.data as Float32Array, cliPred)).toBeLessThan(1e-5);
  });

  it("classification: a class-label target, class names mapped back in predict", async () => {
    const model = join(dir, "cls-model");
    const t = await blasnet(["train", clsCsv, "--target", "kind", "--hidden", "16", "--epochs", "25", "--lr", "1e-2", "--val", "0.25", "--out", model, "--no-plot", "--verbose", "0"]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/3 classes; crossEntropy/);
    expect(t.stderr).toBe("");
    expect(existsSync(join(model, "loss.svg"))).toBe(false);
    const e = await blasnet(["evaluate", model, clsCsv, "--json"]);
    expect(e.code, e.stderr).toBe(0);
    const res = JSON.parse(e.stdout);
    expect(res.rows).toBe(N);
    expect(res.accuracy).toBeGreaterThan(0.8);
    const p = await blasnet(["predict", model, clsCsv, "--with-inputs"]);
    expect(p.code, p.stderr).toBe(0);
    const lines = p.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe('a,b,kind_pred,"p_flat, wide",p_round,p_tall');
    const classes = new Set(lines.slice(1).map((l) => /^[^,]+,[^,]+,("[^"]*"|[^,]*),/.exec(l)![1]));
    expect([...classes].every((c) => ['"flat, wide"', "round", "tall"].includes(c!))).toBe(true);
  });

  it("--checkpoint-every then --resume gives the same model as one uninterrupted run", async () => {
    const common = ["--target", "y", "--ignore", "id", "--hidden", "8", "--batch", "32", "--val", "0.2", "--no-plot", "--verbose", "0", "--lr", "1e-2"];
    const [straight, first] = await Promise.all([
      blasnet(["train", regCsv, ...common, "--epochs", "6", "--out", join(dir, "straight")]),
      blasnet(["train", regCsv, ...common, "--epochs", "4", "--checkpoint-every", "2", "--out", join(dir, "first")]),
    ]);
    expect(straight.code, straight.stderr).toBe(0);
    expect(first.code, first.stderr).toBe(0);
    const ckpt = JSON.parse(await readFile(join(dir, "first", "checkpoint", "model.json"), "utf8"));
    expect(ckpt.trainingState.epoch).toBe(4);
    const resumed = await blasnet(["train", regCsv, ...common, "--epochs", "6", "--resume", join(dir, "first", "checkpoint"), "--out", join(dir, "resumed")]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/resuming from .*checkpoint after epoch 4/);
    const a = await loadModel(join(dir, "straight"), { backend: "js" });
    const b = await loadModel(join(dir, "resumed"), { backend: "js" });
    expect(Array.from(b.params)).toEqual(Array.from(a.params));
    const again = await blasnet(["train", regCsv, ...common, "--epochs", "4", "--resume", join(dir, "first", "checkpoint")]);
    expectUserError(again, /has already trained 4 epochs: pass --epochs above 4/);
  });

  it("user mistakes: exit 1 with one line naming the problem, no stack trace", async () => {
    const model = join(dir, "reg-model"); // from the first test
    const cases: [string[], RegExp][] = [
      [["train", join(dir, "missing.csv"), "--target", "y"], /missing\.csv: file not found/],
      [["train", regCsv, "--target", "price"], /reg\.csv:1: target column "price" not found; the header has: id, x1, x2, x3, y/],
      [["train", regCsv, "--target", "y", "--lr", "fast"], /option '--lr <rate>' argument 'fast' is invalid/],
      [["train", regCsv, "--target", "y", "--val", "1.5"], /option '--val <fraction>' argument '1.5' is invalid/],
      [["train", regCsv, "--target", "y", "--hidden", "64,-1"], /--hidden <sizes>/],
      [["train", regCsv, "--target", "y", "--optimizer", "adamax"], /expected one of: sgd, adam, adamw, rmsprop/],
      [["train", regCsv], /required option '-t, --target <columns>' not specified/],
      [["frobnicate"], /unknown command 'frobnicate'/],
      [["evaluate", join(dir, "no-model"), regCsv], /no-model\/model\.json: model\.json not found/],
      [["evaluate", model, clsCsv], /cls\.csv:1: target column "y" not found; the header has: a, b, kind/],
    ];
    const results = await Promise.all(cases.map(([args]) => blasnet(args)));
    results.forEach((r, i) => expectUserError(r, cases[i]![1]));
  });

  it("an output path that cannot be written: one line, exit 1, and train says so before training", async () => {
    const aFile = join(dir, "a-file");
    await writeFile(aFile, "not a directory\n");
    const [t, e] = await Promise.all([
      blasnet(["train", regCsv, "--target", "y", "--ignore", "id", "--epochs", "2", "--verbose", "2", "--out", join(aFile, "model")]),
      blasnet(["export-onnx", join(dir, "reg-model"), join(aFile, "m.onnx")]),
    ]);
    expectUserError(t, /cannot create directory ".*a-file\/model": a part of the path is a file, not a directory \(ENOTDIR\)/);
    expect(t.stdout).not.toMatch(/Epoch/);
    expectUserError(e, /cannot (create directory|open) ".*a-file.*": .* \((ENOTDIR|EEXIST)\); choose another path/);
  });

  it("malformed inputs: ragged CSV rows and a damaged model name the file and the place", async () => {
    const ragged = join(dir, "ragged.csv");
    await writeFile(ragged, "a,y\n1,2\n3\n");
    const nonNum = join(dir, "nonnum.csv");
    await writeFile(nonNum, "a,y\n1,2\nabc,3\n");
    const broken = join(dir, "broken-model");
    const t = await blasnet(["train", regCsv, "--target", "y", "--ignore", "id", "--hidden", "4", "--epochs", "1", "--out", broken, "--no-plot", "--verbose", "0"]);
    expect(t.code, t.stderr).toBe(0);
    const st = await readFile(join(broken, "model.safetensors"));
    await writeFile(join(broken, "model.safetensors"), st.subarray(0, st.length - 7));
    const [r1, r2, r3, r4] = await Promise.all([
      blasnet(["train", ragged, "--target", "y"]),
      blasnet(["train", nonNum, "--target", "y"]),
      blasnet(["predict", broken, regCsv]),
      blasnet(["predict", broken, regCsv, "--debug"]),
    ]);
    expectUserError(r1, /ragged\.csv:3: row has 1 fields but the header has 2/);
    expectUserError(r2, /nonnum\.csv:3: non-numeric value "abc"; features must be numbers \(column "a"\)/);
    expectUserError(r3, /broken-model\/\.model\.\d+\.[0-9a-f]{12}\.safetensors: is \d+ bytes but .*model\.json expects \d+/);
    expect(r4.code).toBe(1);
    expect(r4.stderr).toMatch(/\n\s+at /); // --debug: the stack trace too
  });

  const pkg = JSON.parse(readFileSync(resolve("package.json"), "utf8")) as { bin: Record<string, string>; version: string };
  const bin = resolve(pkg.bin["blasnet"]!);
  // Skipped in a checkout that was never built; CI always builds (scripts/setup.sh runs npm install).
  it.skipIf(!existsSync(bin) && !process.env["CI"])("the package's bin (dist/, built by npm install / npm run build) is an executable that runs", async () => {
    expect(existsSync(bin), `${bin} is missing: run npm run build`).toBe(true);
    expect((await stat(bin)).mode & 0o111, `${bin} is not executable (npx blasnet would fail)`).not.toBe(0);
    const r = await finished(spawn(bin, ["--version"], { stdio: ["ignore", "pipe", "pipe"] }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it("info and bench", async () => {
    const [info, bench, benchFail] = await Promise.all([
      blasnet(["info"], { BLASNET_BACKEND: "" }),
      blasnet(["bench", "--quick", "--only", "T2"], { BLASNET_BENCH_SCRIPT: resolve("test/fixtures/echo-args.ts") }),
      blasnet(["bench", "--fail"], { BLASNET_BENCH_SCRIPT: resolve("test/fixtures/echo-args.ts") }),
    ]);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toMatch(/^blasnet\s+\d+\.\d+\.\d+[\s\S]*^backend\s+(native|js)$[\s\S]*^BLAS\s+\S[\s\S]*^threads\s+\d+$[\s\S]*^CPU\s+\S/m);
    expect(bench.code).toBe(0);
    expect(bench.stdout).toBe('bench-args ["--quick","--only","T2"]\n');
    expect(benchFail.code).toBe(3); // the suite's exit code is passed through
    // The real suite is where the command looks for it.
    expect(existsSync(resolve("bench/run.ts"))).toBe(true);
  });
});

/** The regression CSV's feature columns as a matrix (parsed independently of lib/data/csv.ts). */
function regRows(text: string): Matrix {
  const rows = text.trimEnd().split("\n").slice(1).map((l) => l.split(",").slice(1, 4).map(Number));
  return Matrix.fromArray(rows);
}
