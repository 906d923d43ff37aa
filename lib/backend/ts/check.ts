/**
 * Cheap argument checks for the TypeScript kernels.
 *
 * The kernels trust their callers for speed (the layers above validate user input), but they must
 * never read or write past the end of a buffer: a typed array read out of bounds yields `undefined`
 * (NaN in arithmetic) and a write is silently dropped, so a wrong size would give wrong numbers with
 * no error. Each kernel therefore checks its sizes and buffer lengths once per call: a few integer
 * comparisons, no allocation unless it throws.
 */

/** Throws unless `value` is an integer in [0, 2^32): a size such as rows, cols, m, n, k. */
export function checkSize(name: string, value: number): void {
  if (value >>> 0 !== value) {
    throw new RangeError(`Invalid ${name}: ${value}; expected a non-negative integer`);
  }
}

/** Throws unless a buffer of `length` values holds at least `needed` (the product of its shape). */
export function checkLength(name: string, length: number, needed: number): void {
  if (length < needed) {
    throw new RangeError(`Expected ${name} to hold at least ${needed} values but received ${length}`);
  }
}
