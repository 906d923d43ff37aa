/**
 * fit, evaluate and predict take images (N, C, H, W) for a convolutional model, as
 * `{ data, shape }` (not copied) or nested arrays, on every backend; a wrong shape is an error naming
 * the expected and the given shape.
 */
import { describe, expect, it } from "vitest";
import { adam, conv2d, dense, flatten, maxPool2d, Sequential, type BackendName } from "../lib/index.js";
import { Rng } from "../lib/core/rng.js";
import { nativeOrSkip } from "./helpers.js";

const native = nativeOrSkip();
const N = 24;
const [C, H, W] = [2, 6, 6];

/** N images (2, 6, 6) of two classes: class 1 brighter in its first channel's left half. */
function images(): { x: Float32Array; y: Int32Array } {
  const rng = new Rng(5);
  const x = new Float32Array(N * C * H * W);
  const y = new Int32Array(N);
  for (let n = 0; n < N; n++) {
    y[n] = n % 2;
    for (let i = 0; i < C * H * W; i++) {
      const c = Math.floor(i / (H * W));
      const w = i % W;
      x[n * C * H * W + i] = rng.uniform() + (y[n] === 1 && c === 0 && w < 3 ? 1.5 : 0);
    }
  }
  return { x, y };
}

/** The same images as number[][][][]. */
function nested(x: Float32Array): number[][][][] {
  return Array.from({ length: N }, (_, n) =>
    Array.from({ length: C }, (_, c) => Array.from({ length: H }, (_, h) => Array.from(x.subarray(((n * C + c) * H + h) * W, ((n * C + c) * H + h + 1) * W)))),
  );
}

function model(backend: BackendName): Sequential {
  const m = new Sequential([conv2d(4, 3, { padding: 1, activation: "relu" }), maxPool2d(2), flatten(), dense(2)], {
    inputShape: [C, H, W],
    seed: 3,
    backend,
  });
  m.compile({ loss: "crossEntropy", optimizer: adam({ lr: 0.01 }) });
  return m;
}

describe.each([["js", true], ["native", native !== undefined]] as const)("images (N, C, H, W) on the %s backend", (backend, available) => {
  it.skipIf(!available)("fit, evaluate and predict take { data, shape } and nested arrays alike", async () => {
    const { x, y } = images();
    const shaped = { data: x, shape: [N, C, H, W] };
    const a = model(backend);
    const b = model(backend);
    const before = await a.evaluate(shaped, y, { metrics: ["accuracy"] });
    const ha = await a.fit(shaped, y, { epochs: 8, batchSize: 8, verbose: 0, validationSplit: 0.25 });
    const hb = await b.fit(nested(x), y, { epochs: 8, batchSize: 8, verbose: 0, validationSplit: 0.25 });
    expect(hb.loss).toEqual(ha.loss);
    expect(hb.valLoss).toEqual(ha.valLoss);
    const after = await a.evaluate(shaped, y, { metrics: ["accuracy"] });
    expect(after.loss).toBeLessThan(before.loss);
    const pa = a.predict(shaped);
    expect(pa.shape).toEqual([N, 2]);
    expect(b.predict(nested(x)).data).toEqual(pa.data);
    expect(Array.from(a.predictClasses({ data: x.subarray(0, 4 * C * H * W), shape: [4, C, H, W] }))).toHaveLength(4);
    a.dispose();
    b.dispose();
  });

  it.skipIf(!available)("a wrong shape is an error naming the expected and the given shape", async () => {
    const { x, y } = images();
    const m = model(backend);
    await expect(m.fit({ data: x, shape: [N, C * H * W] }, y, { verbose: 0 })).rejects.toThrow(`x has shape [${N}, ${C * H * W}] but the model takes [N, 2, 6, 6]`);
    await expect(m.evaluate({ data: x, shape: [N, 1, 12, 6] }, y)).rejects.toThrow(`x has shape [${N}, 1, 12, 6] but the model takes [N, 2, 6, 6]`);
    expect(() => m.predict({ data: x, shape: [N, H, W, C] })).toThrow(/has shape \[24, 6, 6, 2\] but the model takes \[N, 2, 6, 6\]/);
    const bad = nested(x);
    bad[3]![1]!.pop();
    await expect(m.fit(bad, y, { verbose: 0 })).rejects.toThrow(/x\[3\]\[1\] is an array of 5 but the model takes \[N, 2, 6, 6\]: expected an array of 6/);
    m.dispose();
  });
});
