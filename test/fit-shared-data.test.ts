/**
 * A native fused fit hands its plan training rows over SharedArrayBuffers, which the worker reads
 * in place: no run copies rows of x or y on the main thread (the plan's copiedRows, read after
 * every run through a hook on the plan fit uses). x is copied once per fit when users' arrays are
 * ordinary ones; the copies fit makes anyway (standardized inputs, nested arrays) are made shared
 * in the first place, and the validation split's rows stay views of them.
 */
import { describe, expect, it } from "vitest";
import type { NativeFusedPlan } from "../lib/backend/native/fused-plan.js";
import type { StepRun } from "../lib/backend/plan.js";
import { isShared } from "../lib/core/shared.js";
import { Sequential, dense } from "../lib/index.js";
import { SharedPool, sharedTrainingData } from "../lib/train/fit-data.js";
import { makeSlicer } from "../lib/train/yield.js";
import { nativeOrSkip } from "./helpers.js";

const ROWS = 600;
const IN = 20;
const CLASSES = 4;
const BATCH = 16;

function features(shared: boolean): Float32Array {
  const x = new Float32Array(shared ? new SharedArrayBuffer(ROWS * IN * 4) : new ArrayBuffer(ROWS * IN * 4));
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37);
  return x;
}

function model(loss: "crossEntropy" | "mse"): Sequential {
  const m = new Sequential([dense(12, { activation: "relu" }), dense(CLASSES)], { inputSize: IN, seed: 3, backend: "native" });
  m.compile({ loss, optimizer: "adam", trainingPath: "fused" });
  return m;
}

interface Seen {
  runs: number;
  copiedRows: number;
  sharedX: boolean;
  sharedY: boolean;
  xBytes: Set<number>;
}

/** Records, for every run fit hands the plan of (batch size, target form), what it copied and what it got. */
function watch(m: Sequential, denseTargets: boolean): Seen {
  const plan = m._plan(BATCH, denseTargets, false) as NativeFusedPlan;
  const seen: Seen = { runs: 0, copiedRows: 0, sharedX: true, sharedY: true, xBytes: new Set() };
  const runSteps = plan.runSteps.bind(plan);
  plan.runSteps = async (run: StepRun): Promise<number> => {
    const pending = runSteps(run);
    seen.runs++;
    seen.copiedRows += plan.copiedRows;
    seen.sharedX &&= isShared(run.x);
    seen.sharedY &&= isShared(run.y);
    seen.xBytes.add(run.x.buffer.byteLength);
    return pending;
  };
  return seen;
}

describe.runIf(nativeOrSkip())("native fused fit: training rows over SharedArrayBuffers", () => {
  it("plain x and class labels: x is copied once per fit, never per run, and trains as shared x does", async () => {
    const labels = Int32Array.from({ length: ROWS }, (_, i) => (i * 7) % CLASSES);
    const a = model("crossEntropy");
    const seen = watch(a, false);
    const plainX = features(false);
    await a.fit({ data: plainX, shape: [ROWS, IN] }, labels, { epochs: 3, batchSize: BATCH, verbose: 0 });
    expect(seen.runs).toBeGreaterThan(0);
    expect(seen.copiedRows).toBe(0);
    expect(seen.sharedX).toBe(true);
    expect(plainX.buffer).toBeInstanceOf(ArrayBuffer); // the user's array is left as it was

    const b = model("crossEntropy");
    await b.fit({ data: features(true), shape: [ROWS, IN] }, labels, { epochs: 3, batchSize: BATCH, verbose: 0 });
    expect(Array.from(a.params)).toEqual(Array.from(b.params));
  });

  it("plain float targets (mse): x and y are both read in place", async () => {
    const y = new Float32Array(ROWS * CLASSES).map((_, i) => Math.cos(i));
    const m = model("mse");
    const seen = watch(m, false);
    await m.fit({ data: features(false), shape: [ROWS, IN] }, { data: y, shape: [ROWS, CLASSES] }, { epochs: 2, batchSize: BATCH, verbose: 0 });
    expect(seen.runs).toBeGreaterThan(0);
    expect(seen).toMatchObject({ copiedRows: 0, sharedX: true, sharedY: true });
  });

  it("standardized inputs with a validation split: the standardized copy is the shared one (no second copy)", async () => {
    const labels = Int32Array.from({ length: ROWS }, (_, i) => i % CLASSES);
    const m = model("crossEntropy");
    m.setNormalization({ inputMean: new Float32Array(IN).fill(0.1), inputStd: new Float32Array(IN).fill(2) });
    const seen = watch(m, false);
    await m.fit({ data: features(false), shape: [ROWS, IN] }, labels, { epochs: 2, batchSize: BATCH, verbose: 0, validationSplit: 0.25 });
    expect(seen.runs).toBeGreaterThan(0);
    expect(seen).toMatchObject({ copiedRows: 0, sharedX: true });
    // The training rows are a view of the standardized copy of all rows (validation rows included).
    expect([...seen.xBytes]).toEqual([ROWS * IN * 4]);
  });

  it("nested arrays: converted straight into shared memory", async () => {
    const xs = Array.from({ length: ROWS }, (_, r) => Array.from({ length: IN }, (_, j) => Math.sin(r * IN + j)));
    const m = model("crossEntropy");
    const seen = watch(m, false);
    await m.fit(xs, Array.from({ length: ROWS }, (_, i) => i % CLASSES), { epochs: 1, batchSize: BATCH, verbose: 0 });
    expect(seen).toMatchObject({ copiedRows: 0, sharedX: true });
  });

  it("sharedTrainingData keeps arrays that are already shared and copies others whole", async () => {
    const shared = features(true);
    const kept = await sharedTrainingData({ x: shared, y: { kind: "index", data: new Int32Array(ROWS) }, rows: ROWS, weights: null }, makeSlicer());
    expect(kept.x).toBe(shared);
    const plain = features(false);
    const copied = await sharedTrainingData({ x: plain, y: { kind: "float", data: new Float32Array([1, 2, 3]) }, rows: ROWS, weights: null }, makeSlicer());
    expect(isShared(copied.x)).toBe(true);
    expect(Array.from(copied.x)).toEqual(Array.from(plain));
    expect(isShared(copied.y.data)).toBe(true);
    expect(Array.from(copied.y.data)).toEqual([1, 2, 3]);
  });

  it("SharedPool: a buffer given back serves the next take that fits, and is never handed out twice", () => {
    const pool = new SharedPool();
    const a = pool.take(100);
    expect(isShared(a)).toBe(true);
    expect(a.length).toBe(100);
    pool.give(a.buffer as SharedArrayBuffer);
    const b = pool.take(80); // fits: the same memory, 80 values long
    expect(b.buffer).toBe(a.buffer);
    expect(b.length).toBe(80);
    const c = pool.take(80); // the spare is taken: fresh memory
    expect(c.buffer).not.toBe(a.buffer);
    pool.give(c.buffer as SharedArrayBuffer);
    expect(pool.take(120).buffer).not.toBe(c.buffer); // too small to serve 120 values
  });

  it("a fit reuses the shared copy the previous fit gave back", async () => {
    const labels = Int32Array.from({ length: ROWS }, (_, i) => i % CLASSES);
    const m = model("crossEntropy");
    const buffers: ArrayBufferLike[] = [];
    const plan = m._plan(BATCH, false, false);
    const runSteps = plan.runSteps.bind(plan);
    plan.runSteps = (run: StepRun): Promise<number> => {
      buffers.push(run.x.buffer);
      return runSteps(run);
    };
    const x = { data: features(false), shape: [ROWS, IN] };
    await m.fit(x, labels, { epochs: 1, batchSize: BATCH, verbose: 0 });
    const first = buffers[0];
    await m.fit(x, labels, { epochs: 1, batchSize: BATCH, verbose: 0 });
    // Held by `first` here, so the pool's weak reference to it still resolves.
    expect(new Set(buffers)).toEqual(new Set([first]));
  });
});
