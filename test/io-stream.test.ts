import { describe, expect, it } from "vitest";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Matrix } from "../lib/core/matrix.js";
import { Rng } from "../lib/core/rng.js";
import { Sequential } from "../lib/nn/sequential.js";
import { dense, dropout } from "../lib/nn/layers.js";
import { adam, exponentialDecay } from "../lib/optim/index.js";
import { csvBatches, fitStream, streamStats, type Batch } from "../lib/data/batches.js";
import { columnStats } from "../lib/data/csv.js";
import { tempDir } from "./helpers.js";

const root = tempDir("blasnet-stream-");

function model(seed: number): Sequential {
  const m = new Sequential([dense(8, { activation: "relu" }), dropout(0.1), dense(1)], { inputSize: 2, seed, backend: "js" });
  m.compile({ loss: "mse", optimizer: adam({ lr: exponentialDecay({ initial: 0.02, decayRate: 0.9, decaySteps: 10 }) }) });
  return m;
}

/** Rows generated on the fly: y = 2 x0 - x1 + 0.5. */
function* generated(seed: number, batches: number, batchSize: number): Generator<Batch> {
  const rng = new Rng(seed);
  for (let b = 0; b < batches; b++) {
    const x = Matrix.randomNormal(batchSize, 2, rng);
    const y = Matrix.zeros(batchSize, 1);
    for (let i = 0; i < batchSize; i++) y.data[i] = 2 * x.get(i, 0) - x.get(i, 1) + 0.5;
    yield { x, y };
  }
}

describe("fitStream", () => {
  it("trains exactly as fit on the same rows, in order, with the same batch boundaries", async () => {
    const rows = 53; // last batch partial
    const batchSize = 10;
    const all = [...generated(1, 1, rows)][0]!;
    const ax = all.x as Matrix;
    const ay = all.y as Matrix;
    const batches = (): Batch[] => {
      const out: Batch[] = [];
      for (let s = 0; s < rows; s += batchSize) {
        const e = Math.min(rows, s + batchSize);
        out.push({ x: ax.sliceRows(s, e), y: ay.sliceRows(s, e) });
      }
      return out;
    };
    const a = model(4);
    const ha = await a.fit(ax, ay, { epochs: 3, batchSize, shuffle: false, verbose: 0 });
    const b = model(4);
    const hb = await fitStream(b, batches, { epochs: 3, verbose: 0 });
    expect(hb.steps).toEqual([6, 6, 6]);
    expect(b.step).toBe(a.step);
    expect(Array.from(b.params)).toEqual(Array.from(a.params));
    for (let e = 0; e < 3; e++) expect(hb.loss[e]).toBeCloseTo(ha.loss[e]!, 5);
  });

  it("learns from an async generator that never holds the dataset", async () => {
    const m = model(2);
    // One batch at a time: each batch is asked for only after the previous one was trained on
    // (no read-ahead, no buffering of the stream).
    let pulled = 0;
    const stepsAtPull: number[] = [];
    async function* source(): AsyncGenerator<Batch> {
      for (const b of generated(7, 40, 16)) {
        await new Promise((r) => setImmediate(r));
        stepsAtPull.push(m.step - pulled++);
        yield b;
      }
    }
    const lines: string[] = [];
    const sink = { write: (s: string) => (lines.push(s), true) } as unknown as NodeJS.WritableStream;
    const h = await fitStream(m, source, { epochs: 4, verbose: 2, progressStream: sink });
    expect(h.epochs).toEqual([0, 1, 2, 3]);
    expect(h.steps).toEqual([40, 40, 40, 40]);
    expect(stepsAtPull).toHaveLength(160);
    expect(new Set(stepsAtPull)).toEqual(new Set([0])); // steps taken == batches pulled before, at every pull
    expect(h.loss[3]!).toBeLessThan(0.25 * h.loss[0]!);
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatch(/^Epoch 4\/4 - .* - loss /);
  });

  it("a one-shot iterable trains one epoch and says what to do for more", async () => {
    const m = model(3);
    await expect(fitStream(m, generated(1, 3, 8), { epochs: 2, verbose: 0 })).rejects.toThrow(/pass a function that returns a new iterable/);
    const h = await fitStream(model(3), generated(1, 3, 8), { epochs: 1, verbose: 0 });
    expect(h.steps).toEqual([3]);
  });

  it("csvBatches streams a file (with streamStats standardization) and names line and column in errors", async () => {
    const p = join(root, "d.csv");
    const rng = new Rng(5);
    let text = "id,x0,x1,y\n";
    for (let i = 0; i < 100; i++) {
      const x0 = 100 + 10 * rng.normal();
      const x1 = -5 + rng.normal();
      text += `${i},${x0},${x1},${0.1 * x0 - x1}\n`;
    }
    await writeFile(p, text);
    const src = () => csvBatches(p, { target: "y", ignore: ["id"], batchSize: 32 });
    const sizes: number[] = [];
    for await (const b of src()) sizes.push((b.x as Matrix).rows);
    expect(sizes).toEqual([32, 32, 32, 4]);
    const stats = await streamStats(src, { targets: true });
    // Same statistics as the in-memory computation.
    const xs: number[][] = [];
    for await (const b of src()) xs.push(...(b.x as Matrix).toArray());
    const ref = columnStats(Matrix.fromArray(xs));
    for (let j = 0; j < 2; j++) {
      expect(stats.inputMean[j]).toBeCloseTo(ref.mean[j]!, 3);
      expect(stats.inputStd[j]).toBeCloseTo(ref.std[j]!, 3);
    }
    const m = model(1);
    m.setNormalization(stats);
    const h = await fitStream(m, src, { epochs: 5, verbose: 0 });
    expect(h.loss[4]!).toBeLessThan(h.loss[0]!);

    await writeFile(p, "a,y\n1,2\n3,oops\n");
    await expect(async () => {
      for await (const _ of csvBatches(p, { target: "y" })) void _;
    }).rejects.toThrow(/d\.csv:3: non-numeric value "oops"; targets must be numbers \(column "y"\)/);
    await writeFile(p, "a,k\n1,cat\n2,cow\n");
    await expect(async () => {
      for await (const _ of csvBatches(p, { target: "k", classNames: ["cat", "dog"] })) void _;
    }).rejects.toThrow(/d\.csv:3: unknown class "cow"/);
    await writeFile(p, "a,k\n1,cat\n2,dog\n");
    const got: number[] = [];
    for await (const b of csvBatches(p, { target: "k", classNames: ["dog", "cat"] })) got.push(...(b.y as Int32Array));
    expect(got).toEqual([1, 0]);
  });
});
