import { describe, expect, it } from "vitest";
import { Matrix } from "../lib/core/matrix.js";
import { dense } from "../lib/nn/layers.js";
import { Sequential } from "../lib/nn/sequential.js";
import { sgd } from "../lib/optim/index.js";
import type { FitOptions } from "../lib/train/fit.js";
import { tsBackend } from "./helpers.js";

type LossName = "mse" | "crossEntropy" | "binaryCrossEntropy";

function model(loss: LossName, inputSize = 2, outputs = loss === "crossEntropy" ? 3 : 1): Sequential {
  const m = new Sequential([dense(4, { activation: "tanh" }), dense(outputs)], { inputSize, backend: tsBackend });
  m.compile({ loss, optimizer: sgd({ lr: 0.1 }) });
  return m;
}

const X = Matrix.fromArray([[0, 1], [1, 0], [2, 2], [3, 1]]);
const Y = Matrix.column([1, 2, 3, 4]);
const LABELS = [0, 1, 2, 1];

function withValue(m: Matrix, i: number, v: number): Matrix {
  const c = m.clone();
  c.data[i] = v;
  return c;
}

/** [what, loss, x, y, options, expected error type, message pattern] */
const cases: [string, LossName, unknown, unknown, FitOptions, ErrorConstructor, RegExp][] = [
  ["row counts differ", "mse", X, Matrix.column([1, 2, 3]), {}, RangeError, /y has 3 rows but the inputs have 4: every input row needs exactly one target row/],
  ["wrong feature width", "mse", Matrix.zeros(4, 3), Y, {}, RangeError, /x has 3 columns per row but the model expects inputSize 2 features/],
  ["NaN in inputs", "mse", withValue(X, 5, NaN), Y, {}, RangeError, /x contains NaN at row 2, column 1: remove or impute/],
  ["Infinity in inputs", "mse", withValue(X, 0, Infinity), Y, {}, RangeError, /x contains Infinity at row 0, column 0/],
  ["NaN in targets", "mse", X, withValue(Y, 3, NaN), {}, RangeError, /y contains NaN at row 3, column 0/],
  ["empty inputs", "mse", Matrix.zeros(0, 2), Matrix.zeros(0, 1), {}, RangeError, /x is empty: expected at least one row/],
  ["empty nested array", "mse", [], [], {}, RangeError, /x is empty/],
  ["ragged rows", "mse", [[0, 1], [1]], [1, 2], {}, RangeError, /x\[1\] has 1 values but x\[0\] has 2: every row must have the same length/],
  ["a string in a row", "mse", [[0, "1"]], [1], {}, TypeError, /x\[0\]\[1\] is the string "1"; expected a number/],
  ["x of the wrong type", "mse", "data.csv", Y, {}, TypeError, /Expected x as a Matrix, number\[\]\[\] or \{ data: Float32Array, shape: \[rows, cols\] \} but received the string "data.csv"/],
  ["shape that does not match data", "mse", { data: new Float32Array(6), shape: [4, 2] }, Y, {}, RangeError, /x.data has 6 values but x.shape \[4, 2\] needs 8/],
  ["label out of range", "crossEntropy", X, [0, 1, 3, 1], {}, RangeError, /Class label 3 at y\[2\] is invalid for a model with 3 outputs: labels must be integers in \[0, 3\)/],
  ["negative label", "crossEntropy", X, new Int32Array([0, -1, 2, 1]), {}, RangeError, /Class label -1 at y\[1\]/],
  ["non-integer label", "crossEntropy", X, [0, 1.5, 2, 1], {}, RangeError, /Class label 1.5 at y\[1\]/],
  ["label count differs", "crossEntropy", X, [0, 1, 2], {}, RangeError, /y has 3 rows but the inputs have 4/],
  ["one-hot width differs", "crossEntropy", X, Matrix.zeros(4, 2), {}, RangeError, /y has 2 class probabilities per row \(one-hot or soft labels\) but the model has 3 outputs/],
  ["probability rows not summing to 1", "crossEntropy", X, Matrix.fromArray([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0, 0]]), {}, RangeError, /y row 3 sums to 0.5, not 1/],
  ["bce targets outside [0, 1]", "binaryCrossEntropy", X, [0, 1, 2, 1], {}, RangeError, /y has 2 at row 2, column 0: binaryCrossEntropy targets must be in \[0, 1\]/],
  ["all-zero probability rows", "crossEntropy", X, Matrix.zeros(4, 3), {}, RangeError, /y row 0 sums to 0, not 1/],
  ["batchSize 0", "mse", X, Y, { batchSize: 0 }, RangeError, /Invalid batchSize: 0; expected an integer >= 1 \(rows per training step\)/],
  ["fractional batchSize", "mse", X, Y, { batchSize: 2.5 }, RangeError, /Invalid batchSize: 2.5/],
  ["epochs 0", "mse", X, Y, { epochs: 0 }, RangeError, /Invalid epochs: 0; expected an integer >= 1/],
  ["NaN epochs", "mse", X, Y, { epochs: NaN }, RangeError, /Invalid epochs: NaN/],
  ["initialEpoch past epochs", "mse", X, Y, { epochs: 2, initialEpoch: 2 }, RangeError, /Invalid initialEpoch: 2; it must be below epochs \(2\)/],
  ["validationSplit 1", "mse", X, Y, { validationSplit: 1 }, RangeError, /Invalid validationSplit: the number 1; expected a fraction in \(0, 1\)/],
  ["validationSplit leaving no validation rows", "mse", X, Y, { validationSplit: 0.1 }, RangeError, /validationSplit 0.1 of 4 rows leaves 4 for training and 0 for validation/],
  ["validation data of the wrong width", "mse", X, Y, { validationData: [Matrix.zeros(2, 1), Matrix.zeros(2, 1)] }, RangeError, /validationData x has 1 column per row but the model expects inputSize 2/],
  ["unknown metric", "mse", X, Y, { metrics: ["f1" as never] }, TypeError, /Invalid metric: the string "f1"; expected one of "mse", "mae", "rmse", "r2", "accuracy"/],
  ["accuracy for regression", "mse", X, Y, { metrics: ["accuracy"] }, TypeError, /"accuracy" needs a classification loss/],
  ["a misspelt option", "mse", X, Y, { batch_size: 2 } as never, TypeError, /Unknown fit option "batch_size"; expected one of epochs, batchSize, shuffle/],
  ["one-column label matrix out of range", "crossEntropy", X, Matrix.column([0, 1, 2, 5]), {}, RangeError, /Class label 5 at y\[3\]/],
  ["verbose 3", "mse", X, Y, { verbose: 3 as never }, RangeError, /Invalid verbose: the number 3; expected 0, 1 or 2/],
];

describe("fit rejects bad input before any training", () => {
  for (const [what, loss, x, y, options, type, pattern] of cases) {
    it(what, async () => {
      const m = model(loss);
      const before = m.params.slice();
      const err = await m.fit(x as never, y as never, { verbose: 0, ...options }).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(type);
      expect((err as Error).message).toMatch(pattern);
      expect(m.step).toBe(0);
      expect(Array.from(m.params)).toEqual(Array.from(before));
      expect(m.isTraining).toBe(false);
    });
  }

  it("an uncompiled model", async () => {
    const m = new Sequential([dense(1)], { inputSize: 2, backend: tsBackend });
    await expect(m.fit(X, Y)).rejects.toThrow(/must be compiled before fit: call model.compile\(\{ loss, optimizer \}\) first/);
    await expect(m.evaluate(X, Y)).rejects.toThrow(/must be compiled before evaluate/);
  });

  it("crossEntropy on a one-output model", () => {
    const m = new Sequential([dense(1)], { inputSize: 2, backend: tsBackend });
    expect(() => m.compile({ loss: "crossEntropy", optimizer: "sgd" })).toThrow(/at least 2 outputs.*use binaryCrossEntropy/);
    expect(() => m.compile({ loss: "mse" } as never)).toThrow(/compile needs an optimizer/);
    expect(() => m.compile({ loss: "mse", optimizer: "sgd", lr: 0.1 } as never)).toThrow(/Unknown compile option "lr"/);
  });

  it("flat targets for a model with several outputs", async () => {
    const m = model("mse", 2, 3);
    await expect(m.fit(X, [1, 2, 3, 4], { verbose: 0 })).rejects.toThrow(
      /y is a flat array but the model has 3 outputs: pass targets as a Matrix, number\[\]\[\] or \{ data, shape: \[rows, 3\] \}/,
    );
  });

  it("predict and evaluate check their inputs too", async () => {
    const m = model("mse");
    expect(() => m.predict(Matrix.zeros(3, 5))).toThrow(/x has 5 columns per row but the model expects inputSize 2/);
    expect(() => m.predict(withValue(X, 1, NaN))).toThrow(/x contains NaN at row 0, column 1/);
    expect(() => m.predict(X, { batchSize: 0 })).toThrow(/Invalid batchSize: the number 0/);
    await expect(m.evaluate(X, Matrix.zeros(3, 1))).rejects.toThrow(/y has 3 rows but the inputs have 4/);
  });
});

describe("checking a large dataset", () => {
  it("yields to the event loop while it checks, and still finds the bad value at the very end", async () => {
    const rows = 1_000_000;
    const data = new Float32Array(rows * 8);
    data[data.length - 1] = NaN;
    const m = new Sequential([dense(1)], { inputSize: 8, backend: tsBackend });
    m.compile({ loss: "mse", optimizer: "sgd" });
    let firedDuringCheck = false;
    let settled = false;
    setImmediate(() => (firedDuringCheck = !settled));
    const err = await m.fit({ data, shape: [rows, 8] }, new Float32Array(rows), { verbose: 0 }).then(
      () => null,
      (e: unknown) => e,
    );
    settled = true;
    expect((err as Error).message).toMatch(/x contains NaN at row 999999, column 7/);
    // 8 million values take well over one 4 ms slice to check.
    expect(firedDuringCheck).toBe(true);
    expect(m.isTraining).toBe(false);
  });
});

describe("accepted input forms", () => {
  it("Matrix, number[][] and { data, shape } inputs train identically; flat targets work for one output", async () => {
    const forms: [unknown, unknown][] = [
      [X, Y],
      [X.toArray(), Y.toArray()],
      [{ data: X.data, shape: [4, 2] }, { data: Y.data, shape: [4, 1] }],
      [X, [1, 2, 3, 4]],
      [X, Float32Array.from([1, 2, 3, 4])],
    ];
    const results: number[][] = [];
    for (const [x, y] of forms) {
      const m = model("mse");
      await m.fit(x as never, y as never, { epochs: 3, batchSize: 2, verbose: 0 });
      results.push(Array.from(m.params));
    }
    for (const r of results) expect(r).toEqual(results[0]);
  });

  it("class labels as number[], Int32Array, Uint8Array (as read from IDX files) or a one-column matrix", async () => {
    const results: number[][] = [];
    for (const y of [LABELS, Int32Array.from(LABELS), Uint8Array.from(LABELS), Matrix.column(LABELS)]) {
      const m = model("crossEntropy");
      await m.fit(X, y, { epochs: 3, batchSize: 2, verbose: 0 });
      results.push(Array.from(m.params));
    }
    for (const r of results) expect(r).toEqual(results[0]);
  });
});
