/**
 * Keeping the event loop alive while training runs on the main thread.
 *
 * The rule: work runs in chunks; after a chunk, if at least SLICE_MS have passed since the last
 * yield, yield (setImmediate, so timers and I/O callbacks run). A chunk's size is adapted to take
 * about SLICE_MS, never more than doubling at once, so no block of the event loop lasts longer than
 * about one slice plus one batch (with a batch slower than a slice, every batch yields).
 *
 * Why not yield after every step: measured on this machine for the lecture network (1 -> 3 sigmoid
 * -> 1, batch 10, SGD, TypeScript kernels), a training step costs about 1.5 us but a setImmediate
 * round trip about 5-10 us, so yielding every step would cut throughput several fold. One yield per
 * 4 ms slice costs well under 1%.
 */
export const SLICE_MS = 4;

export interface Slicer {
  /** performance.now() of the last yield. */
  last: number;
}

export function makeSlicer(): Slicer {
  return { last: performance.now() };
}

export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Yield if a slice has passed since the last yield. */
export async function yieldIfDue(s: Slicer): Promise<void> {
  if (performance.now() - s.last >= SLICE_MS) {
    await yieldToEventLoop();
    s.last = performance.now();
  }
}
