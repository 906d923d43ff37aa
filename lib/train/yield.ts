/**
 * Keeping the event loop alive while training runs on the main thread.
 *
 * The rule: work runs in chunks; after a chunk, if at least SLICE_MS have passed since the last
 * yield, yield (setImmediate, so timers and I/O callbacks run). A chunk's size is adapted to take
 * about SLICE_MS, never more than doubling at once, so no block of the event loop lasts longer than
 * about one slice plus one batch (with a batch slower than a slice, every batch yields).
 *
 * Why not yield after every step: a setImmediate round trip measured 2.5-5.5 us on this 2-core
 * machine (busy with other jobs at the time), while the T1 target for a TypeScript training step
 * (1 -> 3 sigmoid -> 1, batch 10, SGD) is 1.6 us: yielding every step would cost 2-4x in throughput.
 * Measured on T1 with the current PlanExecutor (~6 us per step under that load): one runStepsSync
 * per epoch 1.1-1.8 M samples/s, fit with this rule 1.1-1.5 M samples/s (the same within noise),
 * a yield after every step 0.2-1.5 M samples/s. One yield per 4 ms slice costs about 0.1%.
 */
export const SLICE_MS = 4;

export interface Slicer {
  /** performance.now() of the last yield. */
  last: number;
}

export function makeSlicer(): Slicer {
  return { last: performance.now() };
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Yield now (whatever the time since the last yield). */
export async function yieldNow(s: Slicer): Promise<void> {
  await yieldToEventLoop();
  s.last = performance.now();
}

/** Yield if a slice has passed since the last yield. */
export async function yieldIfDue(s: Slicer): Promise<void> {
  if (performance.now() - s.last >= SLICE_MS) {
    await yieldToEventLoop();
    s.last = performance.now();
  }
}
