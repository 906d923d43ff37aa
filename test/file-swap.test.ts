/**
 * A file swapped for a FIFO between a check and the read (a hostile process racing blasnet): readCsv
 * and loadModel checked the path with stat() and then opened it again by name, so a FIFO put in
 * the file's place after the check blocked the open forever. They now open the file once, without
 * blocking, and check that open file's own status. The race is made deterministic here: node's
 * stat() is wrapped so that it swaps the file for a FIFO right after it looked at the file; code that
 * calls stat() by path and then reopens the name reads the FIFO, code that does not never sees it.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";

/** Paths whose next stat() swaps them for a FIFO once it has looked at the regular file. */
const swapAfterStat = new Set<string>();

vi.mock("node:fs/promises", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs/promises")>();
  const stat = async (...args: Parameters<typeof fs.stat>) => {
    const st = await fs.stat(...args);
    const path = String(args[0]);
    if (swapAfterStat.delete(path)) {
      await fs.rm(path);
      execFileSync("mkfifo", [path]);
    }
    return st;
  };
  return { ...fs, stat, default: { ...fs, stat } };
});

const { writeFile } = await import("node:fs/promises");
const { readCsv } = await import("../lib/data/csv.js");
const { dense } = await import("../lib/nn/layers.js");
const { Sequential } = await import("../lib/nn/sequential.js");
const { loadModel, saveModel } = await import("../lib/io/model-file.js");
const { tempDir } = await import("./helpers.js");

const dir = tempDir("blasnet-file-swap-");

describe.runIf(process.platform !== "win32")("a file swapped for a FIFO after a check is never opened as one", () => {
  it("readCsv reads the file it opened", async () => {
    const p = join(dir, "data.csv");
    await writeFile(p, "a,y\n1,2\n3,4\n");
    swapAfterStat.add(p);
    const data = await readCsv(p, { target: "y" });
    expect(Array.from(data.x.data)).toEqual([1, 3]);
  }, 10_000);

  it("loadModel reads the model.json it opened", async () => {
    const model = new Sequential([dense(2)], { inputSize: 3, seed: 1, backend: "js" });
    model.compile({ loss: "mse", optimizer: "sgd" });
    const d = join(dir, "model");
    await saveModel(model, d);
    swapAfterStat.add(join(d, "model.json"));
    const loaded = await loadModel(d, { backend: "js" });
    expect(loaded.parameterCount()).toBe(8);
  }, 10_000);
});
