import { describe, expect, it } from "vitest";
import { Matrix } from "../lib/core/matrix.js";
import { dense } from "../lib/nn/layers.js";
import { Sequential } from "../lib/nn/sequential.js";
import { sgd } from "../lib/optim/index.js";
import type { FitOptions } from "../lib/train/fit.js";
import type { Backend } from "../lib/backend/backend.js";
import { nativeOrSkip, tsBackend } from "./helpers.js";

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
  ["unknown metric", "mse", X, Y, { metrics: ["f2" as never] }, TypeError, /Invalid metric: the string "f2"; expected one of "mse", "mae", "rmse", "r2", "accuracy", "precision"/],
  ["a Keras metric name", "mse", X, Y, { metrics: ["mean_absolute_error" as never] }, TypeError, /Invalid metric: the string "mean_absolute_error"; blasnet calls it "mae"/],
  ["f1 for regression", "mse", X, Y, { metrics: ["f1"] }, TypeError, /"f1" needs a classification loss/],
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

/** `backend` with its firstNonFinite calls recorded as [start, end]. */
function recordingScans(backend: Backend): { backend: Backend; calls: [number, number][] } {
  const calls: [number, number][] = [];
  return {
    calls,
    backend: {
      ...backend,
      firstNonFinite: (x, start, end) => {
        calls.push([start, end]);
        return backend.firstNonFinite(x, start, end);
      },
    },
  };
}

/** The chunks a scan of values [0, upTo] makes, `chunk` values at a time, in an array of `length`. */
function chunksUpTo(upTo: number, length: number, chunk: number): [number, number][] {
  const out: [number, number][] = [];
  for (let s = 0; s <= upTo; s += chunk) out.push([s, Math.min(length, s + chunk)]);
  return out;
}

const native = nativeOrSkip();

describe.skipIf(!native)("the NaN / Infinity check on the native backend", () => {
  // 5,000,000 values: the native scan checks 2^20 values per call, so this crosses four chunk edges.
  const rows = 625_000;
  const cols = 8;
  const n = rows * cols;
  const CHUNK = 1 << 20;
  const clean = new Float32Array(n).map((_, i) => (i % 97) / 97);
  const y = new Float32Array(rows);

  function nativeModel(backend: Backend): Sequential {
    const m = new Sequential([dense(1)], { inputSize: cols, backend });
    m.compile({ loss: "mse", optimizer: "sgd" });
    return m;
  }

  it("fit reports the exact row and column of a NaN past the first chunks, scanning on the backend in 2^20-value chunks", async () => {
    const at = 600_000 * cols + 5; // row 600000, column 5: in the fifth chunk
    const data = clean.slice();
    data[at] = NaN;
    const rec = recordingScans(native!);
    await expect(nativeModel(rec.backend).fit({ data, shape: [rows, cols] }, y, { verbose: 0 })).rejects.toThrow(
      /^x contains NaN at row 600000, column 5: remove or impute non-finite values before training$/,
    );
    // First the weights fit starts from (one scan of the cols + 1 parameters), then x.
    expect(rec.calls).toEqual([[0, cols + 1], ...chunksUpTo(at, n, CHUNK)]);
    // A value on a chunk edge: the last of one chunk, the first of the next.
    for (const edge of [2 * CHUNK - 1, 2 * CHUNK]) {
      data.set(clean);
      data[edge] = -Infinity;
      const row = Math.floor(edge / cols);
      await expect(nativeModel(native!).fit({ data, shape: [rows, cols] }, y, { verbose: 0 })).rejects.toThrow(
        `x contains -Infinity at row ${row}, column ${edge - row * cols}:`,
      );
    }
  });

  it("fit checks the targets and the validation data on the backend too", async () => {
    const yBad = y.slice();
    yBad[rows - 1] = Infinity;
    const rec = recordingScans(native!);
    await expect(nativeModel(rec.backend).fit({ data: clean, shape: [rows, cols] }, yBad, { verbose: 0 })).rejects.toThrow(
      `y contains Infinity at row ${rows - 1}, column 0:`,
    );
    // The weights; x: every chunk, clean; then y (625,000 values) in one call.
    expect(rec.calls).toEqual([[0, cols + 1], ...chunksUpTo(n - 1, n, CHUNK), [0, rows]]);
    const vx = clean.slice(0, 1000 * cols);
    vx[999 * cols + 7] = NaN;
    const m = nativeModel(native!);
    await expect(
      m.fit({ data: clean.subarray(0, 2000 * cols), shape: [2000, cols] }, y.subarray(0, 2000), {
        verbose: 0,
        validationData: [{ data: vx, shape: [1000, cols] }, y.subarray(0, 1000)],
      }),
    ).rejects.toThrow("validationData x contains NaN at row 999, column 7:");
  });

  it("evaluate, predict and predictAsync report it the same way, on the backend's scanner", async () => {
    const data = clean.slice();
    data[n - 1] = NaN;
    const x = { data, shape: [rows, cols] as [number, number] };
    const rec = recordingScans(native!);
    const m = nativeModel(rec.backend);
    const message = `x contains NaN at row ${rows - 1}, column ${cols - 1}: remove or impute non-finite values before training`;
    await expect(m.evaluate(x, y)).rejects.toThrow(message);
    expect(rec.calls).toEqual(chunksUpTo(n - 1, n, CHUNK));
    rec.calls.length = 0;
    expect(() => m.predict(x)).toThrow(message);
    expect(rec.calls).toEqual(chunksUpTo(n - 1, n, CHUNK));
    rec.calls.length = 0;
    await expect(m.predictAsync(x)).rejects.toThrow(message);
    expect(rec.calls).toEqual(chunksUpTo(n - 1, n, CHUNK));
    // Clean data passes the check.
    const few = { data: clean.subarray(0, 100 * cols), shape: [100, cols] as [number, number] };
    expect(m.predict(few).rows).toBe(100);
    expect(Number.isFinite((await m.evaluate(few, y.subarray(0, 100))).loss)).toBe(true);
  });
});

describe("the NaN / Infinity check on the TypeScript backend", () => {
  it("scans 65536 values at a time", async () => {
    const data = new Float32Array(300_000);
    data[200_001] = NaN;
    const rec = recordingScans(tsBackend);
    const m = new Sequential([dense(1)], { inputSize: 3, backend: rec.backend });
    m.compile({ loss: "mse", optimizer: "sgd" });
    await expect(m.fit({ data, shape: [100_000, 3] }, new Float32Array(100_000), { verbose: 0 })).rejects.toThrow(
      "x contains NaN at row 66667, column 0:",
    );
    // The 4 parameters fit starts from, then x.
    expect(rec.calls).toEqual([[0, 4], ...chunksUpTo(200_001, 300_000, 65536)]);
  });
});

// A Proxy of a typed array passes `instanceof Float32Array` but is none: reading it failed with
// V8's "Method get TypedArray.prototype.length called on incompatible receiver [object Float32Array]".
describe("a Proxy where a typed array belongs gets blasnet's message, naming the argument and the forms it takes", () => {
  const proxy = <T extends object>(v: T): T => new Proxy(v, {});

  it("x.data, a Matrix's data, y and sampleWeight in fit, evaluate and predict", async () => {
    const m = model("mse");
    const x = { data: proxy(new Float32Array(8)), shape: [4, 2] };
    expect(() => m.predict(x)).toThrow(/^Expected a Float32Array for x\.data but received a Proxy object$/);
    await expect(m.fit(x, Y, { verbose: 0 })).rejects.toThrow(/^Expected a Float32Array for x\.data but received a Proxy object$/);
    const swapped = X.clone();
    (swapped as { data: Float32Array }).data = proxy(swapped.data);
    expect(() => m.predict(swapped)).toThrow(/^x is a Matrix whose data is a Proxy object; expected a Float32Array of 4 x 2 values$/);
    await expect(m.evaluate(X, proxy(new Float32Array(4)))).rejects.toThrow(/^Expected y as a Matrix, number\[\]\[\], .* but received a Proxy object$/);
    await expect(m.fit(X, Y, { verbose: 0, sampleWeight: proxy(new Float32Array(4)) })).rejects.toThrow(
      /^Invalid sampleWeight for fit: expected an array of 4 non-negative numbers \(one per row of y\) but received a Proxy object$/,
    );
    const c = model("crossEntropy");
    await expect(c.fit(X, proxy(Int32Array.from(LABELS)), { verbose: 0 })).rejects.toThrow(/^Expected y as class indices \(Int32Array or number\[\]\) .* but received a Proxy object$/);
  });

  it("the model's setters: setWeights, setNormalization, setTrainingState and new Matrix", () => {
    const m = model("mse");
    const w = m.getWeights();
    expect(() => m.setWeights([{ weight: proxy(w[0]!.weight.data), bias: w[0]!.bias }, w[1]!])).toThrow(/^setWeights\[0\]\.weight: expected a Matrix or Float32Array but received a Proxy object$/);
    expect(() => m.setNormalization({ inputMean: proxy(new Float32Array(2)), inputStd: [1, 1] })).toThrow(/^normalization\.inputMean: expected an array of 2 numbers but received a Proxy object$/);
    const s = m.getTrainingState();
    expect(() => m.setTrainingState({ ...s, rngState: proxy(s.rngState) })).toThrow(/^trainingState\.rngState: expected a Uint32Array of 4 words, not all zero, but received a Proxy object$/);
    expect(() => new Matrix(proxy(new Float32Array(4)), 2, 2)).toThrow(/^Expected a Float32Array for data but received a Proxy object$/);
  });

  it("a Proxy of an array (read by index) and of a Matrix or { data, shape } object (whose data is real) still work", () => {
    const m = model("mse");
    const want = m.predict(X).toArray();
    expect(m.predict(proxy(X.toArray())).toArray()).toEqual(want);
    expect(m.predict(proxy(X)).toArray()).toEqual(want);
    expect(m.predict(proxy({ data: X.data, shape: [4, 2] })).toArray()).toEqual(want);
  });
});
