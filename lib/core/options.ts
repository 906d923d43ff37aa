/**
 * Checking options objects: every public function that takes `{ ... }` options rejects keys it does
 * not know (a typo, or another library's spelling such as `learningRate` or `batch_size`) instead of
 * silently using its defaults.
 */
import { describe } from "./matrix.js";

/**
 * Throw a TypeError naming any key of `options` not in `known` (a typo such as batch_size). Keys in
 * `internal` (test hooks) are accepted too but not listed in the message.
 */
export function checkOptionKeys(options: object, known: readonly string[], what: string, internal: readonly string[] = []): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key) && !internal.includes(key)) {
      throw new TypeError(`Unknown ${what} option ${JSON.stringify(key)}; expected one of ${known.join(", ")}`);
    }
  }
}

/**
 * Check that `options` is an options object (not null, an array or a primitive), then its keys as
 * checkOptionKeys does.
 */
export function checkOptions(options: unknown, known: readonly string[], what: string, internal: readonly string[] = []): void {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new TypeError(`Invalid options for ${what}: expected an object { ${known.join(", ")} } but received ${describe(options)}`);
  }
  checkOptionKeys(options, known, what, internal);
}
