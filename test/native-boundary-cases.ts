/**
 * The hostile cases every native entry point must survive, for any table of entry points
 * (test/native-boundary.test.ts: the per-kernel functions; test/native-conv-boundary.test.ts: the
 * convolution, pooling and normalization ones). For each function of the table: its valid arguments
 * are accepted; a wrong argument count is a TypeError; every argument, one at a time, replaced by each
 * bad value of its kind (wrong type: TypeError; bad value or short buffer: RangeError) is rejected
 * with a message naming the function and the argument; each pair of dimensions whose product is an
 * element count overflows 2^31-1 with a RangeError; and each buffer argument, detached (its memory
 * given away, so it reads as empty), is a RangeError rather than a read of freed memory (an optional
 * one, a Float32Array or null, with a message saying it was detached rather than taken for null).
 */
import { describe, expect, it } from "vitest";
import { thrown } from "./helpers.js";

export type Fn = (...args: unknown[]) => unknown;
export type ErrorClass = typeof TypeError | typeof RangeError;

/** One bad value of an argument and the error it must raise. */
export interface BadCase {
  label: string;
  value: unknown;
  error: ErrorClass;
}

/**
 * Kinds of argument, each with its own bad values (badValues). `need`: values the valid shape
 * needs of a buffer; "range": a number whose `bad` values are RangeErrors; "cases": bad values
 * given in full (an object argument such as a window geometry).
 */
export type ArgSpec =
  | { name: string; kind: "f32" | "f32|null" | "i32" | "u32" | "f64"; need: number }
  | { name: string; kind: "bool" | "dim" | "finite" | "bound" | "eps" }
  | { name: string; kind: "code"; count: number }
  | { name: string; kind: "range"; bad: number[] }
  | { name: string; kind: "cases"; bad: BadCase[] };

/** An entry point: its arguments in order, a valid call's arguments (made fresh each time). */
export interface FnSpec {
  fn: string;
  args: ArgSpec[];
  valid: () => unknown[];
  /** Pairs of dimensions whose product is an element count (each pair set to 2^16 must overflow). */
  products?: [string, string][];
}

const type = (label: string, value: unknown): BadCase => ({ label, value, error: TypeError });
const range = (label: string, value: unknown): BadCase => ({ label, value, error: RangeError });

/** Bad values for one argument kind. */
export function badValues(spec: ArgSpec): BadCase[] {
  switch (spec.kind) {
    case "f32":
    case "f32|null": {
      const n = Math.max(spec.need, 1);
      const cases = [
        type("a string", "abc"),
        type("a plain array", Array.from({ length: n }, () => 1)),
        type("a Float64Array", new Float64Array(n)),
        type("an Int32Array", new Int32Array(n)),
        type("undefined", undefined),
        type("an object", { length: spec.need }),
      ];
      if (spec.kind === "f32") cases.push(type("null", null));
      if (spec.need > 0) cases.push(range("a short buffer", new Float32Array(spec.need - 1)));
      return cases;
    }
    case "f64":
      return [
        type("a Float32Array", new Float32Array(spec.need)),
        type("a plain array", [0.9, 0.999, 1e-8, 0]),
        type("undefined", undefined),
        range("a short array", new Float64Array(spec.need - 1)),
        range("a long array", new Float64Array(spec.need + 1)),
        range("NaN in it", new Float64Array(spec.need).fill(NaN)),
        range("Infinity in it", new Float64Array(spec.need).fill(Infinity)),
      ];
    case "i32":
    case "u32": {
      const n = Math.max(spec.need, 1);
      const cases = [
        type("a Float32Array", new Float32Array(n)),
        type("a plain array", Array.from({ length: n }, () => 0)),
        type("undefined", undefined),
        spec.kind === "i32" ? type("a Uint32Array", new Uint32Array(n)) : type("an Int32Array", new Int32Array(n)),
      ];
      if (spec.need > 0) {
        const Ctor = spec.kind === "i32" ? Int32Array : Uint32Array;
        cases.push(range("a short buffer", new Ctor(spec.need - 1)));
      }
      return cases;
    }
    case "bool":
      return [type("a number", 1), type("a string", "true"), type("undefined", undefined), type("null", null)];
    case "dim":
      return [
        type("a string", "2"),
        type("undefined", undefined),
        type("a bigint", 2n),
        range("negative", -1),
        range("fractional", 1.5),
        range("NaN", NaN),
        range("Infinity", Infinity),
        range("2^31", 2 ** 31),
        range("huge", 1e300),
      ];
    case "finite":
      return [range("NaN", NaN), range("Infinity", Infinity), range("-Infinity", -Infinity), range("beyond float32", 1e39), type("a string", "0.5"), type("undefined", undefined)];
    case "eps":
      return [range("negative", -1e-5), range("NaN", NaN), range("Infinity", Infinity), type("a string", "1e-5"), type("undefined", undefined)];
    case "bound":
      return [range("NaN", NaN), type("a string", "1"), type("undefined", undefined)];
    case "code":
      return [
        range("the count", spec.count),
        range("negative", -1),
        range("fractional", 1.5),
        range("NaN", NaN),
        range("large", 1e9),
        type("a name", "relu"),
        type("undefined", undefined),
      ];
    case "range":
      return [...spec.bad.map((v) => range(String(v), v)), type("a string", "1"), type("undefined", undefined)];
    case "cases":
      return spec.bad;
  }
}

/** A typed array like `v` whose buffer has been transferred away (it reads as 0 values). */
function detached(v: ArrayBufferView): ArrayBufferView {
  const Ctor = v.constructor as new (buffer: ArrayBuffer) => ArrayBufferView;
  const buffer = new ArrayBuffer(v.byteLength);
  const copy = new Ctor(buffer);
  structuredClone(buffer, { transfer: [buffer] });
  return copy;
}

/**
 * The hostile cases (see the file comment) for every function of `specs`, as one describe block per
 * function; `addon()` returns the loaded addon (called inside the tests, so a skipped suite never
 * loads it).
 */
export function rejectsHostileArguments(specs: readonly FnSpec[], addon: () => Record<string, Fn>): void {
  for (const spec of specs) {
    describe(spec.fn, () => {
      const call = (args: unknown[]): unknown => addon()[spec.fn]!(...args);

      it("accepts its valid arguments", () => {
        expect(() => call(spec.valid())).not.toThrow();
      });

      it("rejects a wrong argument count with a TypeError naming the function", () => {
        const args = spec.valid();
        for (const bad of [args.slice(0, -1), [...args, 0], []]) {
          const e = thrown(() => call(bad));
          expect(e).toBeInstanceOf(TypeError);
          expect(e.message).toContain(spec.fn);
        }
      });

      spec.args.forEach((arg, index) => {
        for (const bad of badValues(arg)) {
          it(`rejects ${bad.label} for '${arg.name}' with a ${bad.error.name}`, () => {
            const args = spec.valid();
            args[index] = bad.value;
            const e = thrown(() => call(args));
            expect(e, e.message).toBeInstanceOf(bad.error);
            expect(e.message).toContain(`'${arg.name}'`);
            expect(e.message).toContain(spec.fn);
          });
        }
        // A required buffer that the call needs values of, detached: empty, so too short.
        if ((arg.kind === "f32" || arg.kind === "i32" || arg.kind === "u32" || arg.kind === "f64") && arg.need > 0) {
          it(`rejects a detached buffer for '${arg.name}' with a RangeError`, () => {
            const args = spec.valid();
            args[index] = detached(args[index] as ArrayBufferView);
            expect((args[index] as Float32Array).length).toBe(0);
            const e = thrown(() => call(args));
            expect(e, e.message).toBeInstanceOf(RangeError);
            expect(e.message).toContain(`'${arg.name}'`);
            expect(e.message).toContain(spec.fn);
            expect(e.message).toContain("0 values");
          });
        }
        // An optional buffer (a Float32Array or null), detached: an error naming it, not taken for null.
        if (arg.kind === "f32|null") {
          it(`rejects a detached buffer for the optional '${arg.name}' instead of taking it for null`, () => {
            const args = spec.valid();
            args[index] = detached(args[index] as ArrayBufferView);
            const e = thrown(() => call(args));
            expect(e, e.message).toBeInstanceOf(RangeError);
            expect(e.message).toBe(`Argument '${arg.name}' of ${spec.fn} was detached (transferred); pass a live Float32Array or null`);
          });
        }
      });

      for (const [p, q] of spec.products ?? []) {
        it(`rejects ${p}*${q} beyond 2^31-1 elements`, () => {
          const args = spec.valid();
          args[spec.args.findIndex((a) => a.name === p)] = 2 ** 16;
          args[spec.args.findIndex((a) => a.name === q)] = 2 ** 16;
          const e = thrown(() => call(args));
          expect(e).toBeInstanceOf(RangeError);
          expect(e.message).toContain(`${p}*${q}`);
          expect(e.message).toContain("4294967296");
        });
      }
    });
  }
}
