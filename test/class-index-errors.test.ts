/**
 * A class index that became out of range after fit checked the data (written by a callback, or by
 * another thread over a SharedArrayBuffer) is refused by every training path in the same words,
 * naming the row of the caller's y: the per-kernel path named the row of the batch ("at row 5" for
 * row 13), in the kernel's words ("Label -5 at row 5 is out of range", "Argument 'labels' of
 * softmaxCrossEntropy has label -5 at row 5"), and found it midway through a run.
 */
import { describe, expect, it } from "vitest";
import { PlanBatch } from "../lib/nn/plan-batch.js";
import { dense } from "../lib/nn/layers.js";
import { Sequential } from "../lib/nn/sequential.js";
import type { TrainingPath } from "../lib/nn/plans.js";
import { CE, makeData, makeRun, makeSpec, sgd } from "./fused-plan-fixtures.js";
import { nativeOrSkip } from "./helpers.js";

const native = nativeOrSkip();
const paths: Array<[string, "js" | "native", TrainingPath]> = [
  ["TypeScript plan", "js", "fused"],
  ["TypeScript per-kernel path", "js", "kernels"],
  ...(native
    ? ([
        ["native per-kernel path", "native", "kernels"],
        ["native fused plan", "native", "fused"],
      ] satisfies Array<[string, "native", TrainingPath]>)
    : []),
];

const ROW = 13;

describe("a class index written out of range after fit checked y", () => {
  it.each(paths)("%s: names row 13 of y in the plans' words, before the run's first step", async (_name, backend, trainingPath) => {
    const m = new Sequential([dense(3)], { inputSize: 2, seed: 1, backend });
    m.compile({ loss: "crossEntropy", optimizer: "sgd", trainingPath });
    const x = Array.from({ length: 40 }, (_, i) => [i % 3, i % 5]);
    const y = Int32Array.from({ length: 40 }, (_, i) => i % 3);
    let after: Float32Array | null = null;
    const fitting = m.fit(x, y, {
      epochs: 3,
      batchSize: 8,
      verbose: 0,
      shuffle: false,
      callbacks: [
        {
          onEpochEnd: () => {
            y[ROW] = -5;
            after = m.params.slice();
          },
        },
      ],
    });
    await expect(fitting).rejects.toThrow(
      new RegExp(`^Training stopped at epoch 2, step 1 of 5: Invalid run\\.y\\[${ROW}\\]: class -5; expected a class index in \\[0, 3\\)\\. The data were checked when fit started`),
    );
    // Step 1 of epoch 2 (rows 0-7) did not run: the whole run was checked first.
    expect(Array.from(m.params)).toEqual(Array.from(after!));
  });

  it("the TypeScript plan's batch checks each label again as it copies it (y over shared memory can change mid-run), naming the data row", () => {
    const spec = makeSpec({ inFeatures: 3, hidden: [], between: [], outFeatures: 4, batchSize: 8, rows: 32, loss: CE, optimizer: sgd() });
    const data = makeData(spec, 32, 1);
    const run = makeRun(data, 8, 0, 4, 1, 0.1);
    (run.y as Int32Array)[run.order[10]!] = 4;
    const batch = new PlanBatch(spec);
    batch.gather(run, 0, 8, true);
    expect(() => batch.gather(run, 8, 8, true)).toThrow(new RangeError(`Invalid run.y[${run.order[10]}]: class 4; expected a class index in [0, 4)`));
  });
});
