/**
 * Typed arrays over a SharedArrayBuffer, for the memory a model trains in (parameters, gradients,
 * optimizer state, dropout RNG state).
 *
 * The native backend trains in that memory on a worker thread while JavaScript keeps running. A
 * SharedArrayBuffer cannot be detached, transferred or shrunk, and it lives as long as anything
 * refers to it, so the worker can use it in place. Over a plain ArrayBuffer, which any code can
 * transfer away (and which is freed once the buffer it went to is collected), the native plan has
 * to work in a copy of its own and copy it in and back around every run.
 *
 * What changes for users: `structuredClone(model.params)` and `postMessage(model.params)` share
 * the memory instead of copying it; copy with `model.params.slice()`.
 */

/** A zero-filled Float32Array of `length` values over a SharedArrayBuffer. */
export function sharedFloat32(length: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(length * Float32Array.BYTES_PER_ELEMENT));
}

/** A Uint32Array over a SharedArrayBuffer holding `values`. */
export function sharedUint32(values: ArrayLike<number>): Uint32Array {
  const a = new Uint32Array(new SharedArrayBuffer(values.length * Uint32Array.BYTES_PER_ELEMENT));
  a.set(values);
  return a;
}
