/**
 * Models built the way a hostile (or careless) caller builds them: one layer object in two places,
 * residual blocks nested thousands deep, layer sizes whose outputs do not fit in memory. Each is an
 * error at construction that says what was wrong, not a model that trains on other weights than it
 * shows, a stack overflow wrapped in a 76,000-character message, or an internal plan's complaint.
 */
import { describe, expect, it } from "vitest";
import { conv2d, dense, flatten, globalAvgPool2d, maxPool2d, relu, residual, type Layer } from "../lib/nn/layers.js";
import { Sequential } from "../lib/nn/sequential.js";
import { nativeOrSkip } from "./helpers.js";

describe("one layer object in two places of a model", () => {
  it("twice in the model's layers: refused (it trained and counted twice its parameters before)", () => {
    const d = dense(2);
    expect(() => new Sequential([d, d], { inputSize: 2, seed: 1, backend: "js" })).toThrow(
      /^Layer 1 \(dense\) is the same layer object as layer 0: a layer has one place in a model; create a new layer for each place$/,
    );
    // The layer was not taken: it can go into a model of its own.
    expect(new Sequential([d], { inputSize: 2, seed: 1, backend: "js" }).parameterCount()).toBe(6);
  });

  it("twice in a residual block's body: refused", () => {
    const d = dense(2);
    expect(() => residual([d, relu(), d])).toThrow(/^residual layer 2 \(dense\) is the same layer object as residual layer 0: /);
    expect(new Sequential([residual([d])], { inputSize: 2, seed: 1, backend: "js" }).parameterCount()).toBe(6);
  });
});

describe("residual blocks nested deeper than a model can be saved and read", () => {
  const nest = (levels: number): Layer => {
    let l: Layer = dense(3);
    for (let i = 0; i < levels; i++) l = residual([l]);
    return l;
  };

  it("10,000 levels: a RangeError naming the limit at the 65th, at construction (a stack overflow in a 76 kB message before)", () => {
    let error: unknown;
    try {
      nest(10_000);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toBe(
      "residual blocks nest 65 deep here; blasnet builds, saves and reads at most 64 levels of nesting: flatten the model's residual blocks",
    );
  });

  it("64 levels: builds, and its config rebuilds the same model", () => {
    const model = new Sequential([nest(64)], { inputSize: 3, seed: 1, backend: "js" });
    expect(model.parameterCount()).toBe(12);
    const again = Sequential.fromConfig(model.config());
    expect(again.parameterCount()).toBe(12);
  });
});

describe("layer sizes past what one array holds are refused at construction, in words", () => {
  const img = { inputShape: [1, 4, 4] as [number, number, number], seed: 1, backend: "js" as const };

  it("conv2d padding 2^30: the output's height is named (the model was built, and predict said 'Invalid typed array length: 9223372054034645000')", () => {
    expect(() => new Sequential([conv2d(2, 3, { padding: 2 ** 30 }), globalAvgPool2d(), dense(2)], img)).toThrow(
      /^Layer 0 \(conv2d_0\): conv2d\(2, \[3, 3\]\): the output would be 2,147,483,650 x 2,147,483,650 per channel \(the input is \(batch, 1, 4, 4\)\); at most 2\^30 along each axis/,
    );
  });

  it("conv2d padding 20,000: more values per sample than an array holds (fit said 'Invalid typed array length: 6400640016')", () => {
    expect(() => new Sequential([conv2d(2, 3, { padding: 20_000 }), globalAvgPool2d(), dense(2)], img)).toThrow(
      /^Layer 0 \(conv2d_0\): its output \(batch, 2, 40002, 40002\) would hold 3,200,320,008 values per sample \(11\.9 GiB of float32\); at most 2,147,483,647 fit/,
    );
    // Inside a residual block's body too.
    expect(() => residual([conv2d(1, 1, { padding: 40_000 }), maxPool2d(20_000)])).not.toThrow();
    expect(() => new Sequential([residual([conv2d(1, 1, { padding: 40_000 }), maxPool2d(20_000)]), flatten(), dense(1)], img)).toThrow(
      /residual layer 0 \(conv2d\): its output \(batch, 1, 80004, 80004\) would hold 6,400,640,016 values per sample/,
    );
  });

  it("window settings above 2^30 are refused by the factory (the plan refused 'window.strideH' before)", () => {
    expect(() => maxPool2d(2, { stride: 2 ** 31 })).toThrow(/^Invalid stride for maxPool2d: 2147483648 is above 2\^30 \(1,073,741,824\), the largest window setting blasnet takes$/);
    expect(() => conv2d(1, [2 ** 31, 1])).toThrow(/^Invalid kernelSize for conv2d: \[2147483648, 1\] is above 2\^30/);
    expect(() => conv2d(1, 3, { dilation: 2 ** 30 + 1 })).toThrow(/^Invalid dilation for conv2d: 1073741825 is above 2\^30/);
  });

  it("dense(1e300): the parameter count in a few characters (a 552-character number before)", () => {
    let message = "";
    try {
      new Sequential([dense(1e300)], { inputSize: 4, seed: 1, backend: "js" });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toBe("Layer 0 (dense_0): dense(1e+300) after 4 inputs would have 5.0e+300 parameters (1.8e+286 PiB of float32): at most 2,147,483,647 fit in one layer");
  });
});

describe("names that are Object.prototype's keys", () => {
  it.each(["constructor", "__proto__", "toString", "hasOwnProperty"])("loss and metric %s: refused without naming a built-in function as blasnet's name for it", async (name) => {
    const model = new Sequential([dense(2)], { inputSize: 2, seed: 1, backend: "js" });
    let message = "";
    try {
      model.compile({ loss: name as never, optimizer: "sgd" });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^Invalid loss: expected one of "mse", .* but received the string "(constructor|__proto__|toString|hasOwnProperty)"$/);
    expect(() => model.compile({ loss: { name } as never, optimizer: "sgd" })).toThrow(new RegExp(`but received an object \\(Object\\) named "${name}"$`));
    model.compile({ loss: "mse", optimizer: "sgd" });
    await expect(model.fit([[1, 2]], [[1, 2]], { metrics: [name as never], verbose: 0 })).rejects.toThrow(
      new RegExp(`^Invalid metric: the string "${name}"; expected one of`),
    );
  });
});

describe("inference batch sizes past the plans' limit", () => {
  it.each([2 ** 31, 2 ** 53])("batchSize %d: predict, predictAsync and evaluate refuse it in the option's words (the plan's 'spec.batchSize' before)", async (batchSize) => {
    const model = new Sequential([dense(2)], { inputSize: 2, seed: 1, backend: "js" });
    model.compile({ loss: "mse", optimizer: "sgd" });
    const message = new RegExp(`^Invalid batchSize: the number ${batchSize}; expected at most 2\\^30 \\(1,073,741,824\\) rows per forward pass$`);
    expect(() => model.predict([[1, 2]], { batchSize })).toThrow(message);
    await expect(model.predictAsync([[1, 2]], { batchSize })).rejects.toThrow(message);
    await expect(model.evaluate([[1, 2]], [[1, 2]], { batchSize })).rejects.toThrow(message);
  });
});

describe("the model's state is not reachable through what it returns", () => {
  it("model.normalization is a copy: NaN written into it changes neither the model nor its predictions (it was the model's own arrays)", () => {
    const model = new Sequential([dense(2)], { inputSize: 2, seed: 1, backend: "js" });
    model.setNormalization({ inputMean: [1, 2], inputStd: [3, 4], targetMean: [5, 6], targetStd: [7, 8] });
    const before = model.predict([[1, 2]]).toArray();
    const n = model.normalization!;
    for (const a of [n.inputMean, n.inputStd, n.targetMean!, n.targetStd!]) a.fill(NaN);
    expect(model.predict([[1, 2]]).toArray()).toEqual(before);
    expect(model.normalization).toEqual({ inputMean: Float32Array.of(1, 2), inputStd: Float32Array.of(3, 4), targetMean: Float32Array.of(5, 6), targetStd: Float32Array.of(7, 8) });
    // Changing the statistics goes through setNormalization, which checks them.
    expect(() => model.setNormalization(n)).toThrow(/^normalization\.inputMean\[0\] is NaN; expected a finite number$/);
  });
});

// One sample of these models fits; the arrays of a batch of them did not, and the plan said so in
// its own terms: "Invalid typed array length: 17179869184" on the TypeScript backend, "Invalid
// spec.layers[0]: ... must each hold fewer than 2^31 values" on the native one.
describe.each(["js", "native"] as const)("batches whose plan arrays would pass 2^31 - 1 values (%s backend)", (backend) => {
  const wide = () => {
    // conv2d(65,536 channels) on 16 x 16: 16,777,216 output values per sample, so at most 127 per batch.
    const m = new Sequential([conv2d(2 ** 16, 1), globalAvgPool2d(), dense(2)], { inputShape: [1, 16, 16], seed: 1, backend });
    m.compile({ loss: "mse", optimizer: "sgd" });
    return m;
  };
  const images = (n: number) => ({ data: new Float32Array(n * 256).fill(0.5), shape: [n, 1, 16, 16] });

  it.skipIf(backend === "native" && !nativeOrSkip())("predict and evaluate of a few images with a large batchSize run in a batch their size", async () => {
    const model = wide();
    const one = model.predict(images(1), { batchSize: 1024 });
    expect(one.shape).toEqual([1, 2]);
    const two = model.predict(images(2));
    expect(Array.from(two.data.subarray(0, 2))).toEqual(Array.from(one.data));
    expect((await model.predictAsync(images(1), { batchSize: 4096 })).shape).toEqual([1, 2]);
    expect(Number.isFinite((await model.evaluate(images(1), [[0, 1]], { batchSize: 4096 })).loss)).toBe(true);
  });

  it.skipIf(backend === "native" && !nativeOrSkip())("fit with a batch whose arrays do not fit: how many values, which array, and the batchSize that fits", async () => {
    // 2^31 values an array is just within what V8 allocates: the TypeScript backend made its arrays
    // of 8 GiB each, and the process ran out of memory.
    const model = wide();
    const y = { data: new Float32Array(128 * 2), shape: [128, 2] };
    await expect(model.fit(images(128), y, { batchSize: 128, verbose: 0 })).rejects.toThrow(
      /^A batch of 128 samples of this model needs 2,147,483,648 values \(8\.0 GiB of float32\) in one array, the output of layer 0 \(conv2d_0\); an array holds at most 2,147,483,647: use a batchSize of at most 127$/,
    );
  });

  it.skipIf(backend === "native" && !nativeOrSkip())("a model whose one sample does not fit says so at predict and evaluate", async () => {
    // 8,192 channels of 32 x 32, a 17 x 17 kernel: its unrolled input is 8,192 x 289 x 1,024 values per sample.
    const model = new Sequential([conv2d(1, 17, { padding: 8 }), flatten(), dense(1)], { inputShape: [8192, 32, 32], seed: 1, backend });
    model.compile({ loss: "mse", optimizer: "sgd" });
    const x = { data: new Float32Array(8192 * 32 * 32), shape: [1, 8192, 32, 32] };
    const message = /^One sample of this model needs 2,424,307,712 values \(9\.0 GiB of float32\) in one array, the unrolled input of layer 0 \(conv2d_0\); an array holds at most 2,147,483,647: use smaller inputs, fewer channels or a larger stride$/;
    expect(() => model.predict(x)).toThrow(message);
    await expect(model.evaluate(x, [[1]])).rejects.toThrow(message);
  });
});
