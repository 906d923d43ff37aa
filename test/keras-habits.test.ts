/**
 * What a Keras or tfjs user writes first gets a working answer or an error naming blasnet's way:
 * monitor "val_loss", history.history.loss, loss "categoricalCrossentropy", metrics in compile,
 * model.save("file://dir") and loadModel of the model.json path.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadModel } from "../lib/io/model-file.js";
import { dense } from "../lib/nn/layers.js";
import { Sequential } from "../lib/nn/sequential.js";
import { earlyStopping } from "../lib/train/callbacks.js";
import { tempDir } from "./helpers.js";

const dir = tempDir("blasnet-keras-");
const x = Array.from({ length: 40 }, (_, i) => [Math.sin(i), Math.cos(i)]);
const labels = x.map(([a, b]) => (a! + b! > 0 ? 1 : 0));

function classifier(): Sequential {
  const m = new Sequential([dense(8, { activation: "relu" }), dense(2)], { inputSize: 2, seed: 3, backend: "js" });
  m.compile({ loss: "crossEntropy", optimizer: "adam" });
  return m;
}

describe("Keras and tfjs habits", () => {
  it('earlyStopping({ monitor: "val_loss" }) watches valLoss', async () => {
    const stop = earlyStopping({ monitor: "val_loss", patience: 1 });
    await classifier().fit(x, labels, { epochs: 3, verbose: 0, validationSplit: 0.25, callbacks: [stop] });
    expect(stop.monitored).toBe("valLoss");
    expect(stop.bestEpoch).toBeGreaterThanOrEqual(0);
  });

  it("history.history is Keras' dictionary (loss, accuracy, val_loss, val_accuracy), left out of JSON", async () => {
    const h = await classifier().fit(x, labels, { epochs: 2, verbose: 0, validationSplit: 0.25, metrics: ["accuracy"] });
    expect(Object.keys(h.history).sort()).toEqual(["accuracy", "loss", "val_accuracy", "val_loss"]);
    expect(h.history["loss"]).toEqual(h.loss);
    expect(h.history["val_loss"]).toEqual(h.valLoss);
    expect(h.history["val_accuracy"]).toEqual(h.valMetrics!["accuracy"]);
    expect(Object.keys(JSON.parse(JSON.stringify(h)))).not.toContain("history");
  });

  it("Keras loss names and metrics in compile say what blasnet calls them", () => {
    const m = new Sequential([dense(2)], { inputSize: 2, seed: 0 });
    expect(() => m.compile({ loss: "categoricalCrossentropy" as never, optimizer: "adam" })).toThrow(/Invalid loss: .*"categoricalCrossentropy"; blasnet calls it "crossEntropy"/);
    expect(() => m.compile({ loss: "binary_crossentropy" as never, optimizer: "adam" })).toThrow(/blasnet calls it "binaryCrossEntropy"/);
    expect(() => m.compile({ loss: "mean_squared_error" as never, optimizer: "adam" })).toThrow(/blasnet calls it "mse"/);
    expect(() => m.compile({ loss: "crossEntropy", optimizer: "adam", metrics: ["accuracy"] } as never)).toThrow(
      /compile takes no metrics: pass them to fit or evaluate, e\.g\. model\.fit\(x, y, \{ metrics: \["accuracy"\] \}\)/,
    );
  });

  it('model.save("file://dir") is an error, not a folder named "file:"; loadModel takes the model.json path too', async () => {
    const m = classifier();
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      await expect(m.save("file://saved")).rejects.toThrow(/saveModel takes a directory path, not a URL \("file:\/\/saved", as tfjs writes it\); for this one: "saved"/);
      expect(existsSync(join(dir, "file:"))).toBe(false);
      await expect(loadModel("file://saved")).rejects.toThrow(/loadModel takes a directory path, not a URL/);
    } finally {
      process.chdir(cwd);
    }
    await m.save(join(dir, "saved"));
    const back = await loadModel(join(dir, "saved", "model.json"), { backend: "js" });
    expect(back.predict(x).data).toEqual(m.predict(x).data);
  });
});
