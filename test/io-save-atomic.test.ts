/**
 * Saves never lose a model: after a kill (SIGKILL) at a random instant or a failure at any step of
 * a save, `loadModel(dir)` returns the complete old model or the complete new one; concurrent saves
 * into one folder do not mix; stale temporary files are removed by the next save. Models saved by
 * blasnet 0.1 (format 1) still load.
 */
import { spawn } from "node:child_process";
import { readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Matrix } from "../lib/core/matrix.js";
import { checkpoint, loadCheckpoint } from "../lib/io/checkpoint.js";
import { loadModel, loadModelWithManifest, saveModel } from "../lib/io/model-file.js";
import type { Sequential } from "../lib/nn/sequential.js";
import { bigModel, smallTraining } from "./fixtures/save-models.js";
import { tempDir } from "./helpers.js";

const root = tempDir("blasnet-atomic-");
const LOOP = join("test", "fixtures", "save-loop.ts");

function sameParams(a: Sequential, b: Sequential): boolean {
  return a.params.length === b.params.length && a.params.every((v, i) => Object.is(v, b.params[i]));
}

/** The visible files, and the hidden ones (versioned weights, temporary files). */
async function listing(dir: string): Promise<{ visible: string[]; hidden: string[] }> {
  const names = (await readdir(dir)).sort();
  return { visible: names.filter((n) => !n.startsWith(".")), hidden: names.filter((n) => n.startsWith(".")) };
}

/**
 * The child's script: bundled once with esbuild (which tsx is built on) so each child starts in
 * ~0.2 s instead of ~0.8 s under the tsx loader; the tsx loader when esbuild cannot be imported.
 */
let loopArgs: Promise<string[]> | undefined;
function childArgs(): Promise<string[]> {
  loopArgs ??= import("esbuild").then(
    async (esbuild) => {
      // Inside node_modules so the bundle's package imports resolve from the project.
      const out = join("node_modules", ".cache", "blasnet-test", `save-loop-${process.pid}.mjs`);
      await esbuild.build({ entryPoints: [LOOP], bundle: true, platform: "node", format: "esm", packages: "external", outfile: out, logLevel: "error" });
      return [out];
    },
    () => ["--import", "tsx", LOOP],
  );
  return loopArgs;
}

afterAll(async () => {
  const args = await loopArgs;
  if (args?.length === 1) await rm(args[0]!, { force: true });
});

type Child = ReturnType<typeof spawn>;

/** A save-loop child that has loaded and waits for "go". */
async function startLoop(dir: string, mode: "save" | "checkpoint"): Promise<Child> {
  const child = spawn(process.execPath, [...(await childArgs()), dir, mode], { stdio: ["pipe", "pipe", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  child.once("exit", (code, signal) => {
    if (signal !== "SIGKILL") child.emit("failed", new Error(`save loop exited (${code ?? signal}): ${err}`));
  });
  await nextLine(child);
  return child;
}

function nextLine(child: Child): Promise<void> {
  return new Promise((res, rej) => {
    child.stdout!.once("data", () => res());
    child.once("failed", rej);
  });
}

/** Let `child` start saving, SIGKILL it after a random delay (0-30 ms) past its first save, and wait until it is gone. */
async function killAtRandom(child: Child): Promise<void> {
  const ready = nextLine(child);
  child.stdin!.write("go\n");
  await ready;
  await new Promise((r) => setTimeout(r, Math.random() * 30));
  const gone = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await gone;
}

/** `kills` kill cycles into `dir`, one saving child at a time, while the next ones load. */
async function killLoop(dir: string, mode: "save" | "checkpoint", kills: number, check: (i: number) => Promise<void>): Promise<void> {
  const queue = Array.from({ length: Math.min(3, kills) }, () => startLoop(dir, mode));
  queue.forEach((p) => p.catch(() => undefined));
  for (let i = 0; i < kills; i++) {
    const child = await queue.shift()!;
    await killAtRandom(child);
    await check(i);
    if (i + queue.length + 1 < kills) {
      const next = startLoop(dir, mode);
      next.catch(() => undefined);
      queue.push(next);
    }
  }
}

describe("saves under SIGKILL", () => {
  it("model.save(dir) killed at 100 random instants: the directory always loads the complete old or new model", async () => {
    const dir = join(root, "kill-save");
    const versions = [bigModel(1), bigModel(2)];
    await bigModel(3).save(dir);
    const allowed = [...versions, bigModel(3)];
    const seen = new Set<number>();
    await killLoop(dir, "save", 100, async (i) => {
      const back = await loadModel(dir, { backend: "js" }).catch((e: Error) => {
        throw new Error(`after kill ${i + 1}: ${e.message}`);
      });
      const k = allowed.findIndex((m) => sameParams(m, back));
      expect(k, `after kill ${i + 1} the model is none of the saved versions`).toBeGreaterThanOrEqual(0);
      expect(Array.from(back.normalization!.inputMean)).toEqual(Array.from(allowed[k]!.normalization!.inputMean));
      seen.add(k);
    });
    expect(seen.has(0) && seen.has(1)).toBe(true); // the kills did land between saves of both versions
    // The next save removes what the killed ones left behind.
    await bigModel(1).save(dir);
    const { visible, hidden } = await listing(dir);
    expect(visible).toEqual(["model.json", "model.safetensors"]);
    expect(hidden).toHaveLength(1);
    expect(hidden[0]).toMatch(/^\.model\.\d+\.[0-9a-f]{12}\.safetensors$/);
  }, 120_000);

  it("checkpoint() during fit killed at 60 random instants: loadCheckpoint gives exactly the weights of the epoch it reports", async () => {
    const dir = join(root, "kill-ckpt");
    // The weights after each epoch of an uninterrupted run (same model, data and seed as the child).
    const ref = smallTraining();
    const byEpoch: Float32Array[] = [];
    await ref.model.fit(ref.x, ref.y, {
      epochs: 600,
      batchSize: 8,
      verbose: 0,
      callbacks: [{ onEpochEnd: (_e: number, _l: unknown, m: Sequential) => void byEpoch.push(Float32Array.from(m.params)) }],
    });
    const first = smallTraining();
    await first.model.fit(first.x, first.y, { epochs: 1, batchSize: 8, verbose: 0, callbacks: [checkpoint({ dir })] });
    await killLoop(dir, "checkpoint", 60, async (i) => {
      const back = await loadCheckpoint(dir, { backend: "js" }).catch((e: Error) => {
        throw new Error(`after kill ${i + 1}: ${e.message}`);
      });
      expect(back.epoch).toBeGreaterThanOrEqual(1);
      expect(back.epoch).toBeLessThanOrEqual(byEpoch.length);
      expect(Array.from(back.params)).toEqual(Array.from(byEpoch[back.epoch - 1]!));
    });
  }, 120_000);
});

describe("saves with a failure at every step", () => {
  it("a fault thrown before each step of a save leaves the old or the new model, and the next save cleans up", async () => {
    const dir = join(root, "faults");
    const oldModel = bigModel(1);
    const newModel = bigModel(2);
    await oldModel.save(dir);
    const steps: string[] = [];
    await saveModel(newModel, dir, { faults: { at: (step, target) => void steps.push(`${step} ${target}`) } });
    expect(steps.length).toBeGreaterThanOrEqual(10);
    for (let k = 0; k < steps.length; k++) {
      await oldModel.save(dir);
      let n = 0;
      const fault = (): void => {
        if (n++ === k) throw Object.assign(new Error(`EIO: injected fault at ${steps[k]}`), { code: "EIO" });
      };
      await expect(saveModel(newModel, dir, { faults: { at: fault } })).rejects.toThrow(/injected fault/);
      const back = await loadModel(dir, { backend: "js" });
      expect(sameParams(back, oldModel) || sameParams(back, newModel), `fault at step ${k} (${steps[k]})`).toBe(true);
      // Every fault before the rename of model.json keeps the old model.
      const renamed = steps.findIndex((s) => s.startsWith("rename") && s.endsWith("model.json"));
      if (k <= renamed) expect(sameParams(back, oldModel), `fault at step ${k} (${steps[k]})`).toBe(true);
      else expect(sameParams(back, newModel), `fault at step ${k} (${steps[k]})`).toBe(true);
    }
    await newModel.save(dir);
    const { hidden } = await listing(dir);
    expect(hidden).toHaveLength(1);
  });

  it("two saves into one folder at once do not mix: the manifest and weights always belong together", async () => {
    const dir = join(root, "concurrent");
    const a = bigModel(1);
    const b = bigModel(2);
    for (let round = 0; round < 10; round++) {
      await Promise.all([a.save(dir), b.save(dir, { includeOptimizer: true }), a.save(dir), b.save(dir)]);
      const back = await loadModel(dir, { backend: "js" });
      expect(sameParams(back, a) || sameParams(back, b)).toBe(true);
    }
    const { hidden } = await listing(dir);
    expect(hidden).toHaveLength(1);
  });

  it("removes temporary files left by a dead process, and keeps those of a live one", async () => {
    const dir = join(root, "stale");
    await bigModel(1).save(dir);
    // pid 2^22+1 is above Linux's pid_max limit, so no such process exists.
    const dead = [".model.json.4194305.0123abcd.tmp", ".model.safetensors.4194305.89abcdef.tmp", ".model.4194305.0123456789ab.safetensors"];
    const alive = `.model.json.${process.ppid}.0123abcd4567.tmp`;
    for (const f of [...dead, alive]) await writeFile(join(dir, f), "partial");
    await bigModel(2).save(dir);
    const { hidden } = await listing(dir);
    expect(hidden.filter((h) => dead.includes(h))).toEqual([]);
    expect(hidden).toContain(alive);
  });
});

describe("model directory format", () => {
  it("loads a model saved by blasnet 0.1 (format 1: normalization in model.json, weights in model.safetensors)", async () => {
    const { model, manifest } = await loadModelWithManifest(join("test", "fixtures", "model-format1"), { backend: "js" });
    expect(manifest.formatVersion).toBe(1);
    expect(Array.from(model.predict(Matrix.fromArray([[0.5, -1, 2]])).data)).toEqual([3.906189441680908, 5.539019584655762]);
    expect(model.epoch).toBe(2);
    expect(Array.from(model.normalization!.targetStd!)).toEqual([2, 3]);
  });

  it("saving over a planted model.json or model.safetensors link replaces the link, never writes its target", async () => {
    const dir = join(root, "links");
    const victim = join(root, "victim.txt");
    await writeFile(victim, "do not overwrite");
    await bigModel(1).save(dir);
    for (const f of ["model.json", "model.safetensors"]) {
      await rm(join(dir, f));
      await symlink(victim, join(dir, f));
    }
    await bigModel(2).save(dir);
    expect(await readFile(victim, "utf8")).toBe("do not overwrite");
    expect(sameParams(await loadModel(dir, { backend: "js" }), bigModel(2))).toBe(true);
  });
});
