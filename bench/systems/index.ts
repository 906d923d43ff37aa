/** The benchmark's competitors, one entry each, loaded lazily so one missing system cannot break the others. */
import type { SystemEntry } from "./types.js";

const LOADERS = {
  "blasnet-fused": async () => (await import("./blasnet.js")).blasnetFused,
  "blasnet-kernels": async () => (await import("./blasnet.js")).blasnetKernels,
  "blasnet-ts": async () => (await import("./blasnet.js")).blasnetTs,
  "tfjs-cpu": async () => (await import("./tfjs.js")).tfjsCpu,
  "tfjs-wasm": async () => (await import("./tfjs.js")).tfjsWasm,
  "brain.js": async () => (await import("./brain.js")).brainJs,
} satisfies Record<string, () => Promise<SystemEntry>>;

export type SystemId = keyof typeof LOADERS;
export const SYSTEM_IDS = Object.keys(LOADERS) as SystemId[];

/** blasnet's own entries; the others are competitors (skipped by --no-competitors). */
export const BLASNET_IDS: readonly SystemId[] = ["blasnet-fused", "blasnet-kernels", "blasnet-ts"];

/** The entries that honour the thread count (re-measured by the 1-thread pass); the others are single-threaded JavaScript or WASM. */
export const THREADED_IDS: readonly SystemId[] = ["blasnet-fused", "blasnet-kernels"];

export async function loadSystem(id: string): Promise<SystemEntry> {
  if (!Object.hasOwn(LOADERS, id)) throw new Error(`Unknown system ${JSON.stringify(id)}; expected one of ${SYSTEM_IDS.join(", ")}`);
  return LOADERS[id as SystemId]();
}
