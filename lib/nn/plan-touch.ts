/**
 * Writing every memory page of a plan's workspaces once, a slice at a time, before its first real
 * step (PlanExecutor's warm-up). A Float32Array of a few MB is allocated lazily by the operating
 * system: each 4 KB page costs a page fault at its first write. For the Fashion-MNIST CNN
 * (examples/fashion-mnist-cnn.ts, batch 64) the activations, deltas, im2col columns and optimizer
 * state are ~70 MB, ~18,000 page faults: measured (process.resourceUsage().minorPageFault) in its
 * first training step and nowhere after, about 40 ms of a ~300 ms step. Writing them in the warm-up,
 * in slices of about a millisecond, moves that cost out of the first step's turn of the event loop.
 * A page is written with the value it holds, so nothing any step computes changes.
 */

/** The typed arrays the warm-up writes. */
export type Workspace = Float32Array | Int32Array | Uint8Array | Float64Array | Uint32Array;

/** Bytes of a memory page (Linux, macOS and Windows on x86-64; larger pages are covered too). */
const PAGE_BYTES = 4096;
/** Pages written between looks at the clock. */
const PAGES_PER_CHECK = 64;

/** Whether `v` is a typed array that owns its whole buffer (views into other buffers are left out). */
function isOwnWorkspace(v: unknown): v is Workspace {
  return (
    (v instanceof Float32Array || v instanceof Int32Array || v instanceof Uint8Array || v instanceof Float64Array || v instanceof Uint32Array) &&
    v.byteOffset === 0 &&
    v.byteLength === v.buffer.byteLength &&
    v.byteLength >= PAGE_BYTES
  );
}

/**
 * The workspaces among `values` and in the fields of the objects among them (one level: what a plan
 * step prepares, e.g. conv2d's { cols, gemmOut }), each once.
 */
export function workspacesOf(values: readonly unknown[]): Workspace[] {
  const found = new Set<Workspace>();
  for (const v of values) {
    if (isOwnWorkspace(v)) found.add(v);
    else if (v !== null && typeof v === "object" && !ArrayBuffer.isView(v)) for (const f of Object.values(v)) if (isOwnWorkspace(f)) found.add(f);
  }
  return [...found];
}

/** Writes each page of its arrays once, a slice at a time. */
export class PageToucher {
  private at = 0;
  private pos = 0;

  constructor(private readonly arrays: readonly Workspace[]) {}

  /** Pages of all its arrays (what a whole run writes). */
  get pages(): number {
    return this.arrays.reduce((n, a) => n + Math.ceil(a.byteLength / PAGE_BYTES), 0);
  }

  /** Write pages for up to `ms` milliseconds; returns whether pages are left. */
  slice(ms: number): boolean {
    const t0 = performance.now();
    while (this.at < this.arrays.length) {
      const a = this.arrays[this.at]!;
      const step = PAGE_BYTES / a.BYTES_PER_ELEMENT;
      const end = Math.min(a.length, this.pos + step * PAGES_PER_CHECK);
      for (let i = this.pos; i < end; i += step) a[i] = a[i]!;
      if (end >= a.length) {
        a[a.length - 1] = a[a.length - 1]!; // the last page, when the array does not start on a page
        this.at++;
        this.pos = 0;
      } else this.pos = end;
      if (performance.now() - t0 >= ms) break;
    }
    return this.at < this.arrays.length;
  }
}
