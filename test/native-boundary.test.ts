/**
 * The native addon's boundary: every entry point rejects bad arguments with a TypeError or
 * RangeError naming the argument, before touching memory, and the process survives; plus a small
 * gemm, info(), the C++ RNG against lib/core/rng.ts, and the loader's explanations.
 *
 * Bad-argument cases are generated from one table: for each function, the valid arguments and the
 * kind of each argument (buffer, dimension, scalar, flag, code); each kind has its list of bad values,
 * and the cases (bad values, argument counts, overflowing products, detached buffers) are run by
 * test/native-boundary-cases.ts, as for the convolution entry points.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { NativeAddon } from "../lib/backend/native/binding.js";
import { classifyLoadError, explainLoadFailure, findPackageRoot, loadAddon, loadFrom } from "../lib/backend/native/loader.js";
import { kindTableDifference, nativeKindTable } from "../lib/backend/native/kind-table.js";
import { Rng } from "../lib/core/rng.js";
import { nativeOrSkip, refGemm, tempDir, thrown } from "./helpers.js";
import { rejectsHostileArguments, type Fn, type FnSpec } from "./native-boundary-cases.js";

const native = nativeOrSkip();
const describeNative = native ? describe : describe.skip;

const f32 = (n: number, fill = 0.5): Float32Array => new Float32Array(n).fill(fill);

// Shapes used throughout: rows = 2, cols = 3 (6 values); gemm m = 2, n = 3, k = 4.
const SPECS: FnSpec[] = [
  {
    fn: "gemm",
    args: [
      { name: "transA", kind: "bool" },
      { name: "transB", kind: "bool" },
      { name: "m", kind: "dim" },
      { name: "n", kind: "dim" },
      { name: "k", kind: "dim" },
      { name: "alpha", kind: "finite" },
      { name: "a", kind: "f32", need: 8 },
      { name: "b", kind: "f32", need: 12 },
      { name: "beta", kind: "finite" },
      { name: "c", kind: "f32", need: 6 },
    ],
    valid: () => [false, false, 2, 3, 4, 1, f32(8), f32(12), 0, f32(6)],
    products: [
      ["m", "k"],
      ["k", "n"],
      ["m", "n"],
    ],
  },
  {
    fn: "biasAdd",
    args: [
      { name: "y", kind: "f32", need: 6 },
      { name: "bias", kind: "f32", need: 3 },
      { name: "rows", kind: "dim" },
      { name: "cols", kind: "dim" },
    ],
    valid: () => [f32(6), f32(3), 2, 3],
    products: [["rows", "cols"]],
  },
  {
    fn: "biasGrad",
    args: [
      { name: "db", kind: "f32", need: 3 },
      { name: "dy", kind: "f32", need: 6 },
      { name: "rows", kind: "dim" },
      { name: "cols", kind: "dim" },
      { name: "beta", kind: "range", bad: [0.5, 2, -1, NaN, Infinity] },
    ],
    valid: () => [f32(3), f32(6), 2, 3, 1],
    products: [["rows", "cols"]],
  },
  {
    fn: "activationForward",
    args: [
      { name: "act", kind: "code", count: 8 },
      { name: "y", kind: "f32", need: 6 },
      { name: "x", kind: "f32", need: 6 },
      { name: "n", kind: "dim" },
      { name: "alpha", kind: "finite" },
    ],
    valid: () => [4, f32(6), f32(6, -0.5), 6, 0.01],
  },
  {
    fn: "activationBackward",
    args: [
      { name: "act", kind: "code", count: 8 },
      { name: "dx", kind: "f32", need: 6 },
      { name: "dy", kind: "f32", need: 6 },
      { name: "x", kind: "f32", need: 6 },
      { name: "y", kind: "f32", need: 6 },
      { name: "n", kind: "dim" },
      { name: "alpha", kind: "finite" },
    ],
    valid: () => [5, f32(6), f32(6), f32(6), f32(6), 6, 0],
  },
  {
    fn: "softmaxForward",
    args: [
      { name: "y", kind: "f32", need: 6 },
      { name: "x", kind: "f32", need: 6 },
      { name: "rows", kind: "dim" },
      { name: "cols", kind: "dim" },
    ],
    valid: () => [f32(6), f32(6), 2, 3],
    products: [["rows", "cols"]],
  },
  {
    fn: "softmaxBackward",
    args: [
      { name: "dx", kind: "f32", need: 6 },
      { name: "dy", kind: "f32", need: 6 },
      { name: "y", kind: "f32", need: 6 },
      { name: "rows", kind: "dim" },
      { name: "cols", kind: "dim" },
    ],
    valid: () => [f32(6), f32(6), f32(6), 2, 3],
    products: [["rows", "cols"]],
  },
  {
    fn: "regressionLoss",
    args: [
      { name: "kind", kind: "code", count: 3 },
      { name: "grad", kind: "f32|null", need: 6 },
      { name: "pred", kind: "f32", need: 6 },
      { name: "target", kind: "f32", need: 6 },
      { name: "n", kind: "dim" },
      // kind 2 is Huber: delta must be > 0.
      { name: "delta", kind: "range", bad: [0, -1, NaN, Infinity] },
      // Row weights: a whole number of rows of the n values (a short buffer, 4 of 6, is not).
      { name: "weights", kind: "f32|null", need: 5 },
    ],
    valid: () => [2, f32(6), f32(6), f32(6, 0.25), 6, 1, f32(2)],
  },
  {
    fn: "softmaxCrossEntropy",
    args: [
      { name: "grad", kind: "f32|null", need: 6 },
      { name: "logits", kind: "f32", need: 6 },
      { name: "labels", kind: "i32", need: 2 },
      { name: "rows", kind: "dim" },
      { name: "cols", kind: "dim" },
      { name: "weights", kind: "f32|null", need: 2 },
    ],
    valid: () => [f32(6), f32(6), new Int32Array([0, 2]), 2, 3, f32(2)],
    products: [["rows", "cols"]],
  },
  {
    fn: "softmaxCrossEntropyDense",
    args: [
      { name: "grad", kind: "f32|null", need: 6 },
      { name: "logits", kind: "f32", need: 6 },
      { name: "targets", kind: "f32", need: 6 },
      { name: "rows", kind: "dim" },
      { name: "cols", kind: "dim" },
      { name: "weights", kind: "f32|null", need: 2 },
    ],
    valid: () => [f32(6), f32(6), f32(6, 1 / 3), 2, 3, f32(2)],
    products: [["rows", "cols"]],
  },
  {
    fn: "bceWithLogits",
    args: [
      { name: "grad", kind: "f32|null", need: 6 },
      { name: "logits", kind: "f32", need: 6 },
      { name: "targets", kind: "f32", need: 6 },
      { name: "n", kind: "dim" },
      // Row weights: a whole number of rows of the n values (a short buffer, 4 of 6, is not).
      { name: "weights", kind: "f32|null", need: 5 },
    ],
    valid: () => [f32(6), f32(6), f32(6, 1), 6, f32(2)],
  },
  {
    fn: "optimizerStep",
    args: [
      { name: "code", kind: "code", count: 5 },
      { name: "param", kind: "f32", need: 6 },
      { name: "grad", kind: "f32", need: 6 },
      { name: "state", kind: "f32", need: 12 },
      { name: "n", kind: "dim" },
      { name: "lr", kind: "finite" },
      { name: "step", kind: "range", bad: [0, -1, 1.5, NaN, Infinity] },
      { name: "hyper", kind: "f64", need: 4 },
    ],
    // adam: 2 state slots of n = 6.
    valid: () => [1, f32(6), f32(6), f32(12), 6, 1e-3, 3, new Float64Array([0.9, 0.999, 1e-8, 0.01])],
  },
  {
    fn: "argmaxRows",
    args: [
      { name: "out", kind: "i32", need: 2 },
      { name: "x", kind: "f32", need: 6 },
      { name: "rows", kind: "dim" },
      { name: "cols", kind: "dim" },
    ],
    valid: () => [new Int32Array(2), f32(6), 2, 3],
    products: [["rows", "cols"]],
  },
  {
    fn: "sum",
    args: [
      { name: "x", kind: "f32", need: 6 },
      { name: "n", kind: "dim" },
    ],
    valid: () => [f32(6), 6],
  },
  {
    fn: "sumSquares",
    args: [
      { name: "x", kind: "f32", need: 6 },
      { name: "n", kind: "dim" },
    ],
    valid: () => [f32(6), 6],
  },
  {
    fn: "firstNonFinite",
    args: [
      { name: "x", kind: "f32", need: 6 },
      // start in [0, x.length]; end in [start, x.length] (start is 2 here).
      { name: "start", kind: "range", bad: [-1, 1.5, NaN, Infinity, -Infinity, 7, 2 ** 31, 1e300] },
      { name: "end", kind: "range", bad: [1, -1, 5.5, NaN, Infinity, 7, 2 ** 32, 1e300] },
    ],
    valid: () => [f32(6), 2, 6],
  },
  {
    fn: "scale",
    args: [
      { name: "x", kind: "f32", need: 6 },
      { name: "n", kind: "dim" },
      { name: "s", kind: "finite" },
    ],
    valid: () => [f32(6), 6, 2],
  },
  {
    fn: "clip",
    args: [
      { name: "x", kind: "f32", need: 6 },
      { name: "n", kind: "dim" },
      { name: "lo", kind: "bound" },
      { name: "hi", kind: "bound" },
    ],
    valid: () => [f32(6), 6, -1, 1],
  },
  {
    fn: "setThreads",
    args: [{ name: "n", kind: "range", bad: [0, -1, 1.5, NaN, Infinity, 5000] }],
    valid: () => [1],
  },
  {
    fn: "rngFill",
    args: [
      { name: "seed", kind: "range", bad: [NaN, Infinity, -Infinity] },
      { name: "out", kind: "u32", need: 0 },
    ],
    valid: () => [42, new Uint32Array(4)],
  },
  {
    fn: "rngUniform",
    args: [
      { name: "state", kind: "u32", need: 4 },
      { name: "out", kind: "f32", need: 0 },
    ],
    valid: () => [new Uint32Array([1, 2, 3, 4]), f32(3)],
  },
];

describeNative("native addon: every entry point rejects bad arguments", () => {
  const addon = (native ? loadAddon() : undefined) as unknown as Record<string, Fn>;

  rejectsHostileArguments(SPECS, () => addon);

  it("rejects out-of-range labels naming the row and the label, before writing anything", () => {
    for (const [labels, row, label] of [
      [new Int32Array([0, 3]), 1, 3],
      [new Int32Array([-1, 0]), 0, -1],
      [new Int32Array([2, 2147483647]), 1, 2147483647],
    ] as const) {
      const grad = f32(6, 7);
      const e = thrown(() => addon["softmaxCrossEntropy"]!(grad, f32(6), labels, 2, 3, null));
      expect(e).toBeInstanceOf(RangeError);
      expect(e.message).toContain("'labels'");
      expect(e.message).toContain(`row ${row}`);
      expect(e.message).toContain(`label ${label}`);
      expect(Array.from(grad)).toEqual([7, 7, 7, 7, 7, 7]);
    }
  });

  it("rejects an unknown kind code with a RangeError listing the valid codes by name", () => {
    const e = thrown(() => addon["activationForward"]!(99, f32(6), f32(6), 6, 0));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toContain("Unknown activation code 99 for argument 'act' of activationForward; expected one of 0 (linear), 1 (sigmoid)");
    expect(e.message).toContain("7 (softplus)");
    const e2 = thrown(() => addon["regressionLoss"]!(3, null, f32(6), f32(6), 6, 1, null));
    expect(e2).toBeInstanceOf(RangeError);
    expect(e2.message).toContain("expected one of 0 (mse), 1 (mae), 2 (huber)");
    const e3 = thrown(() => addon["optimizerStep"]!(5, f32(6), f32(6), f32(12), 6, 0.1, 1, new Float64Array(4)));
    expect(e3).toBeInstanceOf(RangeError);
    expect(e3.message).toContain("Unknown optimizer code 5 for argument 'code' of optimizerStep; expected one of 0 (sgd), 1 (adam), 2 (adamw), 3 (rmsprop), 4 (adagrad)");
  });

  it("optimizerStep checks the state against the slots of the code's own table, and the flags; not the ranges", () => {
    const hyper = (...h: number[]): Float64Array => Float64Array.from(h);
    // sgd without momentum keeps no state; with momentum one slot of n.
    expect(() => addon["optimizerStep"]!(0, f32(6), f32(6), f32(0), 6, 0.1, 1, hyper(0, 0, 0, 0))).not.toThrow();
    const e = thrown(() => addon["optimizerStep"]!(0, f32(6), f32(6), f32(5), 6, 0.1, 1, hyper(0.9, 0, 0, 0)));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toContain("Argument 'state' of optimizerStep has 5 values but 1*n (sgd keeps 1 state slots with these hyperparameters) = 6");
    const e2 = thrown(() => addon["optimizerStep"]!(4, f32(6), f32(6), f32(5), 6, 0.1, 1, hyper(0, 0, 1e-10, 0)));
    expect(e2.message).toContain("1*n (adagrad keeps 1 state slots");
    const e3 = thrown(() => addon["optimizerStep"]!(0, f32(6), f32(6), f32(6), 6, 0.1, 1, hyper(0.9, 0, 0.5, 0)));
    expect(e3).toBeInstanceOf(RangeError);
    expect(e3.message).toContain("nesterov = 0.5 at [2]; expected 0 or 1");
    const e4 = thrown(() => addon["optimizerStep"]!(1, f32(6), f32(6), f32(12), 6, 0.1, 1, hyper(0.9, 0.999, 1e-8)));
    expect(e4.message).toContain("has 3 values but adam takes 4 (beta1, beta2, eps, weightDecay)");
    // Semantic ranges are the TypeScript optimizers' to check: eps = 0, beta1 = 1 pass here.
    expect(() => addon["optimizerStep"]!(1, f32(6), f32(6), f32(12), 6, 0.1, 1, hyper(1, 0.999, 0, 0))).not.toThrow();
  });

  it("kinds() lists every kind and code of the TypeScript registry, built from the native lists", () => {
    const table = addon["kinds"]!() as ReturnType<typeof nativeKindTable>;
    const ts = nativeKindTable();
    for (const list of ["activations", "losses", "optimizers", "layers"] as const) {
      for (const [name, entry] of Object.entries(ts[list])) expect(table[list][name], `${list}.${name}`).toEqual(entry);
    }
    // The contract's codes (the new kinds included, whether or not the registry has them yet).
    expect(table.activations).toEqual({ linear: 0, sigmoid: 1, relu: 2, tanh: 3, leakyRelu: 4, gelu: 5, silu: 6, softplus: 7 });
    expect(table.losses).toEqual({ mse: 0, mae: 1, huber: 2, crossEntropy: 3, crossEntropyDense: 4, bce: 5 });
    expect(table.layers).toEqual({
      dense: 0,
      activation: 1,
      softmax: 2,
      dropout: 3,
      conv2d: 4,
      maxPool2d: 5,
      avgPool2d: 6,
      batchNorm: 7,
      layerNorm: 8,
      residualStart: 9,
      residualEnd: 10,
    });
    expect(table.optimizers["adagrad"]).toEqual({ code: 4, hyper: ["lrDecay", "weightDecay", "eps", "initialAccumulatorValue"] });
    expect(Object.keys(table.optimizers)).toEqual(["sgd", "adam", "adamw", "rmsprop", "adagrad"]);
  });

  it("rejects a gemm output that shares memory with an input", () => {
    const buf = f32(32);
    const e = thrown(() => addon["gemm"]!(false, false, 2, 2, 2, 1, buf.subarray(0, 4), f32(4), 0, buf.subarray(2, 6)));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toContain("'c'");
  });

  it("rejects clip bounds in the wrong order and an all-zero RNG state", () => {
    const e1 = thrown(() => addon["clip"]!(f32(6), 6, 1, -1));
    expect(e1).toBeInstanceOf(RangeError);
    expect(e1.message).toContain("'lo'");
    const e2 = thrown(() => addon["rngUniform"]!(new Uint32Array(4), f32(2)));
    expect(e2).toBeInstanceOf(RangeError);
    expect(e2.message).toContain("'state'");
    const e3 = thrown(() => addon["argmaxRows"]!(new Int32Array(2), f32(0), 2, 0));
    expect(e3).toBeInstanceOf(RangeError);
    expect(e3.message).toContain("'cols'");
  });

  it("treats a detached buffer as empty: a RangeError, not a crash", () => {
    const buffer = new ArrayBuffer(6 * 4);
    const c = new Float32Array(buffer);
    structuredClone(buffer, { transfer: [buffer] });
    expect(c.length).toBe(0);
    const e = thrown(() => addon["gemm"]!(false, false, 2, 3, 4, 1, f32(8), f32(12), 0, c));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toContain("Argument 'c' of gemm has 0 values but m*n = 6");
    expect(addon["firstNonFinite"]!(c, 0, 0)).toBe(-1);
    const e2 = thrown(() => addon["firstNonFinite"]!(c, 0, 6));
    expect(e2).toBeInstanceOf(RangeError);
    expect(e2.message).toContain("Argument 'end' of firstNonFinite is 6, past the end of argument 'x' (0 values)");
  });

  it("still computes correctly after all the rejected calls (the process survived)", () => {
    const c = new Float32Array(4);
    addon["gemm"]!(false, false, 2, 2, 3, 1, new Float32Array([1, 2, 3, 4, 5, 6]), new Float32Array([7, 8, 9, 10, 11, 12]), 0, c);
    expect(Array.from(c)).toEqual([58, 64, 139, 154]);
  });
});

describeNative("native backend: kernels, info and threads", () => {
  const backend = native!;
  const addon = (native ? loadAddon() : undefined) as NativeAddon;

  it("gemm matches a naive product for every transpose, on subarray views", () => {
    const rng = new Rng(7);
    const [m, n, k] = [3, 5, 4];
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        // Views at odd offsets into larger buffers: the addon must honour byteOffset.
        const abuf = new Float32Array(m * k + 3).map(() => rng.uniformRange(-1, 1));
        const bbuf = new Float32Array(k * n + 5).map(() => rng.uniformRange(-1, 1));
        const cbuf = new Float32Array(m * n + 2).map(() => rng.uniformRange(-1, 1));
        const a = abuf.subarray(3);
        const b = bbuf.subarray(5);
        const c = cbuf.subarray(1, 1 + m * n);
        const [before, after] = [cbuf[0], cbuf[1 + m * n]];
        const want = refGemm(transA, transB, m, n, k, 0.5, a, b, 2, c).c;
        backend.gemm(transA, transB, m, n, k, 0.5, a, b, 2, c);
        for (let i = 0; i < m * n; i++) expect(c[i]).toBeCloseTo(want[i]!, 5);
        // The values just outside the view are untouched.
        expect([cbuf[0], cbuf[1 + m * n]]).toEqual([before, after]);
      }
    }
  });

  it("gemm with beta = 0 overwrites NaN, and k = 0 gives beta * C", () => {
    const c = new Float32Array([NaN, NaN, Infinity, NaN]);
    backend.gemm(false, false, 2, 2, 1, 1, new Float32Array([1, 2]), new Float32Array([3, 4]), 0, c);
    expect(Array.from(c)).toEqual([3, 4, 6, 8]);
    const c0 = new Float32Array([1, 2, 3, 4]);
    backend.gemm(false, false, 2, 2, 0, 1, new Float32Array(0), new Float32Array(0), 0.5, c0);
    expect(Array.from(c0)).toEqual([0.5, 1, 1.5, 2]);
    const cz = new Float32Array([NaN, 1, 2, NaN]);
    backend.gemm(true, true, 2, 2, 0, 1, new Float32Array(0), new Float32Array(0), 0, cz);
    expect(Array.from(cz)).toEqual([0, 0, 0, 0]);
    // m = 0 or n = 0: nothing to do, and empty buffers are fine.
    expect(() => backend.gemm(false, false, 0, 3, 4, 1, new Float32Array(0), f32(12), 0, new Float32Array(0))).not.toThrow();
  });

  it("maps activation and loss names to codes and rejects unknown names", () => {
    const x = new Float32Array([-2, -0.5, 0, 0.5, 2]);
    const y = new Float32Array(5);
    backend.activationForward("relu", y, x, 5, 0);
    expect(Array.from(y)).toEqual([0, 0, 0, 0.5, 2]);
    backend.activationForward("leakyRelu", y, x, 5, 0.1);
    expect(y[0]).toBeCloseTo(-0.2, 6);
    expect(backend.regressionLoss("mae", null, x, new Float32Array(5), 5, 1)).toBeCloseTo(1, 6);
    const e = thrown(() => backend.activationForward("swish" as never, y, x, 5, 0));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toContain("'act'");
    const e2 = thrown(() => backend.regressionLoss("toString" as never, null, x, x, 5, 1));
    expect(e2).toBeInstanceOf(RangeError);
    expect(e2.message).toContain("'kind'");
  });

  it("info() reports native, the OpenBLAS build, threads and the CPU with its SIMD level", () => {
    const info = backend.info();
    expect(backend.name).toBe("native");
    expect(info.backend).toBe("native");
    expect(info.blas).toMatch(/OpenBLAS/);
    expect(info.threads).toBe(backend.getThreads());
    expect(info.cpu).toMatch(/\(kernels: (avx512|avx2|sse2)/);
  });

  it("setThreads / getThreads round-trip through OpenBLAS", () => {
    const before = backend.getThreads();
    backend.setThreads(1);
    expect(backend.getThreads()).toBe(1);
    backend.setThreads(before);
    expect(backend.getThreads()).toBe(before);
  });

  it("rng.h matches lib/core/rng.ts bit for bit (seeding, stream, uniform, state)", () => {
    for (const seed of [0, 1, 42, -1, 123.9, -7.5, 2 ** 32 + 5, 2 ** 53, -(2 ** 40) - 3]) {
      const out = new Uint32Array(257);
      addon.rngFill(seed, out);
      const rng = new Rng(seed);
      const want = Uint32Array.from({ length: out.length }, () => rng.nextUint32());
      expect(Array.from(out), `seed ${seed}`).toEqual(Array.from(want));
    }
    const rng = new Rng(2024);
    rng.nextUint32();
    const state = Uint32Array.from(rng.getState());
    const u = new Float32Array(100);
    addon.rngUniform(state, u);
    const want = Float32Array.from({ length: u.length }, () => rng.uniform());
    expect(Array.from(u)).toEqual(Array.from(want));
    expect(Array.from(state)).toEqual(rng.getState());
  });
});

describe("native loader: explains why the addon cannot load and how to fix it", () => {
  // One directory per case: the loader is handed files of the same name with different contents.
  const scratch = tempDir("blasnet-loader-");

  it("finds the package root from lib/", () => {
    // This checkout: the directory above test/.
    expect(findPackageRoot()).toBe(path.resolve(path.dirname(fileURLToPath(import.meta.url)), ".."));
    // Walking up from deeper in the tree; a tree without blasnet's package.json has no root.
    expect(findPackageRoot(path.resolve("lib", "backend", "native"))).toBe(findPackageRoot());
    expect(findPackageRoot(os.tmpdir())).toBeUndefined();
  });

  it("a missing addon: not built, with the install and build commands", () => {
    const dir = mkdtempSync(path.join(scratch, "case-"));
    const missing = path.join(dir, "build", "Release", "blasnet.node");
    const e = thrown(() => loadFrom([missing]));
    expect(e.message).toContain("has not been built");
    expect(e.message).toContain(missing);
    expect(e.message).toContain("sudo apt-get install -y libopenblas-dev cmake g++");
    expect(e.message).toContain("npm run build:native");
    expect(e.message).toContain("npm rebuild blasnet");
  });

  it("a file that is not a shared library for this machine: wrong architecture, keeping the error", () => {
    const dir = mkdtempSync(path.join(scratch, "case-"));
    const bogus = path.join(dir, "blasnet.node");
    writeFileSync(bogus, "not an ELF file\n".repeat(256));
    const e = thrown(() => loadFrom([path.join(dir, "nothing.node"), bogus]));
    expect(e.message).toContain("another CPU architecture");
    expect(e.message).toContain(bogus);
    expect(e.message).toContain("nothing.node: not found");
  });

  // Real dlopen failures, from copies of the built addon with one thing broken.
  const built = findPackageRoot() && path.join(findPackageRoot()!, "build", "Release", "blasnet.node");
  const itBuilt = built && existsSync(built) ? it : it.skip;

  itBuilt("an addon whose OpenBLAS is missing: says so, with dlopen's message and the apt command", () => {
    const bytes = readFileSync(built!);
    const needle = Buffer.from("libopenblas.so.0\0");
    const at = bytes.indexOf(needle);
    expect(at).toBeGreaterThan(0);
    bytes.write("libopenblas.so.9", at); // a soname no system has
    const dir = mkdtempSync(path.join(scratch, "case-"));
    const file = path.join(dir, "blasnet.node");
    writeFileSync(file, bytes);
    const e = thrown(() => loadFrom([file]));
    expect(e.message).toContain("OpenBLAS shared library");
    expect(e.message).toContain("libopenblas.so.9: cannot open shared object file");
    expect(e.message).toContain("sudo apt-get install -y libopenblas-dev");
  });

  itBuilt("an addon built for another machine or word size: wrong architecture", () => {
    const dir = mkdtempSync(path.join(scratch, "case-"));
    const arm = Buffer.from(readFileSync(built!));
    arm.writeUInt16LE(0xb7, 18); // e_machine = AArch64
    const elf32 = Buffer.from(readFileSync(built!));
    elf32[4] = 1; // EI_CLASS = ELFCLASS32
    for (const [name, bytes] of [["arm.node", arm], ["elf32.node", elf32]] as const) {
      const file = path.join(dir, name);
      writeFileSync(file, bytes);
      const e = thrown(() => loadFrom([file]));
      expect(e.message, e.message).toContain("another CPU architecture");
      expect(e.message).toContain("npm rebuild blasnet");
    }
  });

  it("names the first entry where a kind table differs from the registry's", () => {
    const ts = nativeKindTable();
    const copy = (): ReturnType<typeof nativeKindTable> => structuredClone(ts);
    expect(kindTableDifference(copy(), ts)).toBeUndefined();
    const changed = copy();
    changed.activations["relu"] = 5;
    expect(kindTableDifference(changed, ts)).toBe("kinds().activations.relu is 5 in the addon but 2 in TypeScript");
    const missing = copy();
    delete (missing.losses as Record<string, number>)["bce"];
    expect(kindTableDifference(missing, ts)).toBe("kinds().losses.bce is missing in the addon but 5 in TypeScript");
    const reordered = copy();
    reordered.optimizers["sgd"]!.hyper.reverse();
    expect(kindTableDifference(reordered, ts)).toMatch(/^kinds\(\)\.optimizers\.sgd\.hyper is \["weightDecay",.* in the addon but \["momentum",/);
    const extra = copy();
    extra.layers["conv3d"] = 11;
    expect(kindTableDifference(extra, ts)).toBe("kinds().layers.conv3d is 11 in the addon but missing in TypeScript");
  });

  itBuilt("refuses an addon whose kind table differs from the registry, naming the entry and the fix (rebuild)", () => {
    // A module wrapping the built addon with one code changed.
    const dir = mkdtempSync(path.join(scratch, "case-"));
    const file = path.join(dir, "doctored.js");
    writeFileSync(
      file,
      `const real = require(${JSON.stringify(built)});\n` +
        `module.exports = { ...real, kinds() { const t = real.kinds(); t.activations.tanh = 9; return t; } };\n`,
    );
    const e = thrown(() => loadFrom([file]));
    expect(e.message).toContain("kinds().activations.tanh is 9 in the addon but 3 in TypeScript");
    expect(e.message).toContain("rebuild it");
    expect(e.message).toContain("npm run build:native");
    // The same wrapper without the change loads.
    writeFileSync(path.join(dir, "faithful.js"), `module.exports = require(${JSON.stringify(built)});\n`);
    expect(typeof loadFrom([path.join(dir, "faithful.js")]).kinds).toBe("function");
  });

  it("classifies dlopen's messages", () => {
    const err = (m: string): Error => new Error(m);
    expect(classifyLoadError(undefined)).toBe("not-built");
    expect(classifyLoadError(err("libopenblas.so.0: cannot open shared object file: No such file or directory"))).toBe(
      "openblas-missing",
    );
    expect(classifyLoadError(err("/x/blasnet.node: wrong ELF class: ELFCLASS32"))).toBe("wrong-architecture");
    expect(
      classifyLoadError(err("The module '/x/blasnet.node' was compiled against a different Node.js version using NODE_MODULE_VERSION 108.")),
    ).toBe("abi-mismatch");
    const msg = explainLoadFailure([
      { path: "/a/build/Release/blasnet.node", error: err("libopenblas.so.0: cannot open shared object file: No such file or directory") },
      { path: "/a/build/Debug/blasnet.node" },
    ]);
    expect(msg).toContain("OpenBLAS shared library");
    expect(msg).toContain("libopenblas.so.0: cannot open shared object file");
    expect(msg).toContain("sudo apt-get install -y libopenblas-dev");
  });
});
