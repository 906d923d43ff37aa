/**
 * The native convolution, pooling and normalization entry points at the addon's boundary: every
 * argument of every function is replaced, one at a time, by bad values of its kind (wrong typed
 * array, short buffer, bad dimension, bad geometry field, inconsistent output size, overflowing
 * products), and each call must throw a TypeError or RangeError naming the function and the argument,
 * before touching memory; then detached buffers, a getter that detaches a buffer while the geometry
 * is read, overlapping outputs, out-of-range argmax values, and a last check that the process still
 * computes correctly. The generated cases are run by test/native-boundary-cases.ts, as for the
 * per-kernel entry points.
 */
import { describe, expect, it } from "vitest";
import { loadAddon } from "../lib/backend/native/loader.js";
import type { Window2d } from "../lib/ops/window.js";
import { nativeOrSkip, thrown } from "./helpers.js";
import { rejectsHostileArguments, type ArgSpec, type BadCase, type Fn, type FnSpec } from "./native-boundary-cases.js";

const native = nativeOrSkip();
const describeNative = native ? describe : describe.skip;

const f32 = (n: number, fill = 0.5): Float32Array => new Float32Array(n).fill(fill);

/** 2 channels of 4x4, a 3x3 kernel with padding 1: out 4x4. With rows = 2: 64 inputs, 64 outputs, 576 cols. */
const G: Window2d = { channels: 2, height: 4, width: 4, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padTop: 1, padLeft: 1, dilationH: 1, dilationW: 1, outH: 4, outW: 4 };
const g = (): Window2d => ({ ...G });

const type = (label: string, value: unknown): BadCase => ({ label, value, error: TypeError });
const range = (label: string, value: unknown): BadCase => ({ label, value, error: RangeError });

/** Bad geometries for the argument `g`: wrong types, bad fields, output sizes G's input cannot give. */
const BAD_WINDOWS: BadCase[] = [
  type("undefined", undefined),
  type("null", null),
  type("a number", 3),
  type("an array", [2, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1, 4, 4]),
  type("a Float64Array", new Float64Array(13)),
  type("kernelH missing", { ...G, kernelH: undefined }),
  type("strideW a string", { ...G, strideW: "1" }),
  range("channels 0", { ...G, channels: 0 }),
  range("kernelW 0", { ...G, kernelW: 0 }),
  range("strideH fractional", { ...G, strideH: 1.5 }),
  range("padTop negative", { ...G, padTop: -1 }),
  range("dilationW NaN", { ...G, dilationW: NaN }),
  range("height 2^31", { ...G, height: 2 ** 31 }),
  range("outH beyond the largest end padding", { ...G, outH: 6 }),
  range("outW below no end padding", { ...G, outW: 2 }),
  range("outH 0", { ...G, outH: 0 }),
  range("outH of stride 1 with stride 2", { ...G, strideH: 2 }),
  range("a window reaching past 2^31", { ...G, dilationH: 2 ** 30, padTop: 2 ** 30, outH: 4 }),
];
const geometry: ArgSpec = { name: "g", kind: "cases", bad: BAD_WINDOWS };

const SPECS: FnSpec[] = [
  {
    fn: "im2col",
    args: [
      { name: "cols", kind: "f32", need: 576 },
      { name: "x", kind: "f32", need: 64 },
      { name: "rows", kind: "dim" },
      geometry,
    ],
    valid: () => [f32(576), f32(64), 2, g()],
  },
  {
    fn: "col2im",
    args: [
      { name: "dx", kind: "f32", need: 64 },
      { name: "cols", kind: "f32", need: 576 },
      { name: "rows", kind: "dim" },
      geometry,
    ],
    valid: () => [f32(64), f32(576), 2, g()],
  },
  {
    fn: "swapAxes01",
    args: [
      { name: "out", kind: "f32", need: 24 },
      { name: "x", kind: "f32", need: 24 },
      { name: "a", kind: "dim" },
      { name: "b", kind: "dim" },
      { name: "c", kind: "dim" },
    ],
    valid: () => [f32(24), f32(24), 2, 3, 4],
    products: [["a", "b"]],
  },
  {
    fn: "channelBiasAdd",
    args: [
      { name: "y", kind: "f32", need: 24 },
      { name: "bias", kind: "f32", need: 3 },
      { name: "rows", kind: "dim" },
      { name: "channels", kind: "dim" },
      { name: "spatial", kind: "dim" },
    ],
    valid: () => [f32(24), f32(3), 2, 3, 4],
    products: [["rows", "channels"]],
  },
  {
    fn: "channelBiasGrad",
    args: [
      { name: "db", kind: "f32", need: 3 },
      { name: "dy", kind: "f32", need: 24 },
      { name: "rows", kind: "dim" },
      { name: "channels", kind: "dim" },
      { name: "spatial", kind: "dim" },
    ],
    valid: () => [f32(3), f32(24), 2, 3, 4],
    products: [["rows", "channels"]],
  },
  {
    fn: "add",
    args: [
      { name: "out", kind: "f32", need: 6 },
      { name: "a", kind: "f32", need: 6 },
      { name: "b", kind: "f32", need: 6 },
      { name: "n", kind: "dim" },
    ],
    valid: () => [f32(6), f32(6), f32(6), 6],
  },
  {
    fn: "maxPool2dForward",
    args: [
      { name: "y", kind: "f32", need: 64 },
      { name: "argmax", kind: "i32", need: 64 },
      { name: "x", kind: "f32", need: 64 },
      { name: "rows", kind: "dim" },
      geometry,
    ],
    valid: () => [f32(64), new Int32Array(64), f32(64), 2, g()],
  },
  {
    fn: "maxPool2dBackward",
    args: [
      { name: "dx", kind: "f32", need: 64 },
      { name: "dy", kind: "f32", need: 64 },
      { name: "argmax", kind: "i32", need: 64 },
      { name: "rows", kind: "dim" },
      geometry,
    ],
    valid: () => [f32(64), f32(64), new Int32Array(64).fill(3), 2, g()],
  },
  {
    fn: "avgPool2dForward",
    args: [
      { name: "y", kind: "f32", need: 64 },
      { name: "x", kind: "f32", need: 64 },
      { name: "rows", kind: "dim" },
      geometry,
    ],
    valid: () => [f32(64), f32(64), 2, g()],
  },
  {
    fn: "avgPool2dBackward",
    args: [
      { name: "dx", kind: "f32", need: 64 },
      { name: "dy", kind: "f32", need: 64 },
      { name: "rows", kind: "dim" },
      geometry,
    ],
    valid: () => [f32(64), f32(64), 2, g()],
  },
  {
    fn: "batchNormStats",
    args: [
      { name: "mean", kind: "f32", need: 3 },
      { name: "variance", kind: "f32", need: 3 },
      { name: "x", kind: "f32", need: 24 },
      { name: "rows", kind: "dim" },
      { name: "channels", kind: "dim" },
      { name: "spatial", kind: "dim" },
    ],
    valid: () => [f32(3), f32(3), f32(24), 2, 3, 4],
    products: [["rows", "channels"]],
  },
  {
    fn: "batchNormForward",
    args: [
      { name: "y", kind: "f32", need: 24 },
      { name: "x", kind: "f32", need: 24 },
      { name: "mean", kind: "f32", need: 3 },
      { name: "variance", kind: "f32", need: 3 },
      { name: "gamma", kind: "f32", need: 3 },
      { name: "beta", kind: "f32", need: 3 },
      { name: "rows", kind: "dim" },
      { name: "channels", kind: "dim" },
      { name: "spatial", kind: "dim" },
      { name: "eps", kind: "eps" },
    ],
    valid: () => [f32(24), f32(24), f32(3), f32(3), f32(3), f32(3), 2, 3, 4, 1e-5],
    products: [["rows", "channels"]],
  },
  {
    fn: "batchNormBackward",
    args: [
      { name: "dx", kind: "f32|null", need: 24 },
      { name: "dgamma", kind: "f32", need: 3 },
      { name: "dbeta", kind: "f32", need: 3 },
      { name: "dy", kind: "f32", need: 24 },
      { name: "x", kind: "f32", need: 24 },
      { name: "mean", kind: "f32", need: 3 },
      { name: "variance", kind: "f32", need: 3 },
      { name: "gamma", kind: "f32", need: 3 },
      { name: "rows", kind: "dim" },
      { name: "channels", kind: "dim" },
      { name: "spatial", kind: "dim" },
      { name: "eps", kind: "eps" },
      { name: "batchStats", kind: "bool" },
    ],
    valid: () => [f32(24), f32(3), f32(3), f32(24), f32(24), f32(3), f32(3), f32(3), 2, 3, 4, 1e-5, true],
    products: [["rows", "channels"]],
  },
  {
    fn: "layerNormForward",
    args: [
      { name: "y", kind: "f32", need: 24 },
      { name: "mean", kind: "f32", need: 4 },
      { name: "invStd", kind: "f32", need: 4 },
      { name: "x", kind: "f32", need: 24 },
      { name: "gamma", kind: "f32", need: 6 },
      { name: "beta", kind: "f32", need: 6 },
      { name: "groups", kind: "dim" },
      { name: "size", kind: "dim" },
      { name: "eps", kind: "eps" },
    ],
    valid: () => [f32(24), f32(4), f32(4), f32(24), f32(6), f32(6), 4, 6, 1e-5],
    products: [["groups", "size"]],
  },
  {
    fn: "layerNormBackward",
    args: [
      { name: "dx", kind: "f32|null", need: 24 },
      { name: "dgamma", kind: "f32", need: 6 },
      { name: "dbeta", kind: "f32", need: 6 },
      { name: "dy", kind: "f32", need: 24 },
      { name: "x", kind: "f32", need: 24 },
      { name: "mean", kind: "f32", need: 4 },
      { name: "invStd", kind: "f32", need: 4 },
      { name: "gamma", kind: "f32", need: 6 },
      { name: "groups", kind: "dim" },
      { name: "size", kind: "dim" },
    ],
    valid: () => [f32(24), f32(6), f32(6), f32(24), f32(24), f32(4), f32(4), f32(6), 4, 6],
    products: [["groups", "size"]],
  },
];

describeNative("native convolution, pooling and normalization kernels reject bad arguments", () => {
  const addon = (native ? loadAddon() : undefined) as unknown as Record<string, Fn>;

  rejectsHostileArguments(SPECS, () => addon);

  it("names the field and the expected output sizes when outH / outW disagree with the geometry", () => {
    // Height 4, kernel 3, padding 1 before: end padding 0, 1 or 2 gives 3, 4 or 5 rows.
    const e = thrown(() => addon["im2col"]!(f32(576), f32(64), 2, { ...G, outH: 6 }));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toBe("Argument 'g' of im2col has outH = 6 but height 4, kernel 3, stride 1, padding 1 and dilation 1 give 3..5 (for end padding 0..2)");
    expect(() => addon["im2col"]!(f32(720), f32(64), 2, { ...G, outH: 5 })).not.toThrow();
  });

  it("reads and checks both axes by one rule, each message naming its own axis's fields", () => {
    const w = thrown(() => addon["im2col"]!(f32(576), f32(64), 2, { ...G, width: 5, outW: 7 }));
    expect(w).toBeInstanceOf(RangeError);
    expect(w.message).toBe("Argument 'g' of im2col has outW = 7 but width 5, kernel 3, stride 1, padding 1 and dilation 1 give 4..6 (for end padding 0..2)");
    for (const [axis, fields, names] of [
      ["H", { strideH: 2 ** 30, outH: 3 }, "(outH-1)*strideH + dilationH*(kernelH-1)"],
      ["W", { strideW: 2 ** 30, outW: 3 }, "(outW-1)*strideW + dilationW*(kernelW-1)"],
    ] as const) {
      const e = thrown(() => addon["im2col"]!(f32(1), f32(64), 2, { ...G, ...fields }));
      expect(e, axis).toBeInstanceOf(RangeError);
      expect(e.message, axis).toBe(`Argument 'g' of im2col reaches too far: ${names} = 2147483650 exceeds 2147483647`);
    }
    const pad = thrown(() => addon["im2col"]!(f32(576), f32(64), 2, { ...G, padLeft: -1 }));
    expect(pad.message).toBe("Argument 'g' of im2col has padLeft = -1; expected an integer in [0, 2147483647]");
  });

  it("rejects element counts beyond 2^31-1 for windowed kernels (rows*C*H*W, the cols matrix)", () => {
    const big: Window2d = { ...G, channels: 1024, height: 1024, width: 1024, outH: 1024, outW: 1024 };
    const e = thrown(() => addon["avgPool2dForward"]!(f32(1), f32(1), 4, big));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toContain("exceeds the limit of 2147483647");
    const e2 = thrown(() => addon["im2col"]!(f32(1), f32(1), 1, { ...G, channels: 256, height: 512, width: 512, outH: 512, outW: 512 }));
    expect(e2).toBeInstanceOf(RangeError);
    expect(e2.message).toContain("C*kH*kW*rows*outH*outW");
  });

  it("rejects argmax values outside [-1, H*W) before writing dx", () => {
    for (const bad of [16, -2, 2147483647, -2147483648]) {
      const argmax = new Int32Array(64).fill(3);
      argmax[37] = bad;
      const dx = f32(64, 9);
      const e = thrown(() => addon["maxPool2dBackward"]!(dx, f32(64), argmax, 2, g()));
      expect(e).toBeInstanceOf(RangeError);
      expect(e.message).toContain(`'argmax' of maxPool2dBackward has ${bad} at [37]`);
      expect(dx.every((v) => v === 9)).toBe(true);
    }
  });

  it("rejects outputs that share memory with inputs where the kernel needs them apart", () => {
    const buf = new Float32Array(1024);
    const cases: [string, () => unknown, string][] = [
      ["im2col", () => addon["im2col"]!(buf.subarray(0, 576), buf.subarray(500, 564), 2, g()), "'cols'"],
      ["col2im", () => addon["col2im"]!(buf.subarray(0, 64), buf.subarray(32, 608), 2, g()), "'dx'"],
      ["swapAxes01", () => addon["swapAxes01"]!(buf.subarray(1, 25), buf.subarray(0, 24), 2, 3, 4), "'out'"],
    ];
    for (const [fn, call, name] of cases) {
      const e = thrown(call);
      expect(e, fn).toBeInstanceOf(RangeError);
      expect(e.message).toContain(name);
      expect(e.message).toContain("shares memory");
    }
    // dx and argmax over one buffer: rejected (zeroing dx would rewrite the indices).
    const shared = new ArrayBuffer(64 * 4);
    const e = thrown(() => addon["maxPool2dBackward"]!(new Float32Array(shared), f32(64), new Int32Array(shared), 2, g()));
    expect(e.message).toContain("'dx' of maxPool2dBackward shares memory with argument 'argmax'");
    // In place where the contract allows it: batch norm's y = x, add's out = a.
    const x = f32(24, 2);
    expect(() => addon["batchNormForward"]!(x, x, f32(3), f32(3, 1), f32(3, 1), f32(3, 0), 2, 3, 4, 0)).not.toThrow();
    expect(x[0]).toBeCloseTo(1.5, 6);
  });

  it("reads the geometry before the buffers: a getter that detaches x gives a RangeError, not a read of freed memory", () => {
    for (const fn of ["im2col", "avgPool2dForward", "maxPool2dForward"] as const) {
      const buffer = new ArrayBuffer(64 * 4);
      const x = new Float32Array(buffer);
      const geometry = { ...G };
      Object.defineProperty(geometry, "outW", {
        get() {
          structuredClone(buffer, { transfer: [buffer] });
          return 4;
        },
      });
      const args = fn === "im2col" ? [f32(576), x, 2, geometry] : fn === "avgPool2dForward" ? [f32(64), x, 2, geometry] : [f32(64), new Int32Array(64), x, 2, geometry];
      const e = thrown(() => addon[fn]!(...args));
      expect(e, fn).toBeInstanceOf(RangeError);
      expect(e.message).toContain(`'x' of ${fn} has 0 values`);
    }
  });

  it("a getter that throws: its error reaches the caller", () => {
    const geometry = { ...G };
    Object.defineProperty(geometry, "kernelH", {
      get() {
        throw new Error("no kernel today");
      },
    });
    expect(() => addon["im2col"]!(f32(576), f32(64), 2, geometry)).toThrow("no kernel today");
  });

  it("still computes correctly after all the rejected calls (the process survived)", () => {
    const out = new Float32Array(3);
    addon["add"]!(out, Float32Array.of(1, 2, 3), Float32Array.of(4, 5, 6), 3);
    expect(Array.from(out)).toEqual([5, 7, 9]);
  });
});
