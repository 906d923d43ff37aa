// A sample's shape, not just a width: models take (N, ...sampleShape) inputs, layers compute their
// output shapes, and shape mistakes are errors that name the expected and the given shape.
import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { adam, dense, dropout, flatten, loadModel, relu, Sequential } from "../lib/index.js";
import { Rng } from "../lib/core/rng.js";
import { nativeOrSkip, tempDir, thrown } from "./helpers.js";

const native = nativeOrSkip();

const root = tempDir("blasnet-shapes-");

function images(n: number, seed: number): { data: Float32Array; labels: Int32Array } {
  const rng = new Rng(seed);
  const data = new Float32Array(n * 2 * 3 * 3);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 3;
    for (let j = 0; j < 18; j++) data[i * 18 + j] = rng.normal() + (j % 3 === labels[i] ? 1.5 : 0);
  }
  return { data, labels };
}

function imageModel(backend: "js" | "native" = "js"): Sequential {
  const m = new Sequential([flatten(), dense(8, { activation: "relu" }), dropout(0.1), dense(3)], { inputShape: [2, 3, 3], seed: 4, backend });
  m.compile({ loss: "crossEntropy", optimizer: adam({ lr: 0.01 }) });
  return m;
}

describe("sample shapes", () => {
  it("layers compute output shapes; summary shows (batch, ...shape) and the input shape", () => {
    const m = imageModel();
    expect(m.inputShape).toEqual([2, 3, 3]);
    expect(m.inputSize).toBe(18);
    expect(m.layers.map((l) => l.outShape)).toEqual([[18], [8], [8], [3]]);
    const text = m.summary({ print: false });
    expect(text).toContain("Sequential (input: (batch, 2, 3, 3))");
    expect(text).toMatch(/flatten_0\s+flatten\s+\(batch, 18\)\s+0/);
    expect(text).toMatch(/dense_1\s+dense \(relu\)\s+\(batch, 8\)\s+152/);
  });

  it("fit, evaluate and predict take { data, shape: [N, ...sampleShape] } and nested arrays alike", async () => {
    const { data, labels } = images(60, 1);
    const m = imageModel();
    const before = (await m.evaluate({ data, shape: [60, 2, 3, 3] }, labels)).loss;
    await m.fit({ data, shape: [60, 2, 3, 3] }, labels, { epochs: 20, batchSize: 16, verbose: 0 });
    const after = (await m.evaluate({ data, shape: [60, 2, 3, 3] }, labels)).loss;
    expect(after).toBeLessThan(before * 0.5);
    const nested = Array.from({ length: 2 }, (_, i) =>
      Array.from({ length: 2 }, (_, c) => Array.from({ length: 3 }, (_, h) => Array.from(data.subarray(i * 18 + c * 9 + h * 3, i * 18 + c * 9 + h * 3 + 3)))),
    );
    expect(Array.from(m.predict(nested).data)).toEqual(Array.from(m.predict({ data: data.subarray(0, 36), shape: [2, 2, 3, 3] }).data));
  });

  it("shape mistakes name the expected and the given shape", () => {
    const m = imageModel();
    expect(thrown(() => m.predict({ data: new Float32Array(36), shape: [2, 3, 3, 2] })).message).toBe("x has shape [2, 3, 3, 2] but the model takes [N, 2, 3, 3]");
    expect(thrown(() => m.predict([[[[1, 2, 3]]]])).message).toMatch(/^x\[0\] is an array of 1 but the model takes \[N, 2, 3, 3\]: expected an array of 2$/);
    expect(thrown(() => m.predict([[1, 2]])).message).toMatch(/x\[0\]\[0\] is the number 1 but the model takes \[N, 2, 3, 3\]/);
    const e = thrown(() => new Sequential([dense(4)], { inputShape: [1, 28, 28] }));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toBe("Layer 0 (dense_0): dense takes inputs of shape (batch, features) but receives (batch, 1, 28, 28): put flatten() before it");
    expect(thrown(() => new Sequential([dense(1)], { inputShape: [0, 3] })).message).toMatch(/Invalid inputShape: .*expected a sample's shape as positive integers/);
    expect(thrown(() => new Sequential([dense(1)], { inputSize: 3, inputShape: [3] })).message).toMatch(/Give inputSize or inputShape, not both/);
  });

  it("inputSize is the shorthand for a one-dimensional inputShape", () => {
    const a = new Sequential([dense(2), relu()], { inputSize: 5, seed: 1 });
    const b = new Sequential([dense(2), relu()], { inputShape: [5], seed: 1 });
    expect(a.inputShape).toEqual([5]);
    expect(Array.from(a.params)).toEqual(Array.from(b.params));
    expect(a.config()).toEqual(b.config());
    expect(a.config()).not.toHaveProperty("inputShape");
  });

  it("the input shape survives config, save and load; native fused and TypeScript agree on an image model", async () => {
    const { data, labels } = images(40, 2);
    const x = { data, shape: [40, 2, 3, 3] as const };
    const m = imageModel();
    await m.fit(x, labels, { epochs: 2, batchSize: 8, verbose: 0 });
    const dir = join(root, "image-model");
    await m.save(dir);
    const back = await loadModel(dir, { backend: "js" });
    expect(back.inputShape).toEqual([2, 3, 3]);
    expect(Array.from(back.predict(x).data)).toEqual(Array.from(m.predict(x).data));
    expect(Sequential.fromConfig(m.config()).inputShape).toEqual([2, 3, 3]);
  });

  it.skipIf(!native)("native fused and TypeScript train an image model to the same weights", async () => {
    const { data, labels } = images(40, 3);
    const x = { data, shape: [40, 2, 3, 3] as const };
    const js = imageModel("js");
    const nat = imageModel("native");
    await js.fit(x, labels, { epochs: 3, batchSize: 8, verbose: 0 });
    await nat.fit(x, labels, { epochs: 3, batchSize: 8, verbose: 0 });
    let worst = 0;
    for (let i = 0; i < js.params.length; i++) worst = Math.max(worst, Math.abs(js.params[i]! - nat.params[i]!));
    expect(worst).toBeLessThan(1e-4);
  });
});
