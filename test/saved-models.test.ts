// Models saved by blasnet 0.1.0 (test/fixtures/models, written by that release's code before the
// layer registry replaced its layer classes) must keep loading, predicting and resuming the same.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadModel, loadModelWithManifest } from "../lib/index.js";

const dir = join(import.meta.dirname, "fixtures", "models");
const expected = JSON.parse(readFileSync(join(dir, "expected-0.1.0.json"), "utf8")) as {
  x: number[][];
  classifier: number[];
  regressor: number[];
};

describe("models saved by blasnet 0.1.0", () => {
  for (const name of ["classifier", "regressor"] as const) {
    it(`${name}: loads and predicts what 0.1.0 predicted (TypeScript backend, bit for bit)`, async () => {
      const model = await loadModel(join(dir, `${name}-0.1.0`), { backend: "js" });
      expect(Array.from(model.predict(expected.x).data)).toEqual(expected[name]);
    });

    it(`${name}: keeps its optimizer state and trains on from it`, async () => {
      const { model, manifest } = await loadModelWithManifest(join(dir, `${name}-0.1.0`), { backend: "js", trainingState: true });
      const state = model.getTrainingState();
      expect(state.step).toBe(manifest.trainingState!.step);
      expect(state.step).toBeGreaterThan(0);
      expect(state.optimizerState.some((v) => v !== 0)).toBe(true);
      const y = name === "classifier" ? [0, 1, 2, 0, 1, 2] : expected.x.map(([a, b]) => [a! + b!, a! - b!]);
      const before = model.getWeights().map((w) => Array.from(w.weight.data));
      await model.fit(expected.x, y, { epochs: 1, batchSize: 3, verbose: 0 });
      expect(model.getWeights().map((w) => Array.from(w.weight.data))).not.toEqual(before);
    });
  }
});
